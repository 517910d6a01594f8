/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Pseudonymous ids for exports: HMAC-SHA256 under a per-installation secret key, so the same
 * patient maps to the same id across exports and no one without the key can reverse it. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Hex characters of a pseudonym (80 bits). */
#define HEPA_PSEUDONYM_LENGTH 20

typedef struct _HepaPseudonymizer HepaPseudonymizer;

/* The key file: `<config>/hepascope/pseudonym.key`, where <config> is g_get_user_config_dir ()
 * unless HEPASCOPE_CONFIG_DIR names the folder that holds the key instead. */
char              *hepa_pseudonym_dup_key_path (void);

/* Loads the key, creating it on first use (32 random bytes from the kernel, stored as hex with
 * mode 0600). @key_path NULL: hepa_pseudonym_dup_key_path (). A damaged key is an error, never
 * silently replaced, since that would change every pseudonym. */
HepaPseudonymizer *hepa_pseudonymizer_new      (const char        *key_path,
                                                GError           **error);
void               hepa_pseudonymizer_free     (HepaPseudonymizer *self);

/* (transfer full): the pseudonym of @value in namespace @kind ("patient", "study", "sop"...):
 * the first HEPA_PSEUDONYM_LENGTH hex digits of HMAC-SHA256 (key, kind || 0x00 || value). */
char              *hepa_pseudonymizer_hash     (HepaPseudonymizer *self,
                                                const char        *kind,
                                                const char        *value);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HepaPseudonymizer, hepa_pseudonymizer_free)

G_END_DECLS
