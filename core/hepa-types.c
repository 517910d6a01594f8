/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-types.h"

gboolean
hepa_rect_clamp (HepaRect *rect,
                 int       width,
                 int       height)
{
  HepaRect r;
  int x1, y1;

  g_return_val_if_fail (rect != NULL, FALSE);

  r = *rect;
  x1 = r.x + MAX (r.width, 0);
  y1 = r.y + MAX (r.height, 0);
  r.x = CLAMP (r.x, 0, width);
  r.y = CLAMP (r.y, 0, height);
  x1 = CLAMP (x1, r.x, width);
  y1 = CLAMP (y1, r.y, height);
  r.width = x1 - r.x;
  r.height = y1 - r.y;

  if (r.x == rect->x && r.y == rect->y && r.width == rect->width && r.height == rect->height)
    return FALSE;
  *rect = r;
  return TRUE;
}
