/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "hepa-pseudonym.h"
#include "hepa-error.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_BYTES 32

struct _HepaPseudonymizer
{
  guint8 key[KEY_BYTES];
};

char *
hepa_pseudonym_dup_key_path (void)
{
  const char *dir = g_getenv ("HEPASCOPE_CONFIG_DIR");

  if (dir != NULL && *dir != '\0')
    return g_build_filename (dir, "pseudonym.key", NULL);
  return g_build_filename (g_get_user_config_dir (), "hepascope", "pseudonym.key", NULL);
}

static gboolean
parse_key (const char *text,
           gsize       length,
           guint8     *key)
{
  while (length > 0 && (text[length - 1] == '\n' || text[length - 1] == '\r'))
    length--;
  if (length != KEY_BYTES * 2)
    return FALSE;
  for (gsize i = 0; i < KEY_BYTES; i++)
    {
      int hi = g_ascii_xdigit_value (text[2 * i]);
      int lo = g_ascii_xdigit_value (text[2 * i + 1]);

      if (hi < 0 || lo < 0)
        return FALSE;
      key[i] = (guint8) (hi * 16 + lo);
    }
  return TRUE;
}

/* Reads an existing key. Returns FALSE with errno ENOENT (and no error) when there is none. */
static gboolean
read_key (const char  *path,
          guint8      *key,
          GError     **error)
{
  char text[256];
  struct stat st;
  ssize_t n;
  int fd;

  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    {
      int errsv = errno;

      if (errsv != ENOENT)
        g_set_error (error, HEPA_ERROR, hepa_error_from_errno (errsv),
                     _("Could not read the pseudonym key %s: %s"), path, g_strerror (errsv));
      errno = errsv;
      return FALSE;
    }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode) || st.st_size > (off_t) sizeof text - 1)
    {
      close (fd);
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                   _("The pseudonym key %s is not a key file; it was left unchanged"), path);
      return FALSE;
    }
  /* The key must stay private to its owner, whatever umask created it. */
  if ((st.st_mode & 077) != 0)
    fchmod (fd, 0600);
  n = read (fd, text, sizeof text - 1);
  close (fd);
  if (n < 0 || !parse_key (text, (gsize) n, key))
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                   _("The pseudonym key %s is damaged; it was left unchanged (replacing it "
                     "would change every pseudonym)"), path);
      return FALSE;
    }
  return TRUE;
}

static gboolean
create_key (const char  *path,
            guint8      *key,
            GError     **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *tmp = NULL;
  char text[KEY_BYTES * 2 + 2];
  gsize filled = 0;
  int fd;
  int errsv;

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      errsv = errno;
      g_set_error (error, HEPA_ERROR, hepa_error_from_errno (errsv),
                   _("Could not create the folder %s for the pseudonym key: %s"), dir,
                   g_strerror (errsv));
      return FALSE;
    }

  /* getrandom () blocks only until the kernel's pool is first initialized. */
  while (filled < KEY_BYTES)
    {
      ssize_t n = getrandom (key + filled, KEY_BYTES - filled, 0);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          errsv = errno;
          g_set_error (error, HEPA_ERROR, HEPA_ERROR_IO,
                       _("Could not get random bytes for the pseudonym key: %s"),
                       g_strerror (errsv));
          return FALSE;
        }
      filled += (gsize) n;
    }
  for (gsize i = 0; i < KEY_BYTES; i++)
    g_snprintf (text + 2 * i, 3, "%02x", key[i]);
  text[KEY_BYTES * 2] = '\n';
  text[KEY_BYTES * 2 + 1] = '\0';

  tmp = g_strdup_printf ("%s.XXXXXX", path);
  fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      errsv = errno;
      g_set_error (error, HEPA_ERROR, hepa_error_from_errno (errsv),
                   _("Could not create the pseudonym key %s: %s"), path, g_strerror (errsv));
      return FALSE;
    }
  if (write (fd, text, KEY_BYTES * 2 + 1) != KEY_BYTES * 2 + 1 || fsync (fd) != 0)
    {
      errsv = errno != 0 ? errno : ENOSPC;
      close (fd);
      g_unlink (tmp);
      g_set_error (error, HEPA_ERROR, hepa_error_from_errno (errsv),
                   _("Could not write the pseudonym key %s: %s"), path, g_strerror (errsv));
      return FALSE;
    }
  close (fd);

  /* link () never replaces: when two processes create a key at once, the first one wins and
   * the other reads it. */
  if (link (tmp, path) != 0)
    {
      errsv = errno;
      g_unlink (tmp);
      if (errsv == EEXIST)
        return read_key (path, key, error);
      g_set_error (error, HEPA_ERROR, hepa_error_from_errno (errsv),
                   _("Could not create the pseudonym key %s: %s"), path, g_strerror (errsv));
      return FALSE;
    }
  g_unlink (tmp);
  return TRUE;
}

HepaPseudonymizer *
hepa_pseudonymizer_new (const char  *key_path,
                        GError     **error)
{
  g_autofree char *default_path = NULL;
  g_autofree HepaPseudonymizer *self = g_new0 (HepaPseudonymizer, 1);
  g_autoptr(GError) local_error = NULL;

  if (key_path == NULL)
    key_path = default_path = hepa_pseudonym_dup_key_path ();

  if (!read_key (key_path, self->key, &local_error))
    {
      if (local_error != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      if (!create_key (key_path, self->key, error))
        return NULL;
    }
  return g_steal_pointer (&self);
}

void
hepa_pseudonymizer_free (HepaPseudonymizer *self)
{
  if (self == NULL)
    return;
  memset (self->key, 0, sizeof self->key);
  g_free (self);
}

char *
hepa_pseudonymizer_hash (HepaPseudonymizer *self,
                         const char        *kind,
                         const char        *value)
{
  g_autoptr(GHmac) hmac = NULL;
  char *hex;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (kind != NULL && value != NULL, NULL);

  hmac = g_hmac_new (G_CHECKSUM_SHA256, self->key, sizeof self->key);
  g_hmac_update (hmac, (const guchar *) kind, strlen (kind) + 1);
  g_hmac_update (hmac, (const guchar *) value, strlen (value));
  hex = g_strdup (g_hmac_get_string (hmac));
  hex[HEPA_PSEUDONYM_LENGTH] = '\0';
  return hex;
}
