/* SPDX-License-Identifier: GPL-3.0-or-later */
#define _GNU_SOURCE  /* O_TMPFILE */
#include "config.h"

#include "hepa-dicom.h"
#include "hepa-dicom-writer.h"

#include "hepa-error.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MSG_SIZE 512

struct _HepaDicomFile
{
  HepaDcmFile *dcm;
  char        *path;
};

static int
status_to_code (HepaDcmStatus status)
{
  switch (status)
    {
    case HEPA_DCM_ERR_IO:
      return HEPA_ERROR_IO;
    case HEPA_DCM_ERR_FORMAT:
    case HEPA_DCM_ERR_NOT_FOUND:
      return HEPA_ERROR_FORMAT;
    case HEPA_DCM_ERR_UNSUPPORTED:
      return HEPA_ERROR_DICOM_UNSUPPORTED;
    case HEPA_DCM_ERR_NO_MEMORY:
      return HEPA_ERROR_TOO_LARGE;
    case HEPA_DCM_OK:
    case HEPA_DCM_ERR_FAILED:
    default:
      return HEPA_ERROR_FAILED;
    }
}

static void
set_error (GError        **error,
           const char     *path,
           HepaDcmStatus   status,
           const char     *msg)
{
  g_autofree char *valid = g_utf8_make_valid (msg, -1);

  g_set_error (error, HEPA_ERROR, status_to_code (status), "%s: %s", path, valid);
}

HepaDicomFile *
hepa_dicom_file_open (const char  *path,
                      GError     **error)
{
  char msg[MSG_SIZE] = "";
  HepaDcmFile *dcm = NULL;
  HepaDcmStatus status;
  HepaDicomFile *self;

  g_return_val_if_fail (path != NULL, NULL);

  /* DCMTK's "cannot open" is vague; say why. Only a regular file, opened without blocking
   * (a FIFO would wait for a writer, a device never end). */
  {
    g_autoptr(GError) local_error = NULL;
    gboolean too_large = FALSE;
    guint depth;
    int fd = hepa_open_regular_file (path, &local_error);

    if (fd < 0)
      {
        g_set_error (error, HEPA_ERROR, local_error->code, "%s: %s", path,
                     local_error->message);
        return NULL;
      }
    /* DCMTK's reader recurses per nesting level: refuse a deep file before it is parsed. */
    depth = hepa_dicom_nesting_depth (fd, HEPA_DICOM_MAX_NESTING, &too_large);
    close (fd);
    if (depth > HEPA_DICOM_MAX_NESTING)
      {
        g_set_error (error, HEPA_ERROR, HEPA_ERROR_FORMAT,
                     _("%s: sequences nested deeper than %d levels; not read"), path,
                     HEPA_DICOM_MAX_NESTING);
        return NULL;
      }
    if (too_large)
      {
        g_set_error (error, HEPA_ERROR, HEPA_ERROR_TOO_LARGE,
                     _("%s: the deflated data set inflates to more than 2 GiB; not read"),
                     path);
        return NULL;
      }
  }
  status = hepa_dcm_open (path, &dcm, msg, sizeof msg);
  if (status != HEPA_DCM_OK)
    {
      set_error (error, path, status, msg);
      return NULL;
    }
  self = g_new0 (HepaDicomFile, 1);
  self->dcm = dcm;
  self->path = g_strdup (path);
  return self;
}

void
hepa_dicom_file_free (HepaDicomFile *self)
{
  if (self == NULL)
    return;
  hepa_dcm_close (self->dcm);
  g_free (self->path);
  g_free (self);
}

const char *
hepa_dicom_file_get_path (HepaDicomFile *self)
{
  return self->path;
}

gboolean
hepa_dicom_file_get_pixel_info (HepaDicomFile     *self,
                                HepaDcmPixelInfo  *info,
                                GError           **error)
{
  char msg[MSG_SIZE] = "";
  HepaDcmStatus status = hepa_dcm_get_pixel_info (self->dcm, info, msg, sizeof msg);

  if (status != HEPA_DCM_OK)
    {
      set_error (error, self->path, status, msg);
      return FALSE;
    }
  return TRUE;
}

char *
hepa_dicom_file_dup_string (HepaDicomFile *self,
                            guint16        group,
                            guint16        element,
                            long           index)
{
  /* Long enough for any single value of the text VRs we read (LO 64, UI 64, LT 10240). */
  g_autofree char *buf = g_malloc (10241);

  if (hepa_dcm_get_string (self->dcm, group, element, index, buf, 10241) != HEPA_DCM_OK)
    return g_strdup ("");
  return g_strstrip (g_utf8_make_valid (buf, -1));
}

typedef struct
{
  HepaDicomStringFunc func;
  gpointer            user_data;
} ForeachData;

static void
foreach_string_cb (uint16_t    group,
                   uint16_t    element,
                   const char *vr,
                   const char *value,
                   void       *user_data)
{
  ForeachData *data = user_data;
  g_autofree char *valid = g_strstrip (g_utf8_make_valid (value, -1));

  if (*valid != '\0')
    data->func (group, element, vr, valid, data->user_data);
}

void
hepa_dicom_file_foreach_string (HepaDicomFile      *self,
                                HepaDicomStringFunc func,
                                gpointer            user_data)
{
  ForeachData data = { func, user_data };

  hepa_dcm_foreach_string (self->dcm, foreach_string_cb, &data);
}

gboolean
hepa_dicom_file_get_int (HepaDicomFile *self,
                         guint16        group,
                         guint16        element,
                         long           index,
                         long          *value)
{
  return hepa_dcm_get_int (self->dcm, group, element, index, value) == HEPA_DCM_OK;
}

gboolean
hepa_dicom_file_get_double (HepaDicomFile *self,
                            guint16        group,
                            guint16        element,
                            long           index,
                            double        *value)
{
  return hepa_dcm_get_double (self->dcm, group, element, index, value) == HEPA_DCM_OK;
}

guint16 *
hepa_dicom_file_dup_words (HepaDicomFile *self,
                           guint16        group,
                           guint16        element,
                           gsize         *n_words)
{
  size_t count = 0;
  guint16 *words;

  *n_words = 0;
  if (hepa_dcm_get_words (self->dcm, group, element, NULL, 0, &count) != HEPA_DCM_OK)
    return NULL;
  words = g_new0 (guint16, MAX (count, 1));
  if (hepa_dcm_get_words (self->dcm, group, element, words, count, &count) != HEPA_DCM_OK)
    {
      g_free (words);
      return NULL;
    }
  *n_words = count;
  return words;
}

guint16 *
hepa_dicom_file_dup_modality_lut (HepaDicomFile *self,
                                  long           descriptor[3],
                                  gsize         *n_words,
                                  gboolean      *broken)
{
  size_t count = 0;
  HepaDcmStatus status;
  guint16 *words;

  *n_words = 0;
  *broken = FALSE;
  status = hepa_dcm_get_modality_lut (self->dcm, descriptor, NULL, 0, &count);
  if (status == HEPA_DCM_ERR_NOT_FOUND)
    return NULL;
  if (status != HEPA_DCM_OK || count == 0)
    {
      *broken = TRUE;
      return NULL;
    }
  words = g_new0 (guint16, count);
  if (hepa_dcm_get_modality_lut (self->dcm, descriptor, words, count, &count) != HEPA_DCM_OK)
    {
      g_free (words);
      *broken = TRUE;
      return NULL;
    }
  *n_words = count;
  return words;
}

HepaUsRegion *
hepa_dicom_file_dup_regions (HepaDicomFile *self,
                             guint         *n_regions)
{
  size_t count = 0;
  g_autofree HepaDcmRegion *raw = NULL;
  HepaUsRegion *regions;

  *n_regions = 0;
  if (hepa_dcm_get_us_regions (self->dcm, NULL, 0, &count) != HEPA_DCM_OK || count == 0)
    return NULL;
  count = MIN (count, 256);
  raw = g_new0 (HepaDcmRegion, count);
  if (hepa_dcm_get_us_regions (self->dcm, raw, count, &count) != HEPA_DCM_OK)
    return NULL;
  count = MIN (count, 256);
  regions = g_new0 (HepaUsRegion, count);
  for (gsize i = 0; i < count; i++)
    {
      regions[i].x0 = (int) MIN (raw[i].x0, G_MAXINT);
      regions[i].y0 = (int) MIN (raw[i].y0, G_MAXINT);
      regions[i].x1 = (int) MIN (raw[i].x1, G_MAXINT);
      regions[i].y1 = (int) MIN (raw[i].y1, G_MAXINT);
      regions[i].spatial_format = raw[i].spatial_format;
      regions[i].data_type = raw[i].data_type;
      regions[i].units_x = raw[i].units_x;
      regions[i].units_y = raw[i].units_y;
      regions[i].delta_x = raw[i].delta_x;
      regions[i].delta_y = raw[i].delta_y;
    }
  *n_regions = count;
  return regions;
}

GBytes *
hepa_dicom_file_dup_frame_bitstream (HepaDicomFile  *self,
                                     guint           frame,
                                     guint           n_frames,
                                     GError        **error)
{
  char msg[MSG_SIZE] = "";
  uint8_t *data = NULL;
  size_t size = 0;
  HepaDcmStatus status;

  status = hepa_dcm_get_frame_bitstream (self->dcm, frame, n_frames, &data, &size, msg,
                                         sizeof msg);
  if (status == HEPA_DCM_ERR_NOT_FOUND)
    return NULL;
  if (status != HEPA_DCM_OK)
    {
      set_error (error, self->path, status, msg);
      return NULL;
    }
  /* The shim allocates with malloc (): free () releases it. */
  return g_bytes_new_with_free_func (data, size, free, data);
}

gboolean
hepa_dicom_file_read_frame (HepaDicomFile  *self,
                            guint           frame,
                            guint8         *buf,
                            gsize           buf_size,
                            char          **color_model,
                            GError        **error)
{
  char msg[MSG_SIZE] = "";
  char model[64] = "";
  HepaDcmStatus status;

  status = hepa_dcm_get_frame (self->dcm, frame, buf, buf_size, model, sizeof model,
                               msg, sizeof msg);
  if (status != HEPA_DCM_OK)
    {
      set_error (error, self->path, status, msg);
      return FALSE;
    }
  *color_model = g_strstrip (g_strdup (model));
  return TRUE;
}

gboolean
hepa_dicom_write_us (const char               *path,
                     const HepaDicomUsParams  *params,
                     GError                  **error)
{
  HepaDcmUsSpec spec = { 0 };
  g_autofree char *tmp = NULL;
  char msg[MSG_SIZE] = "";
  HepaDcmStatus status;
  int fd;

  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (params != NULL, FALSE);

  if (params->width <= 0 || params->height <= 0 || params->width > 65535
      || params->height > 65535 || params->n_frames <= 0 || params->pixels == NULL)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_INVALID_ARGUMENT,
                   _("%s: invalid image size %d x %d x %d frames"), path, params->width,
                   params->height, params->n_frames);
      return FALSE;
    }
  if ((guint64) params->width * params->height * (params->rgb ? 3 : 1) * params->n_frames
      > G_MAXUINT32 - 16)
    {
      g_set_error (error, HEPA_ERROR, HEPA_ERROR_TOO_LARGE,
                   _("%s: image too large for one DICOM file"), path);
      return FALSE;
    }

  spec.width = params->width;
  spec.height = params->height;
  spec.n_frames = params->n_frames;
  spec.rgb = params->rgb;
  spec.pixels = params->pixels;
  if (params->mm_per_pixel_x > 0 && params->mm_per_pixel_y > 0)
    {
      HepaRect r = params->region;

      if (r.width <= 0 || r.height <= 0)
        r = (HepaRect) { 0, 0, params->width, params->height };
      hepa_rect_clamp (&r, params->width, params->height);
      if (r.width > 0 && r.height > 0)
        {
          spec.has_region = TRUE;
          spec.region_x0 = r.x;
          spec.region_y0 = r.y;
          spec.region_x1 = r.x + r.width - 1;
          spec.region_y1 = r.y + r.height - 1;
          spec.delta_x_cm = params->mm_per_pixel_x / 10.0;
          spec.delta_y_cm = params->mm_per_pixel_y / 10.0;
        }
    }
  spec.frame_time_ms = params->frame_time_ms > 0 ? params->frame_time_ms : 33.3;
  spec.series_description = params->series_description ? params->series_description : "";
  spec.image_comments = params->image_comments ? params->image_comments : "";
  spec.patient_name = params->patient_name ? params->patient_name : "Phantom^Hepascope";
  spec.patient_id = params->patient_id ? params->patient_id : "PHANTOM";
  spec.study_uid = params->study_uid ? params->study_uid : "";
  spec.series_uid = params->series_uid ? params->series_uid : "";
  spec.sop_uid = params->sop_uid ? params->sop_uid : "";
  spec.manufacturer = params->manufacturer ? params->manufacturer : "Hepascope";

  /* An unnamed file in the target's folder (O_TMPFILE): a process killed while DCMTK writes
   * (synth writes hundreds) leaves nothing behind. It gets a name only once complete. */
  {
    g_autofree char *dir = g_path_get_dirname (path);

    fd = open (dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
    if (fd >= 0)
      {
        g_autofree char *proc = g_strdup_printf ("/proc/self/fd/%d", fd);
        gboolean ok;

        status = hepa_dcm_write_us (proc, &spec, msg, sizeof msg);
        if (status != HEPA_DCM_OK)
          {
            close (fd);
            set_error (error, path, status, msg);
            return FALSE;
          }
        tmp = g_strdup_printf ("%s.%08x.tmp", path, g_random_int ());
        ok = fsync (fd) == 0 && fchmod (fd, 0644) == 0
             && linkat (AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) == 0;
        if (ok && g_rename (tmp, path) != 0)
          {
            ok = FALSE;
            g_unlink (tmp);
          }
        if (!ok)
          {
            int errsv = errno;

            close (fd);
            g_set_error (error, HEPA_ERROR, hepa_error_from_errno (errsv), "%s: %s", path,
                         g_strerror (errsv));
            return FALSE;
          }
        close (fd);
        return TRUE;
      }
    /* No O_TMPFILE on this file system (or no /proc): a named temporary file. */
    g_clear_pointer (&tmp, g_free);
  }
  tmp = g_strdup_printf ("%s.XXXXXX", path);
  fd = g_mkstemp (tmp);
  if (fd < 0)
    {
      int errsv = errno;

      g_set_error (error, HEPA_ERROR, hepa_error_from_errno (errsv), "%s: %s", path,
                   g_strerror (errsv));
      return FALSE;
    }
  close (fd);

  status = hepa_dcm_write_us (tmp, &spec, msg, sizeof msg);
  if (status != HEPA_DCM_OK)
    {
      g_unlink (tmp);
      set_error (error, path, status, msg);
      return FALSE;
    }

  fd = g_open (tmp, O_RDWR, 0);
  if (fd < 0 || fsync (fd) != 0 || g_chmod (tmp, 0644) != 0 || g_rename (tmp, path) != 0)
    {
      int errsv = errno;

      if (fd >= 0)
        close (fd);
      g_unlink (tmp);
      g_set_error (error, HEPA_ERROR, hepa_error_from_errno (errsv), "%s: %s", path,
                   g_strerror (errsv));
      return FALSE;
    }
  close (fd);
  return TRUE;
}
