/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The model library. */
#include "config.h"

#include "hepa-model-library.h"

#include "hepa-annotations-private.h"
#include "hepa-error.h"
#include "hepa-json.h"
#include "hepa-model.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

/* A safetensors header larger than this is not a model card's. */
#define MAX_HEADER (16 * 1024 * 1024)

void
hepa_model_entry_free (HepaModelEntry *entry)
{
  if (entry == NULL)
    return;
  g_free (entry->path);
  g_free (entry->file_name);
  g_free (entry->name);
  g_free (entry->created);
  g_free (entry->arch);
  g_strfreev (entry->classes);
  g_free (entry->data_name);
  g_free (entry->data_sha256);
  g_free (entry->problem);
  g_free (entry);
}

char *
hepa_model_library_dir (void)
{
  const char *env = g_getenv ("HEPASCOPE_MODEL_LIBRARY");

  if (env != NULL && *env != '\0')
    return g_strdup (env);
  return g_build_filename (g_get_user_data_dir (), "hepascope", "models", NULL);
}

static gboolean
is_model_name (const char *name)
{
  return name[0] != '.' && (g_str_has_suffix (name, ".safetensors")
                            || g_str_has_suffix (name, ".pth") || g_str_has_suffix (name, ".pt"));
}

/* The card's members this list shows. The card's typed form (hepa-model-card.h) is meant to
 * replace this one function. */
static void
entry_fill_from_card (HepaModelEntry *entry,
                      const char     *card_json)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  JsonObject *card, *o;
  JsonNode *node;

  if (card_json == NULL
      || (card = hepa_json_parse_object (parser, card_json, strlen (card_json), NULL)) == NULL)
    return;
  entry->has_card = TRUE;
  if (json_object_has_member (card, "name")
      && (node = json_object_get_member (card, "name")) != NULL
      && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    {
      g_free (entry->name);
      entry->name = g_strdup (json_node_get_string (node));
    }
  node = json_object_get_member (card, "arch");
  if (node != NULL && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    {
      g_free (entry->arch);
      entry->arch = g_strdup (json_node_get_string (node));
    }
  node = json_object_get_member (card, "input_size");
  if (node != NULL && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_INT64)
    entry->input_size = (int) CLAMP (json_node_get_int (node), 0, 65536);
  node = json_object_get_member (card, "classes");
  if (node != NULL && JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *a = json_node_get_array (node);
      g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

      for (guint i = 0; i < json_array_get_length (a) && i < 1024; i++)
        {
          JsonNode *c = json_array_get_element (a, i);

          if (JSON_NODE_HOLDS_VALUE (c) && json_node_get_value_type (c) == G_TYPE_STRING)
            g_strv_builder_add (builder, json_node_get_string (c));
        }
      g_strfreev (entry->classes);
      entry->classes = g_strv_builder_end (builder);
    }
  node = json_object_get_member (card, "created");
  if (node != NULL && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    {
      g_free (entry->created);
      entry->created = g_strdup (json_node_get_string (node));
    }
  node = json_object_get_member (card, "trained_on");
  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    {
      o = json_node_get_object (node);
      entry->data_name = g_strdup (json_object_get_string_member_with_default (o, "name", NULL));
      entry->data_sha256 = g_strdup (json_object_get_string_member_with_default (o, "sha256",
                                                                                 NULL));
      entry->data_images = (guint) CLAMP (json_object_get_int_member_with_default (o, "images",
                                                                                   0),
                                          0, G_MAXUINT);
    }
  node = json_object_get_member (card, "protocol");
  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    entry->folds = (int) CLAMP (json_object_get_int_member_with_default (json_node_get_object (node),
                                                                        "folds", 0), 0, 1000);
  node = json_object_get_member (card, "metrics");
  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonNode *cv = json_object_get_member (json_node_get_object (node), "cross_validation");

      if (cv != NULL && JSON_NODE_HOLDS_OBJECT (cv))
        {
          JsonObject *m = json_node_get_object (cv);
          JsonNode *acc = json_object_get_member (m, "accuracy");
          JsonNode *auc = json_object_get_member (m, "macro_auc");

          if (acc != NULL && JSON_NODE_HOLDS_OBJECT (acc))
            {
              entry->accuracy = json_object_get_double_member_with_default (
                json_node_get_object (acc), "mean", NAN);
              entry->accuracy_sd = json_object_get_double_member_with_default (
                json_node_get_object (acc), "sd", NAN);
            }
          if (auc != NULL && JSON_NODE_HOLDS_OBJECT (auc))
            entry->macro_auc = json_object_get_double_member_with_default (
              json_node_get_object (auc), "mean", NAN);
        }
    }
}

/* The "hepascope.card" metadata of a safetensors file, reading its header only. */
static char *
read_safetensors_card (const char  *path,
                       GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autofree char *header = NULL;
  guint8 prefix[8];
  guint64 n = 0;
  JsonObject *root;
  JsonNode *meta;
  ssize_t got;
  int fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);

  if (fd < 0)
    {
      int errsv = errno;

      g_set_error (error, HEPA_ERROR, hepa_error_from_errno (errsv), "%s", g_strerror (errsv));
      return NULL;
    }
  got = read (fd, prefix, 8);
  for (int i = 7; got == 8 && i >= 0; i--)
    n = (n << 8) | prefix[i];
  if (got != 8 || n < 2 || n > MAX_HEADER)
    {
      close (fd);
      hepa_format_error (error, _("not a safetensors file (its header length is not valid)"));
      return NULL;
    }
  header = g_malloc (n + 1);
  got = read (fd, header, n);
  close (fd);
  if (got < 0 || (guint64) got != n)
    {
      hepa_format_error (error, _("the file ends inside its header"));
      return NULL;
    }
  header[n] = '\0';
  root = hepa_json_parse_object (parser, header, n, error);
  if (root == NULL)
    return NULL;
  meta = json_object_get_member (root, "__metadata__");
  if (meta == NULL || !JSON_NODE_HOLDS_OBJECT (meta))
    return g_strdup ("");
  return g_strdup (json_object_get_string_member_with_default (json_node_get_object (meta),
                                                               "hepascope.card", ""));
}

HepaModelEntry *
hepa_model_library_read (const char *path)
{
  HepaModelEntry *entry = g_new0 (HepaModelEntry, 1);
  g_autoptr(GError) error = NULL;
  g_autofree char *card = NULL;
  GStatBuf st;

  g_return_val_if_fail (path != NULL, entry);

  entry->path = g_strdup (path);
  entry->file_name = g_path_get_basename (path);
  entry->name = g_strdup (entry->file_name);
  if (strrchr (entry->name, '.') != NULL)
    *strrchr (entry->name, '.') = '\0';
  entry->arch = g_strdup ("");
  entry->classes = g_new0 (char *, 1);
  entry->accuracy = entry->accuracy_sd = entry->macro_auc = NAN;
  if (g_stat (path, &st) == 0)
    {
      g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (st.st_mtime);

      entry->size = st.st_size;
      entry->created = dt != NULL ? g_date_time_format_iso8601 (dt) : g_strdup ("");
    }
  else
    entry->created = g_strdup ("");

  if (g_str_has_suffix (path, ".safetensors"))
    card = read_safetensors_card (path, &error);
  else
    {
      g_autoptr(HepaModel) model = hepa_model_load (path, &error);

      if (model != NULL)
        card = g_strdup (hepa_model_get_card (model)->has_card ? hepa_model_get_card (model)->json
                                                               : "");
    }
  if (card == NULL)
    {
      entry->problem = hepa_one_line (g_strdup (error->message));
      return entry;
    }
  if (*card != '\0')
    entry_fill_from_card (entry, card);
  return entry;
}

static int
compare_newest_first (gconstpointer a,
                      gconstpointer b)
{
  const HepaModelEntry *x = *(const HepaModelEntry *const *) a;
  const HepaModelEntry *y = *(const HepaModelEntry *const *) b;
  int c = g_strcmp0 (y->created, x->created);

  return c != 0 ? c : g_strcmp0 (x->file_name, y->file_name);
}

GPtrArray *
hepa_model_library_list (const char  *dir,
                         GError     **error)
{
  g_autofree char *library = dir != NULL ? g_strdup (dir) : hepa_model_library_dir ();
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func (
    (GDestroyNotify) hepa_model_entry_free);
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GDir) d = NULL;
  const char *name;

  if (!g_file_test (library, G_FILE_TEST_EXISTS))
    return g_steal_pointer (&entries);
  d = g_dir_open (library, 0, &local_error);
  if (d == NULL)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_IO, _("Could not list the models in %s: %s"),
                   library, local_error->message);
      return NULL;
    }
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (library, name, NULL);

      if (is_model_name (name) && g_file_test (path, G_FILE_TEST_IS_REGULAR))
        g_ptr_array_add (entries, hepa_model_library_read (path));
    }
  g_ptr_array_sort (entries, compare_newest_first);
  return g_steal_pointer (&entries);
}

char *
hepa_model_library_add (const char  *dir,
                        const char  *path,
                        gboolean     move,
                        GError     **error)
{
  g_autofree char *library = dir != NULL ? g_strdup (dir) : hepa_model_library_dir ();
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *stem = g_strdup (base);
  const char *ext = "";
  char *dot;

  g_return_val_if_fail (path != NULL, NULL);

  if (!is_model_name (base))
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                   _("%s: not a model file (.safetensors or .pth)"), path);
      return NULL;
    }
  dot = strrchr (stem, '.');
  ext = strrchr (base, '.');
  *dot = '\0';
  if (g_mkdir_with_parents (library, 0700) != 0)
    {
      int errsv = errno;

      g_set_error (error, HEPA_ERROR, hepa_error_from_errno (errsv),
                   _("Could not create the model library %s: %s"), library, g_strerror (errsv));
      return NULL;
    }
  for (int n = 1; n < 1000; n++)
    {
      g_autofree char *name = n == 1 ? g_strdup (base) : g_strdup_printf ("%s-%d%s", stem, n, ext);
      g_autofree char *target = g_build_filename (library, name, NULL);
      g_autoptr(GFile) from = NULL;
      g_autoptr(GFile) to = NULL;
      g_autoptr(GError) local_error = NULL;

      if (g_file_test (target, G_FILE_TEST_EXISTS))
        continue;
      if (move && g_rename (path, target) == 0)
        return g_steal_pointer (&target);
      from = g_file_new_for_path (path);
      to = g_file_new_for_path (target);
      if (!g_file_copy (from, to, G_FILE_COPY_NONE, NULL, NULL, NULL, &local_error))
        {
          if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_EXISTS))
            continue;
          g_file_delete (to, NULL, NULL);
          g_set_error (error, HEPA_ERROR, HEPA_ERROR_IO, _("Could not copy %s into %s: %s"),
                       path, library, local_error->message);
          return NULL;
        }
      if (move)
        g_unlink (path);
      return g_steal_pointer (&target);
    }
  g_set_error (error, HEPA_ERROR, HEPA_ERROR_IO, _("Could not copy %s into %s: %s"), path,
               library, _("too many models of that name"));
  return NULL;
}

char *
hepa_model_entry_describe (const HepaModelEntry *entry)
{
  GString *s = g_string_new (NULL);

  if (entry->problem != NULL)
    {
      /* Translators: %s says why a model file cannot be read */
      g_string_printf (s, _("unreadable: %s"), entry->problem);
      return g_string_free (s, FALSE);
    }
  g_string_append (s, *entry->arch != '\0' ? entry->arch : _("unknown architecture"));
  if (entry->input_size > 0)
    g_string_append_printf (s, " · %d px", entry->input_size);
  if (entry->data_images > 0)
    {
      /* Translators: the number of images a model was trained on */
      g_autofree char *images = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u image",
                                                              "%u images", entry->data_images),
                                                 entry->data_images);

      g_string_append_printf (s, " · %s", images);
    }
  if (!isnan (entry->accuracy))
    {
      if (!isnan (entry->accuracy_sd))
        /* Translators: cross-validated accuracy, mean ± standard deviation */
        g_string_append_printf (s, _(" · CV accuracy %.3f ± %.3f"), entry->accuracy,
                                entry->accuracy_sd);
      else
        g_string_append_printf (s, _(" · CV accuracy %.3f"), entry->accuracy);
    }
  else if (!entry->has_card)
    g_string_append (s, _(" · no model card"));
  return g_string_free (s, FALSE);
}

static void
add_number (JsonBuilder *b,
            const char  *name,
            double       value)
{
  json_builder_set_member_name (b, name);
  if (isnan (value))
    json_builder_add_null_value (b);
  else
    json_builder_add_double_value (b, value);
}

void
hepa_model_entry_add_json (const HepaModelEntry *entry,
                           JsonBuilder          *b)
{
  json_builder_set_member_name (b, "path");
  json_builder_add_string_value (b, entry->path);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, entry->name);
  json_builder_set_member_name (b, "created");
  json_builder_add_string_value (b, entry->created);
  json_builder_set_member_name (b, "arch");
  json_builder_add_string_value (b, entry->arch);
  json_builder_set_member_name (b, "input_size");
  json_builder_add_int_value (b, entry->input_size);
  json_builder_set_member_name (b, "classes");
  json_builder_begin_array (b);
  for (guint i = 0; entry->classes[i] != NULL; i++)
    json_builder_add_string_value (b, entry->classes[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "data");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  if (entry->data_name != NULL)
    json_builder_add_string_value (b, entry->data_name);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "images");
  json_builder_add_int_value (b, entry->data_images);
  json_builder_set_member_name (b, "sha256");
  if (entry->data_sha256 != NULL)
    json_builder_add_string_value (b, entry->data_sha256);
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "folds");
  json_builder_add_int_value (b, entry->folds);
  add_number (b, "cv_accuracy", entry->accuracy);
  add_number (b, "cv_accuracy_sd", entry->accuracy_sd);
  add_number (b, "cv_macro_auc", entry->macro_auc);
  json_builder_set_member_name (b, "has_card");
  json_builder_add_boolean_value (b, entry->has_card);
  json_builder_set_member_name (b, "size");
  json_builder_add_int_value (b, entry->size);
  if (entry->problem != NULL)
    {
      json_builder_set_member_name (b, "problem");
      json_builder_add_string_value (b, entry->problem);
    }
}
