/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The model library: trained and imported models kept in the user's data folder
 * (g_get_user_data_dir ()/hepascope/models), each with the card it carries. Listing reads only a
 * safetensors file's header (a resnet50 is 100 MB); a .pth is loaded to read its card. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct
{
  char    *path;
  char    *file_name;
  char    *name;          /* the card's name, else the file's base name */
  char    *created;       /* the card's "created", else the file's time, ISO 8601 */
  char    *arch;          /* "resnet50", "resnet18", or "" when unknown */
  int      input_size;    /* 0 when unknown */
  char   **classes;       /* NULL-terminated, may be empty */
  char    *data_name;     /* trained_on.name, or NULL */
  guint    data_images;   /* trained_on.images, or 0 */
  char    *data_sha256;   /* trained_on.sha256, or NULL */
  int      folds;         /* protocol.folds, or 0 */
  double   accuracy;      /* cross-validation (or test) accuracy mean, NaN when none */
  double   accuracy_sd;   /* NaN when none */
  double   macro_auc;     /* NaN when none */
  gboolean has_card;
  char    *problem;       /* one line when the file could not be read; then the rest is empty */
  gint64   size;          /* bytes */
} HepaModelEntry;

void             hepa_model_entry_free      (HepaModelEntry *entry);

/* g_get_user_data_dir ()/hepascope/models (transfer full); $HEPASCOPE_MODEL_LIBRARY overrides
 * it (tests, several libraries). Not created. */
char            *hepa_model_library_dir     (void);

/* The models in @dir (NULL: the library), newest first. A missing folder is an empty library; a
 * file that cannot be read is listed with its problem. Fails only when @dir cannot be listed. */
GPtrArray       *hepa_model_library_list    (const char   *dir,
                                             GError      **error);
/* Reads one model file's entry (never fails: problems are in entry->problem). */
HepaModelEntry  *hepa_model_library_read    (const char   *path);

/* Copies @path into @dir (NULL: the library, created as needed) under its own name, or with
 * "-2", "-3"... when taken; returns the new path. With @move, renames instead (a model just
 * trained in a private folder on the same file system). */
char            *hepa_model_library_add     (const char   *dir,
                                             const char   *path,
                                             gboolean      move,
                                             GError      **error);

/* "resnet18 · 64 px · 200 images · CV accuracy 0.91 ± 0.03" (transfer full). */
char            *hepa_model_entry_describe  (const HepaModelEntry *entry);
/* Adds the entry's members to the object open in @builder. */
void             hepa_model_entry_add_json  (const HepaModelEntry *entry,
                                             JsonBuilder          *builder);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaModelEntry, hepa_model_entry_free)

G_END_DECLS
