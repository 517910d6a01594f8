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

/* Terminal columns of @s: printf's %-16s counts bytes, so a German label (two bytes an umlaut) or
 * a Thai one (three bytes a letter, vowel and tone marks of no width) came out short. */
static int
display_width (const char *s)
{
  int cols = 0;

  for (const char *p = s; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (!g_unichar_iszerowidth (c))
        cols += g_unichar_iswide (c) ? 2 : 1;
    }
  return cols;
}

/* One "  label  value" line, the values aligned at @width columns. Takes @value. */
static void
print_row (int         width,
           const char *label,
           char       *value)
{
  printf ("  %s%*s %s\n", label, MAX (width - display_width (label), 0), "", value);
  g_free (value);
}

static void
print_file_text (const char *path,
                 HepaImage  *image)
{
  const HepaImageInfo *info = hepa_image_get_info (image);
  guint n_frames = hepa_image_get_n_frames (image);
  const char *labels[] = {
    _("Format:"), _("Size:"), _("Frames:"), _("Photometric:"), _("Transfer syntax:"),
    _("Modality:"), _("Manufacturer:"), _("Pixel spacing:"), _("Frame time:"), _("US regions:"),
  };
  int width = 16;

  for (guint i = 0; i < G_N_ELEMENTS (labels); i++)
    width = MAX (width, display_width (labels[i]));

  printf ("%s\n", path);
  print_row (width, _("Format:"), g_strdup (info->format));
  print_row (width, _("Size:"), g_strdup_printf ("%d x %d", hepa_image_get_width (image),
                                                 hepa_image_get_height (image)));
  print_row (width, _("Frames:"), g_strdup_printf ("%u", n_frames));
  print_row (width, _("Photometric:"), g_strdup (info->photometric));
  if (*info->transfer_syntax_uid != '\0')
    print_row (width, _("Transfer syntax:"), g_strdup_printf ("%s (%s)",
                                                              info->transfer_syntax_name,
                                                              info->transfer_syntax_uid));
  if (*info->modality != '\0')
    print_row (width, _("Modality:"), g_strdup (info->modality));
  if (*info->manufacturer != '\0')
    print_row (width, _("Manufacturer:"), g_strdup (info->manufacturer));
  if (info->pixel_spacing_mm[0] > 0)
    print_row (width, _("Pixel spacing:"), g_strdup_printf ("%.5g x %.5g mm",
                                                            info->pixel_spacing_mm[0],
                                                            info->pixel_spacing_mm[1]));
  else
    print_row (width, _("Pixel spacing:"), g_strdup (_("not calibrated")));
  if (info->frame_time_ms > 0)
    print_row (width, _("Frame time:"), g_strdup_printf ("%.4g ms", info->frame_time_ms));
  for (guint i = 0; i < info->n_regions; i++)
    {
      const HepaUsRegion *r = &info->regions[i];

      print_row (width, i == 0 ? _("US regions:") : "",
                 g_strdup_printf ("(%d,%d)-(%d,%d) format %d units %d/%d delta %.6g/%.6g",
                                  r->x0, r->y0, r->x1, r->y1, r->spatial_format, r->units_x,
                                  r->units_y, r->delta_x, r->delta_y));
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
