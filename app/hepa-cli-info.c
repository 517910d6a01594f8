/* SPDX-License-Identifier: GPL-3.0-or-later */
/* hepascope-cli info FILE... [--json]: what a file holds, one file after the other.
 * Identifying values (patient, accession, institution) are never printed. */
#include "config.h"

#include "hepa-cli.h"

#include "hepa-image.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <stdio.h>

static void
add_file_json (JsonBuilder  *builder,
               const char   *path,
               HepaImage    *image,
               const GError *error)
{
  const HepaImageInfo *info = image != NULL ? hepa_image_get_info (image) : NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "path");
  json_builder_add_string_value (builder, path);
  json_builder_set_member_name (builder, "ok");
  json_builder_add_boolean_value (builder, image != NULL);
  json_builder_set_member_name (builder, "error");
  if (error != NULL)
    json_builder_add_string_value (builder, error->message);
  else
    json_builder_add_null_value (builder);
  if (info == NULL)
    {
      json_builder_end_object (builder);
      return;
    }
  json_builder_set_member_name (builder, "format");
  json_builder_add_string_value (builder, info->format);
  json_builder_set_member_name (builder, "rows");
  json_builder_add_int_value (builder, hepa_image_get_height (image));
  json_builder_set_member_name (builder, "columns");
  json_builder_add_int_value (builder, hepa_image_get_width (image));
  json_builder_set_member_name (builder, "frames");
  json_builder_add_int_value (builder, hepa_image_get_n_frames (image));
  json_builder_set_member_name (builder, "photometric");
  json_builder_add_string_value (builder, info->photometric);
  json_builder_set_member_name (builder, "transfer_syntax");
  json_builder_add_string_value (builder, info->transfer_syntax_uid);
  json_builder_set_member_name (builder, "transfer_syntax_name");
  json_builder_add_string_value (builder, info->transfer_syntax_name);
  json_builder_set_member_name (builder, "modality");
  json_builder_add_string_value (builder, info->modality);
  json_builder_set_member_name (builder, "manufacturer");
  json_builder_add_string_value (builder, info->manufacturer);
  json_builder_set_member_name (builder, "pixel_spacing_mm");
  if (info->pixel_spacing_mm[0] > 0 && info->pixel_spacing_mm[1] > 0)
    {
      json_builder_begin_array (builder);
      json_builder_add_double_value (builder, info->pixel_spacing_mm[0]);
      json_builder_add_double_value (builder, info->pixel_spacing_mm[1]);
      json_builder_end_array (builder);
    }
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "frame_time_ms");
  if (info->frame_time_ms > 0)
    json_builder_add_double_value (builder, info->frame_time_ms);
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "us_regions");
  json_builder_add_int_value (builder, info->n_regions);
  json_builder_end_object (builder);
}

static void
print_file_text (const char *path,
                 HepaImage  *image)
{
  const HepaImageInfo *info = hepa_image_get_info (image);
  guint n_frames = hepa_image_get_n_frames (image);

  printf ("%s\n", path);
  printf ("  %-16s %s\n", _("Format:"), info->format);
  printf ("  %-16s %d x %d\n", _("Size:"), hepa_image_get_width (image),
          hepa_image_get_height (image));
  printf ("  %-16s %u\n", _("Frames:"), n_frames);
  printf ("  %-16s %s\n", _("Photometric:"), info->photometric);
  if (*info->transfer_syntax_uid != '\0')
    printf ("  %-16s %s (%s)\n", _("Transfer syntax:"), info->transfer_syntax_name,
            info->transfer_syntax_uid);
  if (*info->modality != '\0')
    printf ("  %-16s %s\n", _("Modality:"), info->modality);
  if (*info->manufacturer != '\0')
    printf ("  %-16s %s\n", _("Manufacturer:"), info->manufacturer);
  if (info->pixel_spacing_mm[0] > 0)
    printf ("  %-16s %.5g x %.5g mm\n", _("Pixel spacing:"), info->pixel_spacing_mm[0],
            info->pixel_spacing_mm[1]);
  else
    printf ("  %-16s %s\n", _("Pixel spacing:"), _("not calibrated"));
  if (info->frame_time_ms > 0)
    printf ("  %-16s %.4g ms\n", _("Frame time:"), info->frame_time_ms);
  for (guint i = 0; i < info->n_regions; i++)
    {
      const HepaUsRegion *r = &info->regions[i];

      printf ("  %-16s (%d,%d)-(%d,%d) format %d units %d/%d delta %.6g/%.6g\n",
              i == 0 ? _("US regions:") : "", r->x0, r->y0, r->x1, r->y1, r->spatial_format,
              r->units_x, r->units_y, r->delta_x, r->delta_y);
    }
}

int
hepa_cli_info (int    argc,
               char **argv)
{
  gboolean json = FALSE;
  g_autoptr(JsonBuilder) builder = NULL;
  int status = 0;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print one JSON array, one object per file"),
      NULL },
    { NULL },
  };

  if (!hepa_cli_parse ("info", _("FILE…"),
                       _("Describe DICOM, PNG and JPEG files: size, frames, colour model, "
                         "transfer syntax, calibration. Exits 1 when any file fails to open."),
                       entries, &argc, &argv, &status))
    return status;
  if (argc < 2)
    return hepa_cli_failf (NULL, _("info: no FILE given (see --help)"));

  if (json)
    {
      builder = json_builder_new ();
      json_builder_begin_array (builder);
    }
  for (int i = 1; i < argc; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(HepaImage) image = hepa_image_open (argv[i], &error);

      if (image == NULL)
        {
          /* The message names the file already. */
          hepa_cli_fail (NULL, error);
          status = 1;
        }
      if (json)
        add_file_json (builder, argv[i], image, error);
      else if (image != NULL)
        print_file_text (argv[i], image);
    }
  if (json)
    {
      g_autoptr(JsonGenerator) generator = json_generator_new ();
      g_autoptr(JsonNode) root = NULL;
      g_autofree char *text = NULL;

      json_builder_end_array (builder);
      root = json_builder_get_root (builder);
      json_generator_set_root (generator, root);
      json_generator_set_pretty (generator, TRUE);
      text = json_generator_to_data (generator, NULL);
      printf ("%s\n", text);
    }
  return status;
}
