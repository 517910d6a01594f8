/* SPDX-License-Identifier: GPL-3.0-or-later */
/* hepascope-cli render FILE -o OUT.png [--frame N]: a frame as the workbench displays it. */
#include "config.h"

#include "hepa-cli.h"

#include "hepa-image.h"

#include <glib/gi18n.h>

int
hepa_cli_render (int    argc,
                 char **argv)
{
  g_autofree char *output = NULL;
  int frame_index = 0;
  int status = 0;
  g_autoptr(GError) error = NULL;
  g_autoptr(HepaImage) image = NULL;
  g_autofree guint8 *rgb = NULL;
  const HepaFrame *frame;
  const GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, N_("PNG file to write"), N_("OUT.png") },
    { "frame", 0, 0, G_OPTION_ARG_INT, &frame_index, N_("Frame to render, from 0 (default 0)"),
      N_("N") },
    { NULL },
  };

  if (!hepa_cli_parse ("render", _("FILE"),
                       _("Write one frame of a DICOM, PNG or JPEG file as an RGB PNG, with the "
                         "default window and colour conversion used for display."),
                       entries, &argc, &argv, &status))
    return status;
  if (argc != 2)
    return hepa_cli_failf (NULL, _("render: give exactly one FILE (see --help)"));
  if (output == NULL)
    return hepa_cli_failf (argv[1], _("no output file (use -o OUT.png)"));
  if (frame_index < 0)
    return hepa_cli_failf (argv[1], _("frame %d does not exist"), frame_index);

  image = hepa_image_open (argv[1], &error);
  if (image == NULL)
    return hepa_cli_fail (NULL, error);
  if ((guint) frame_index >= hepa_image_get_n_frames (image))
    return hepa_cli_failf (argv[1], _("frame %d does not exist (frames 0 to %u)"), frame_index,
                           hepa_image_get_n_frames (image) - 1);
  frame = hepa_image_get_frame (image, frame_index, &error);
  if (frame == NULL)
    return hepa_cli_fail (NULL, error);
  rgb = g_try_malloc ((gsize) frame->width * frame->height * 3);
  if (rgb == NULL)
    return hepa_cli_failf (argv[1], _("out of memory"));
  hepa_frame_render_rgb (frame, 0, 0, rgb);
  if (!hepa_png_write_rgb (output, frame->width, frame->height, rgb, &error))
    return hepa_cli_fail (NULL, error);
  return 0;
}
