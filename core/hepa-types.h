/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A rectangle in image pixels: x, y of the top-left pixel, width and height in pixels. */
typedef struct
{
  int x;
  int y;
  int width;
  int height;
} HepaRect;

/* Clamps @rect to a width x height image. Returns TRUE when it had to change it. */
gboolean hepa_rect_clamp (HepaRect *rect,
                          int       width,
                          int       height);

G_END_DECLS
