/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A read-only view of a zip archive held in memory (an mmap'd file), as torch.save writes them:
 * stored (uncompressed) entries, ZIP64 where needed. Every offset and size is checked against the
 * buffer before use; nothing is copied. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _HepaZip HepaZip;

/* Parses the end of central directory and the central directory of @data (borrowed; must outlive
 * the HepaZip). @name (nullable) names the file in error messages. */
HepaZip     *hepa_zip_open          (const guint8 *data,
                                     gsize         size,
                                     const char   *name,
                                     GError      **error);
void         hepa_zip_free          (HepaZip      *self);
guint        hepa_zip_get_n_entries (HepaZip      *self);
/* The name of the i-th entry, in central directory order. */
const char  *hepa_zip_get_name      (HepaZip      *self,
                                     guint         index);
gboolean     hepa_zip_has_entry     (HepaZip      *self,
                                     const char   *entry);
/* Points *out_data at the bytes of the stored entry @entry (checking its local header and, when
 * @verify_crc, its CRC-32). Fails for missing, compressed or encrypted entries. */
gboolean     hepa_zip_get_entry     (HepaZip       *self,
                                     const char    *entry,
                                     gboolean       verify_crc,
                                     const guint8 **out_data,
                                     gsize         *out_size,
                                     GError       **error);
/* CRC-32 (IEEE 802.3, as zip and zlib use). */
guint32      hepa_zip_crc32         (const guint8 *data,
                                     gsize         size);
/* The same with lookup tables only (hepa_zip_crc32 uses carry-less multiplication where the
 * CPU has it); for tests. */
guint32      hepa_zip_crc32_portable (const guint8 *data,
                                      gsize         size);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaZip, hepa_zip_free)

G_END_DECLS
