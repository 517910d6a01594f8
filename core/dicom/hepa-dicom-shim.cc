// SPDX-License-Identifier: GPL-3.0-or-later
// A thin C shim over DCMTK. Every extern "C" function catches everything: no C++ exception or
// type leaves this file. Pixel values are never interpreted here (hepa-image.c does that);
// this file parses, finds attributes and decompresses one frame at a time.
#include "hepa-dicom-shim.h"
#include "hepa-dicom-shim-private.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmdata/dccodec.h>
#include <dcmtk/dcmdata/dcfcache.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/oflog/oflog.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <vector>

struct HepaDcmFile
{
  DcmFileFormat          format;
  DcmFileCache           cache;
  std::string            meta_xfer_uid;
  bool                   has_meta = false;
  // next_fragment[k]: index of the first fragment of frame k, when known (0 = unknown but k > 0)
  std::vector<Uint32>    start_fragment;
};

namespace {

void
copy_string (char        *buf,
             size_t       buf_size,
             const char  *value)
{
  if (buf == nullptr || buf_size == 0)
    return;
  std::snprintf (buf, buf_size, "%s", value != nullptr ? value : "");
}

// DCMTK 3.6.7's RLE decoder follows segment offsets without checking them against the
// fragment (a file whose offset points past its data crashed it; fuzz-dicom finding). PS3.5
// Annex G: one fragment per frame, a 64-byte header of a segment count (1..15) and ascending
// offsets, the first 64, all inside the fragment. Returns false with a message otherwise.
bool
rle_frame_is_sane (DcmPixelData *pd,
                   E_TransferSyntax xfer,
                   unsigned long frame,
                   unsigned long n_frames,
                   char *msg,
                   size_t msg_size)
{
  DcmPixelSequence *seq = nullptr;
  DcmPixelItem *item = nullptr;
  Uint8 *data = nullptr;

  if (pd->getEncapsulatedRepresentation (xfer, nullptr, seq).bad () || seq == nullptr)
    {
      hepa_shim_set_msg (msg, msg_size, "RLE pixel data without fragments");
      return false;
    }
  if (seq->card () != n_frames + 1)
    {
      hepa_shim_set_msg (msg, msg_size, "RLE pixel data has %lu fragments for %lu frames (one each)",
               seq->card () > 0 ? seq->card () - 1 : 0ul, n_frames);
      return false;
    }
  if (seq->getItem (item, frame + 1).bad () || item == nullptr
      || item->getUint8Array (data).bad () || data == nullptr)
    {
      hepa_shim_set_msg (msg, msg_size, "RLE frame %lu is missing", frame + 1);
      return false;
    }
  Uint32 length = item->getLength ();
  if (length < 64)
    {
      hepa_shim_set_msg (msg, msg_size, "RLE frame %lu is shorter than its header", frame + 1);
      return false;
    }
  auto word = [data] (int i) -> Uint32 {
    return (Uint32) data[4 * i] | ((Uint32) data[4 * i + 1] << 8)
           | ((Uint32) data[4 * i + 2] << 16) | ((Uint32) data[4 * i + 3] << 24);
  };
  Uint32 n_segments = word (0);
  if (n_segments < 1 || n_segments > 15)
    {
      hepa_shim_set_msg (msg, msg_size, "RLE frame %lu declares %u segments (1 to 15)", frame + 1,
               (unsigned) n_segments);
      return false;
    }
  Uint32 previous = 0;
  for (Uint32 i = 0; i < n_segments; i++)
    {
      Uint32 offset = word ((int) i + 1);
      if ((i == 0 && offset != 64) || (i > 0 && offset <= previous) || offset >= length)
        {
          hepa_shim_set_msg (msg, msg_size, "RLE frame %lu has a damaged segment table", frame + 1);
          return false;
        }
      previous = offset;
    }
  return true;
}

std::once_flag init_once;

// The codec registry lives until exit; give it back then, so leak checkers see a clean process.
void
do_cleanup ()
{
  DJDecoderRegistration::cleanup ();
  DJLSDecoderRegistration::cleanup ();
  DcmRLEDecoderRegistration::cleanup ();
}

void
do_init ()
{
  // DCMTK logs parse problems to stderr by default; our callers report errors themselves, and
  // nothing from a file (which may hold identifying values) is to be logged.
  OFLog::configure (OFLogger::OFF_LOG_LEVEL);
  // Keep YCbCr JPEG as the file says: DCMTK converts to RGB when the photometric is YBR_*.
  DJDecoderRegistration::registerCodecs ();
  DJLSDecoderRegistration::registerCodecs ();
  DcmRLEDecoderRegistration::registerCodecs ();
  std::atexit (do_cleanup);
}

// Names of transfer syntaxes newer than DCMTK 3.6.7, so the "unsupported" error says what it is.
const char *
extra_xfer_name (const std::string &uid)
{
  static const struct { const char *uid, *name; } names[] = {
    { "1.2.840.10008.1.2.4.110", "JPEG XL Lossless" },
    { "1.2.840.10008.1.2.4.111", "JPEG XL JPEG Recompression" },
    { "1.2.840.10008.1.2.4.112", "JPEG XL" },
    { "1.2.840.10008.1.2.4.201", "High-Throughput JPEG 2000 Lossless" },
    { "1.2.840.10008.1.2.4.202", "High-Throughput JPEG 2000 with RPCL Options Lossless" },
    { "1.2.840.10008.1.2.4.203", "High-Throughput JPEG 2000" },
    { "1.2.840.10008.1.2.4.204", "JPIP HTJ2K Referenced" },
    { "1.2.840.10008.1.2.4.205", "JPIP HTJ2K Referenced Deflate" },
    { "1.2.840.10008.1.2.8.1", "Deflated Image Frame Compression" },
  };
  for (const auto &n : names)
    if (uid == n.uid)
      return n.name;
  return nullptr;
}

HepaDcmStatus
finish_open (HepaDcmFile  *file,
             HepaDcmFile **out,
             char         *msg,
             size_t        msg_size)
{
  DcmMetaInfo *meta = file->format.getMetaInfo ();
  OFString uid;

  if (meta != nullptr && meta->card () > 0
      && meta->findAndGetOFString (DCM_TransferSyntaxUID, uid).good ())
    {
      file->has_meta = true;
      file->meta_xfer_uid = uid.c_str ();
    }
  DcmDataset *ds = file->format.getDataset ();
  if (ds == nullptr || ds->card () == 0)
    {
      hepa_shim_set_msg (msg, msg_size, "not a DICOM file (no data set)");
      delete file;
      return HEPA_DCM_ERR_FORMAT;
    }
  // Without a Specific Character Set or with a plain one this is a no-op; failures leave the
  // raw bytes, which the C side makes valid UTF-8.
  (void) ds->convertToUTF8 ();
  *out = file;
  return HEPA_DCM_OK;
}

DcmDataset *
dataset_of (HepaDcmFile *file)
{
  return file->format.getDataset ();
}

E_TransferSyntax
xfer_of (HepaDcmFile *file)
{
  DcmDataset *ds = dataset_of (file);
  E_TransferSyntax xfer = ds->getOriginalXfer ();
  if (file->has_meta)
    {
      DcmXfer meta_xfer (file->meta_xfer_uid.c_str ());
      if (meta_xfer.getXfer () != EXS_Unknown)
        xfer = meta_xfer.getXfer ();
    }
  return xfer;
}

// A DCMTK dataset element by tag, or nullptr.
DcmElement *
find_element (HepaDcmFile *file,
              uint16_t     group,
              uint16_t     element)
{
  DcmElement *el = nullptr;
  if (dataset_of (file)->findAndGetElement (DcmTagKey (group, element), el).bad ())
    return nullptr;
  return el;
}

bool
element_number (DcmElement *el,
                long        index,
                double     *value)
{
  if (el == nullptr || index < 0 || (unsigned long) index >= el->getVM ())
    return false;
  switch (el->ident ())
    {
    case EVR_US:
    case EVR_xs:
    case EVR_lt:
      {
        Uint16 v;
        if (el->getUint16 (v, index).bad ())
          return false;
        *value = v;
        return true;
      }
    case EVR_SS:
      {
        Sint16 v;
        if (el->getSint16 (v, index).bad ())
          return false;
        *value = v;
        return true;
      }
    case EVR_UL:
      {
        Uint32 v;
        if (el->getUint32 (v, index).bad ())
          return false;
        *value = v;
        return true;
      }
    case EVR_SL:
    case EVR_IS:
      {
        Sint32 v;
        if (el->getSint32 (v, index).bad ())
          return false;
        *value = v;
        return true;
      }
    case EVR_FL:
      {
        Float32 v;
        if (el->getFloat32 (v, index).bad ())
          return false;
        *value = v;
        return true;
      }
    case EVR_FD:
    case EVR_DS:
      {
        Float64 v;
        if (el->getFloat64 (v, index).bad ())
          return false;
        *value = v;
        return true;
      }
    default:
      {
        OFString s;
        if (el->getOFString (s, index).bad ())
          return false;
        char *end = nullptr;
        double v = std::strtod (s.c_str (), &end);
        if (end == s.c_str ())
          return false;
        *value = v;
        return true;
      }
    }
}

bool
item_number (DcmItem   *item,
             DcmTagKey  key,
             double    *value)
{
  DcmElement *el = nullptr;
  if (item->findAndGetElement (key, el).bad ())
    return false;
  return element_number (el, 0, value);
}

// Bytes of one native frame as stored (4:2:2 YCbCr keeps two samples per pixel).
bool
native_frame_size (DcmDataset *ds,
                   Uint32     *size)
{
  Uint16 rows = 0, cols = 0, spp = 0, ba = 0;
  OFString photometric;
  if (ds->findAndGetUint16 (DCM_Rows, rows).bad ()
      || ds->findAndGetUint16 (DCM_Columns, cols).bad ()
      || ds->findAndGetUint16 (DCM_BitsAllocated, ba).bad ())
    return false;
  if (ds->findAndGetUint16 (DCM_SamplesPerPixel, spp).bad ())
    spp = 1;
  ds->findAndGetOFString (DCM_PhotometricInterpretation, photometric);
  unsigned long long bits = (unsigned long long) rows * cols * spp * ba;
  if (photometric == "YBR_FULL_422" || photometric == "YBR_PARTIAL_422")
    bits = (unsigned long long) rows * cols * 2 * ba;
  unsigned long long bytes = (bits + 7) / 8;
  if (bytes > 0xFFFFFFFEull)
    return false;
  *size = (Uint32) bytes;
  return true;
}

} // namespace

extern "C" {

void
hepa_dcm_init (void)
{
  try
    {
      std::call_once (init_once, do_init);
    }
  catch (...)
    {
    }
}

HepaDcmStatus
hepa_dcm_open (const char   *path,
               HepaDcmFile **out,
               char         *msg,
               size_t        msg_size)
{
  HepaDcmFile *file = nullptr;
  try
    {
      hepa_dcm_init ();
      *out = nullptr;
      file = new HepaDcmFile ();
      OFCondition cond = file->format.loadFile (OFFilename (path), EXS_Unknown, EGL_noChange,
                                                DCM_MaxReadLength, ERM_autoDetect);
      if (cond.bad ())
        {
          HepaDcmStatus status = HEPA_DCM_ERR_FORMAT;
          if (cond == EC_InvalidFilename || cond == EC_InvalidStream)
            status = HEPA_DCM_ERR_IO;
          // Tell a damaged DICOM file from something else: Part 10 files say "DICM" at 128.
          char head[132] = { 0 };
          bool marker = false;
          if (FILE *fp = std::fopen (path, "rb"))
            {
              marker = std::fread (head, 1, sizeof head, fp) == sizeof head
                       && std::memcmp (head + 128, "DICM", 4) == 0;
              std::fclose (fp);
            }
          if (!marker)
            hepa_shim_set_msg (msg, msg_size, "not a DICOM file, or a damaged one without a header (%s)",
                     cond.text ());
          else if (cond == EC_StreamNotifyClient || cond == EC_ItemEnd
                   || cond == EC_EndOfStream)
            hepa_shim_set_msg (msg, msg_size, "truncated or damaged DICOM file (%s)", cond.text ());
          else
            hepa_shim_set_msg (msg, msg_size, "damaged DICOM file (%s)", cond.text ());
          delete file;
          return status;
        }
      return finish_open (file, out, msg, msg_size);
    }
  catch (const std::bad_alloc &)
    {
      delete file;
      hepa_shim_set_msg (msg, msg_size, "out of memory while reading the DICOM file");
      return HEPA_DCM_ERR_NO_MEMORY;
    }
  catch (...)
    {
      delete file;
      hepa_shim_set_msg (msg, msg_size, "DICOM parser failed");
      return HEPA_DCM_ERR_FAILED;
    }
}

void
hepa_dcm_close (HepaDcmFile *file)
{
  try
    {
      delete file;
    }
  catch (...)
    {
    }
}

HepaDcmStatus
hepa_dcm_get_pixel_info (HepaDcmFile      *file,
                         HepaDcmPixelInfo *info,
                         char             *msg,
                         size_t            msg_size)
{
  try
    {
      std::memset (info, 0, sizeof *info);
      DcmDataset *ds = dataset_of (file);
      E_TransferSyntax xfer = xfer_of (file);
      std::string uid = file->meta_xfer_uid;

      info->has_meta_header = file->has_meta;
      if (uid.empty () || DcmXfer (uid.c_str ()).getXfer () != EXS_Unknown)
        {
          DcmXfer x (xfer);
          if (uid.empty ())
            uid = x.getXferID ();
          info->known = xfer != EXS_Unknown;
          copy_string (info->name, sizeof info->name, x.getXferName ());
          info->encapsulated = x.isEncapsulated ();
          info->can_decode = !x.isEncapsulated ()
                             || DcmCodecList::canChangeCoding (xfer, EXS_LittleEndianExplicit);
        }
      else
        {
          const char *name = extra_xfer_name (uid);
          copy_string (info->name, sizeof info->name, name != nullptr ? name : uid.c_str ());
          info->known = 0;
          info->encapsulated = 1;
          info->can_decode = 0;
        }
      copy_string (info->uid, sizeof info->uid, uid.c_str ());

      DcmElement *el = nullptr;
      if (ds->findAndGetElement (DCM_PixelData, el).good () && el != nullptr)
        {
          info->has_pixel_data = 1;
          DcmPixelData *pd = OFdynamic_cast (DcmPixelData *, el);
          DcmPixelSequence *seq = nullptr;
          if (info->encapsulated && pd != nullptr && info->known
              && pd->getEncapsulatedRepresentation (xfer, nullptr, seq).good () && seq != nullptr)
            info->n_fragments = seq->card () > 0 ? seq->card () - 1 : 0;
          else if (info->encapsulated && info->known)
            {
              // The file says encapsulated but the value is not a pixel sequence.
              hepa_shim_set_msg (msg, msg_size,
                       "pixel data is not encapsulated although the transfer syntax is %s",
                       info->name);
              return HEPA_DCM_ERR_FORMAT;
            }
          else if (!info->encapsulated)
            {
              if (el->getLengthField () == DCM_UndefinedLength)
                {
                  hepa_shim_set_msg (msg, msg_size, "compressed pixel data, but no transfer syntax says "
                           "how it is compressed (missing meta header?)");
                  return HEPA_DCM_ERR_FORMAT;
                }
              info->pixel_length = el->getLength ();
            }
        }
      return HEPA_DCM_OK;
    }
  catch (...)
    {
      hepa_shim_set_msg (msg, msg_size, "could not read the pixel data description");
      return HEPA_DCM_ERR_FAILED;
    }
}

HepaDcmStatus
hepa_dcm_get_string (HepaDcmFile *file,
                     uint16_t     group,
                     uint16_t     element,
                     long         index,
                     char        *buf,
                     size_t       buf_size)
{
  try
    {
      copy_string (buf, buf_size, "");
      DcmElement *el = find_element (file, group, element);
      OFString value;
      if (el == nullptr || index < 0 || el->isEmpty ())
        return HEPA_DCM_ERR_NOT_FOUND;
      if (el->getOFString (value, (unsigned long) index, OFTrue).bad ())
        return HEPA_DCM_ERR_NOT_FOUND;
      copy_string (buf, buf_size, value.c_str ());
      return HEPA_DCM_OK;
    }
  catch (...)
    {
      return HEPA_DCM_ERR_FAILED;
    }
}

HepaDcmStatus
hepa_dcm_get_int (HepaDcmFile *file,
                  uint16_t     group,
                  uint16_t     element,
                  long         index,
                  long        *value)
{
  try
    {
      double v;
      if (!element_number (find_element (file, group, element), index, &v))
        return HEPA_DCM_ERR_NOT_FOUND;
      if (!(v >= -2147483648.0 && v <= 4294967295.0))
        return HEPA_DCM_ERR_NOT_FOUND;
      *value = (long) v;
      return HEPA_DCM_OK;
    }
  catch (...)
    {
      return HEPA_DCM_ERR_FAILED;
    }
}

HepaDcmStatus
hepa_dcm_get_double (HepaDcmFile *file,
                     uint16_t     group,
                     uint16_t     element,
                     long         index,
                     double      *value)
{
  try
    {
      if (!element_number (find_element (file, group, element), index, value))
        return HEPA_DCM_ERR_NOT_FOUND;
      return HEPA_DCM_OK;
    }
  catch (...)
    {
      return HEPA_DCM_ERR_FAILED;
    }
}

HepaDcmStatus
hepa_dcm_get_words (HepaDcmFile *file,
                    uint16_t     group,
                    uint16_t     element,
                    uint16_t    *out,
                    size_t       max,
                    size_t      *count)
{
  try
    {
      *count = 0;
      DcmElement *el = find_element (file, group, element);
      if (el == nullptr)
        return HEPA_DCM_ERR_NOT_FOUND;
      DcmEVR vr = el->getVR ();
      if (vr == EVR_OB || vr == EVR_UN)
        {
          Uint8 *bytes = nullptr;
          if (el->getUint8Array (bytes).bad () || bytes == nullptr)
            return HEPA_DCM_ERR_NOT_FOUND;
          size_t n = el->getLength () / 2;
          *count = n;
          for (size_t i = 0; out != nullptr && i < n && i < max; i++)
            out[i] = (uint16_t) (bytes[2 * i] | (bytes[2 * i + 1] << 8));
          return HEPA_DCM_OK;
        }
      if (vr == EVR_SS)
        {
          Sint16 *words = nullptr;
          if (el->getSint16Array (words).bad () || words == nullptr)
            return HEPA_DCM_ERR_NOT_FOUND;
          size_t n = el->getLength () / 2;
          *count = n;
          for (size_t i = 0; out != nullptr && i < n && i < max; i++)
            out[i] = (uint16_t) words[i];
          return HEPA_DCM_OK;
        }
      Uint16 *words = nullptr;
      if (el->getUint16Array (words).bad () || words == nullptr)
        return HEPA_DCM_ERR_NOT_FOUND;
      size_t n = el->getLength () / 2;
      *count = n;
      if (out != nullptr)
        std::memcpy (out, words, (n < max ? n : max) * sizeof (uint16_t));
      return HEPA_DCM_OK;
    }
  catch (...)
    {
      return HEPA_DCM_ERR_FAILED;
    }
}

HepaDcmStatus
hepa_dcm_get_modality_lut (HepaDcmFile *file,
                           long         descriptor[3],
                           uint16_t    *out,
                           size_t       max,
                           size_t      *count)
{
  try
    {
      *count = 0;
      DcmItem *item = nullptr;
      if (dataset_of (file)->findAndGetSequenceItem (DCM_ModalityLUTSequence, item, 0).bad ()
          || item == nullptr)
        return HEPA_DCM_ERR_NOT_FOUND;
      DcmElement *desc = nullptr;
      DcmElement *data = nullptr;
      if (item->findAndGetElement (DCM_LUTDescriptor, desc).bad ()
          || item->findAndGetElement (DCM_LUTData, data).bad () || desc->getVM () < 3)
        return HEPA_DCM_ERR_FORMAT;
      for (int i = 0; i < 3; i++)
        {
          double v;
          if (!element_number (desc, i, &v))
            return HEPA_DCM_ERR_FORMAT;
          descriptor[i] = (long) v;
        }
      Uint16 *words = nullptr;
      if (data->getUint16Array (words).bad () || words == nullptr)
        return HEPA_DCM_ERR_FORMAT;
      size_t n = data->getLength () / 2;
      *count = n;
      if (out != nullptr)
        std::memcpy (out, words, (n < max ? n : max) * sizeof (uint16_t));
      return HEPA_DCM_OK;
    }
  catch (...)
    {
      return HEPA_DCM_ERR_FAILED;
    }
}

HepaDcmStatus
hepa_dcm_get_us_regions (HepaDcmFile   *file,
                         HepaDcmRegion *out,
                         size_t         max,
                         size_t        *count)
{
  try
    {
      *count = 0;
      DcmSequenceOfItems *seq = nullptr;
      if (dataset_of (file)->findAndGetSequence (DCM_SequenceOfUltrasoundRegions, seq).bad ()
          || seq == nullptr)
        return HEPA_DCM_ERR_NOT_FOUND;
      size_t n = 0;
      for (unsigned long i = 0; i < seq->card (); i++)
        {
          DcmItem *item = seq->getItem (i);
          double v[4], sf = 0, dt = 0, ux = 0, uy = 0, dx = 0, dy = 0;
          if (item == nullptr
              || !item_number (item, DCM_RegionLocationMinX0, &v[0])
              || !item_number (item, DCM_RegionLocationMinY0, &v[1])
              || !item_number (item, DCM_RegionLocationMaxX1, &v[2])
              || !item_number (item, DCM_RegionLocationMaxY1, &v[3]))
            continue;
          item_number (item, DCM_RegionSpatialFormat, &sf);
          item_number (item, DCM_RegionDataType, &dt);
          item_number (item, DCM_PhysicalUnitsXDirection, &ux);
          item_number (item, DCM_PhysicalUnitsYDirection, &uy);
          item_number (item, DCM_PhysicalDeltaX, &dx);
          item_number (item, DCM_PhysicalDeltaY, &dy);
          bool bad_bound = false;
          for (double b : v)
            if (!(b >= 0 && b <= 4294967295.0))
              bad_bound = true;
          if (bad_bound)
            continue;
          if (out != nullptr && n < max)
            {
              HepaDcmRegion *r = &out[n];
              r->x0 = (uint32_t) v[0];
              r->y0 = (uint32_t) v[1];
              r->x1 = (uint32_t) v[2];
              r->y1 = (uint32_t) v[3];
              r->spatial_format = (int) sf;
              r->data_type = (int) dt;
              r->units_x = (int) ux;
              r->units_y = (int) uy;
              r->delta_x = dx;
              r->delta_y = dy;
            }
          n++;
        }
      *count = n;
      return HEPA_DCM_OK;
    }
  catch (...)
    {
      return HEPA_DCM_ERR_FAILED;
    }
}

HepaDcmStatus
hepa_dcm_foreach_string (HepaDcmFile       *file,
                         HepaDcmStringFunc  func,
                         void              *user_data)
{
  try
    {
      DcmStack stack;
      DcmObject *obj = nullptr;
      DcmDataset *ds = dataset_of (file);
      // nextObject walks the tree with an explicit stack: no recursion of ours.
      while (ds->nextObject (stack, OFTrue).good ())
        {
          obj = stack.top ();
          if (obj == nullptr || obj->isLeaf () == OFFalse)
            continue;
          DcmElement *el = OFdynamic_cast (DcmElement *, obj);
          if (el == nullptr)
            continue;
          DcmTagKey key = el->getTag ().getXTag ();
          if (key == DCM_PixelData || key.getGroup () == 0xFFFE)
            continue;
          DcmEVR vr = el->ident ();
          DcmVR vr_name (el->getVR ());
          switch (vr)
            {
            case EVR_AE: case EVR_AS: case EVR_CS: case EVR_DA: case EVR_DS: case EVR_DT:
            case EVR_IS: case EVR_LO: case EVR_LT: case EVR_PN: case EVR_SH: case EVR_ST:
            case EVR_TM: case EVR_UC: case EVR_UI: case EVR_UR: case EVR_UT:
              {
                unsigned long vm = el->getVM ();
                for (unsigned long k = 0; k < vm && k < 256; k++)
                  {
                    OFString value;
                    if (el->getOFString (value, k, OFTrue).good () && !value.empty ())
                      func (key.getGroup (), key.getElement (), vr_name.getVRName (),
                            value.c_str (), user_data);
                  }
                break;
              }
            case EVR_UN:
            case EVR_OB:
              {
                // Implicit VR files read private attributes as UN: their text is in the bytes.
                if (vr == EVR_OB && !key.isPrivate ())
                  break;
                Uint8 *bytes = nullptr;
                Uint32 length = el->getLength ();
                if (length == 0 || length > 65536 || el->getUint8Array (bytes).bad ()
                    || bytes == nullptr)
                  break;
                std::string run;
                for (Uint32 i = 0; i <= length; i++)
                  {
                    unsigned char c = i < length ? bytes[i] : 0;
                    if (c >= 0x20 && c < 0x7f)
                      run.push_back ((char) c);
                    else
                      {
                        if (run.size () >= 4)
                          func (key.getGroup (), key.getElement (), "UN", run.c_str (),
                                user_data);
                        run.clear ();
                      }
                  }
                break;
              }
            default:
              break;
            }
        }
      return HEPA_DCM_OK;
    }
  catch (...)
    {
      return HEPA_DCM_ERR_FAILED;
    }
}

HepaDcmStatus
hepa_dcm_get_frame (HepaDcmFile *file,
                    uint32_t     frame,
                    uint8_t     *buf,
                    size_t       buf_size,
                    char        *color_model,
                    size_t       color_model_size,
                    char        *msg,
                    size_t       msg_size)
{
  try
    {
      DcmDataset *ds = dataset_of (file);
      DcmElement *el = nullptr;
      copy_string (color_model, color_model_size, "");
      if (ds->findAndGetElement (DCM_PixelData, el).bad () || el == nullptr)
        {
          hepa_shim_set_msg (msg, msg_size, "no pixel data");
          return HEPA_DCM_ERR_FORMAT;
        }
      DcmPixelData *pd = OFdynamic_cast (DcmPixelData *, el);
      E_TransferSyntax xfer = xfer_of (file);
      DcmXfer x (xfer);
      OFString photometric;
      ds->findAndGetOFString (DCM_PhotometricInterpretation, photometric);

      if (!x.isEncapsulated ())
        {
          Uint32 frame_size = 0;
          if (!native_frame_size (ds, &frame_size) || frame_size == 0)
            {
              hepa_shim_set_msg (msg, msg_size, "image dimensions missing or out of range");
              return HEPA_DCM_ERR_FORMAT;
            }
          unsigned long long offset = (unsigned long long) frame * frame_size;
          if (offset + frame_size > el->getLength () || frame_size > buf_size
              || offset > 0xFFFFFFFFull)
            {
              hepa_shim_set_msg (msg, msg_size,
                       "pixel data too short for frame %u (%u bytes per frame, %lu in the file)",
                       (unsigned) frame + 1, (unsigned) frame_size,
                       (unsigned long) el->getLength ());
              return HEPA_DCM_ERR_FORMAT;
            }
          OFCondition cond = el->getPartialValue (buf, (Uint32) offset, frame_size, &file->cache);
          if (cond.bad ())
            {
              hepa_shim_set_msg (msg, msg_size, "could not read frame %u (%s)", (unsigned) frame + 1,
                       cond.text ());
              return HEPA_DCM_ERR_FORMAT;
            }
          copy_string (color_model, color_model_size, photometric.c_str ());
          return HEPA_DCM_OK;
        }

      if (pd == nullptr)
        {
          hepa_shim_set_msg (msg, msg_size, "pixel data is not a pixel data element");
          return HEPA_DCM_ERR_FORMAT;
        }
      Uint32 needed = 0;
      OFCondition cond = pd->getUncompressedFrameSize (ds, needed);
      if (cond.bad () || needed == 0)
        {
          hepa_shim_set_msg (msg, msg_size, "image dimensions missing or out of range");
          return HEPA_DCM_ERR_FORMAT;
        }
      if (needed > buf_size)
        {
          hepa_shim_set_msg (msg, msg_size, "decoded frame larger than expected (%u bytes)",
                   (unsigned) needed);
          return HEPA_DCM_ERR_FORMAT;
        }
      if (xfer == EXS_RLELossless)
        {
          long n_frames = 1;
          OFString frames_text;
          if (ds->findAndGetOFString (DCM_NumberOfFrames, frames_text).good ())
            n_frames = std::max (1L, std::atol (frames_text.c_str ()));
          if (!rle_frame_is_sane (pd, xfer, frame, (unsigned long) n_frames, msg, msg_size))
            return HEPA_DCM_ERR_FORMAT;
        }
      // Reuse what decoding the previous frame taught us about fragment boundaries.
      Uint32 start = 0;
      if (frame < file->start_fragment.size ())
        start = file->start_fragment[frame];
      OFString model;
      cond = pd->getUncompressedFrame (ds, frame, start, buf, (Uint32) buf_size, model,
                                       &file->cache);
      if (cond.bad ())
        {
          hepa_shim_set_msg (msg, msg_size, "could not decode frame %u (%s)", (unsigned) frame + 1,
                   cond.text ());
          return HEPA_DCM_ERR_FORMAT;
        }
      if (file->start_fragment.size () < (size_t) frame + 2 && frame < 1000000)
        file->start_fragment.resize ((size_t) frame + 2, 0);
      if ((size_t) frame + 1 < file->start_fragment.size ())
        file->start_fragment[frame + 1] = start;
      copy_string (color_model, color_model_size,
                   model.empty () ? photometric.c_str () : model.c_str ());
      return HEPA_DCM_OK;
    }
  catch (const std::bad_alloc &)
    {
      hepa_shim_set_msg (msg, msg_size, "out of memory while decoding frame %u", (unsigned) frame + 1);
      return HEPA_DCM_ERR_NO_MEMORY;
    }
  catch (...)
    {
      hepa_shim_set_msg (msg, msg_size, "decoder failed on frame %u", (unsigned) frame + 1);
      return HEPA_DCM_ERR_FAILED;
    }
}

HepaDcmStatus
hepa_dcm_get_frame_bitstream (HepaDcmFile  *file,
                              uint32_t      frame,
                              uint32_t      n_frames,
                              uint8_t     **out,
                              size_t       *out_size,
                              char         *msg,
                              size_t        msg_size)
{
  try
    {
      *out = nullptr;
      *out_size = 0;
      DcmDataset *ds = dataset_of (file);
      DcmElement *el = nullptr;
      if (ds->findAndGetElement (DCM_PixelData, el).bad () || el == nullptr)
        {
          hepa_shim_set_msg (msg, msg_size, "no pixel data");
          return HEPA_DCM_ERR_FORMAT;
        }
      DcmPixelData *pd = OFdynamic_cast (DcmPixelData *, el);
      DcmPixelSequence *seq = nullptr;
      if (pd == nullptr || pd->getEncapsulatedRepresentation (xfer_of (file), nullptr, seq).bad ()
          || seq == nullptr || frame >= n_frames)
        return HEPA_DCM_ERR_NOT_FOUND;
      // Item 0 is the offset table; fragments follow.
      unsigned long n_items = seq->card ();
      Uint32 first = 0, end = 0;
      if (n_items < 2)
        return HEPA_DCM_ERR_NOT_FOUND;
      if (n_items - 1 == n_frames)
        {
          first = frame + 1;
          end = frame + 2;
        }
      else
        {
          if (DcmCodec::determineStartFragment (frame, (Sint32) n_frames, seq, first).bad ())
            return HEPA_DCM_ERR_NOT_FOUND;
          if (frame + 1 < n_frames)
            {
              if (DcmCodec::determineStartFragment (frame + 1, (Sint32) n_frames, seq, end).bad ())
                return HEPA_DCM_ERR_NOT_FOUND;
            }
          else
            end = (Uint32) n_items;
        }
      if (first < 1 || end <= first || end > n_items)
        return HEPA_DCM_ERR_NOT_FOUND;

      // Fragments are a linked list: getItem (i) walks from the first, so fetching each by
      // index made this quadratic (100,000 empty fragments: 20 s). One walk collects them.
      std::vector<DcmPixelItem *> items;
      items.reserve (end - first);
      unsigned long long total = 0;
      {
        DcmPixelItem *item = nullptr;
        if (seq->getItem (item, first).bad () || item == nullptr)
          return HEPA_DCM_ERR_NOT_FOUND;
        for (Uint32 i = first; i < end; i++)
          {
            if (item == nullptr)
              return HEPA_DCM_ERR_NOT_FOUND;
            items.push_back (item);
            total += item->getLength ();
            if (i + 1 < end)
              item = OFstatic_cast (DcmPixelItem *, seq->nextInContainer (item));
          }
      }
      if (total == 0 || total > 0x7fffffffull)
        return HEPA_DCM_ERR_NOT_FOUND;
      uint8_t *bytes = static_cast<uint8_t *> (std::malloc ((size_t) total));
      if (bytes == nullptr)
        {
          hepa_shim_set_msg (msg, msg_size, "out of memory for frame %u", (unsigned) frame + 1);
          return HEPA_DCM_ERR_NO_MEMORY;
        }
      size_t at = 0;
      for (DcmPixelItem *item : items)
        {
          Uint8 *data = nullptr;
          Uint32 len;
          len = item->getLength ();
          if (len > 0 && (item->getUint8Array (data).bad () || data == nullptr))
            {
              std::free (bytes);
              hepa_shim_set_msg (msg, msg_size, "could not read the compressed data of frame %u",
                       (unsigned) frame + 1);
              return HEPA_DCM_ERR_FORMAT;
            }
          if (len > 0)
            std::memcpy (bytes + at, data, len);
          at += len;
        }
      *out = bytes;
      *out_size = at;
      return HEPA_DCM_OK;
    }
  catch (const std::bad_alloc &)
    {
      hepa_shim_set_msg (msg, msg_size, "out of memory for frame %u", (unsigned) frame + 1);
      return HEPA_DCM_ERR_NO_MEMORY;
    }
  catch (...)
    {
      hepa_shim_set_msg (msg, msg_size, "could not read the compressed data of frame %u",
               (unsigned) frame + 1);
      return HEPA_DCM_ERR_FAILED;
    }
}

HepaDcmStatus
hepa_dcm_write_us (const char          *path,
                   const HepaDcmUsSpec *spec,
                   char                *msg,
                   size_t               msg_size)
{
  try
    {
      hepa_dcm_init ();
      DcmFileFormat ff;
      DcmDataset *ds = ff.getDataset ();
      char uid[100];
      OFString date, time;
      bool ok = true;
      const bool multi = spec->n_frames > 1;
      auto put = [&] (const DcmTagKey &key, const char *value) {
        ok = ok && ds->putAndInsertString (key, value).good ();
      };
      auto put_uid = [&] (const DcmTagKey &key, const char *value, const char *root) {
        if (value == nullptr || value[0] == '\0')
          value = dcmGenerateUniqueIdentifier (uid, root);
        put (key, value);
      };

      DcmDate::getCurrentDate (date);
      DcmTime::getCurrentTime (time);
      put (DCM_SpecificCharacterSet, "ISO_IR 192");
      put (DCM_ImageType, "ORIGINAL\\PRIMARY");
      put (DCM_SOPClassUID,
           multi ? UID_UltrasoundMultiframeImageStorage : UID_UltrasoundImageStorage);
      put_uid (DCM_SOPInstanceUID, spec->sop_uid, SITE_INSTANCE_UID_ROOT);
      put_uid (DCM_StudyInstanceUID, spec->study_uid, SITE_STUDY_UID_ROOT);
      put_uid (DCM_SeriesInstanceUID, spec->series_uid, SITE_SERIES_UID_ROOT);
      put (DCM_StudyDate, date.c_str ());
      put (DCM_StudyTime, time.c_str ());
      put (DCM_ContentDate, date.c_str ());
      put (DCM_ContentTime, time.c_str ());
      put (DCM_AccessionNumber, "");
      put (DCM_Modality, "US");
      put (DCM_Manufacturer, spec->manufacturer);
      put (DCM_ReferringPhysicianName, "");
      if (spec->series_description[0] != '\0')
        put (DCM_SeriesDescription, spec->series_description);
      put (DCM_PatientName, spec->patient_name);
      put (DCM_PatientID, spec->patient_id);
      put (DCM_PatientBirthDate, "");
      put (DCM_PatientSex, "");
      put (DCM_StudyID, "1");
      put (DCM_SeriesNumber, "1");
      put (DCM_InstanceNumber, "1");
      put (DCM_BurnedInAnnotation, "NO");
      put (DCM_LossyImageCompression, "00");
      if (spec->image_comments[0] != '\0')
        put (DCM_ImageComments, spec->image_comments);

      ok = ok && ds->putAndInsertUint16 (DCM_SamplesPerPixel, spec->rgb ? 3 : 1).good ();
      put (DCM_PhotometricInterpretation, spec->rgb ? "RGB" : "MONOCHROME2");
      if (spec->rgb)
        ok = ok && ds->putAndInsertUint16 (DCM_PlanarConfiguration, 0).good ();
      ok = ok && ds->putAndInsertUint16 (DCM_Rows, (Uint16) spec->height).good ();
      ok = ok && ds->putAndInsertUint16 (DCM_Columns, (Uint16) spec->width).good ();
      ok = ok && ds->putAndInsertUint16 (DCM_BitsAllocated, 8).good ();
      ok = ok && ds->putAndInsertUint16 (DCM_BitsStored, 8).good ();
      ok = ok && ds->putAndInsertUint16 (DCM_HighBit, 7).good ();
      ok = ok && ds->putAndInsertUint16 (DCM_PixelRepresentation, 0).good ();
      if (multi)
        {
          char buf[64];
          std::snprintf (buf, sizeof buf, "%d", spec->n_frames);
          put (DCM_NumberOfFrames, buf);
          std::snprintf (buf, sizeof buf, "%.6g", spec->frame_time_ms);
          put (DCM_FrameTime, buf);
          ok = ok && ds->putAndInsertTagKey (DCM_FrameIncrementPointer, DCM_FrameTime).good ();
          std::snprintf (buf, sizeof buf, "%d", (int) (1000.0 / spec->frame_time_ms + 0.5));
          put (DCM_CineRate, buf);
          put (DCM_RecommendedDisplayFrameRate, buf);
        }
      if (spec->has_region)
        {
          DcmItem *item = nullptr;
          ok = ok && ds->findOrCreateSequenceItem (DCM_SequenceOfUltrasoundRegions, item, -2)
                       .good ();
          if (ok && item != nullptr)
            {
              ok = ok && item->putAndInsertUint16 (DCM_RegionSpatialFormat, 1).good ();
              ok = ok && item->putAndInsertUint16 (DCM_RegionDataType, 1).good ();
              ok = ok && item->putAndInsertUint32 (DCM_RegionFlags, 0).good ();
              ok = ok && item->putAndInsertUint32 (DCM_RegionLocationMinX0, spec->region_x0)
                           .good ();
              ok = ok && item->putAndInsertUint32 (DCM_RegionLocationMinY0, spec->region_y0)
                           .good ();
              ok = ok && item->putAndInsertUint32 (DCM_RegionLocationMaxX1, spec->region_x1)
                           .good ();
              ok = ok && item->putAndInsertUint32 (DCM_RegionLocationMaxY1, spec->region_y1)
                           .good ();
              ok = ok && item->putAndInsertUint16 (DCM_PhysicalUnitsXDirection, 3).good ();
              ok = ok && item->putAndInsertUint16 (DCM_PhysicalUnitsYDirection, 3).good ();
              ok = ok && item->putAndInsertFloat64 (DCM_PhysicalDeltaX, spec->delta_x_cm).good ();
              ok = ok && item->putAndInsertFloat64 (DCM_PhysicalDeltaY, spec->delta_y_cm).good ();
            }
        }
      unsigned long long n_bytes = (unsigned long long) spec->width * spec->height
                                   * (spec->rgb ? 3 : 1) * spec->n_frames;
      if (n_bytes > 0xFFFFFFF0ull)
        {
          hepa_shim_set_msg (msg, msg_size, "image too large for one DICOM file");
          return HEPA_DCM_ERR_FAILED;
        }
      ok = ok && ds->putAndInsertUint8Array (DCM_PixelData, spec->pixels,
                                             (unsigned long) n_bytes).good ();
      if (!ok)
        {
          hepa_shim_set_msg (msg, msg_size, "could not build the DICOM data set");
          return HEPA_DCM_ERR_FAILED;
        }
      OFCondition cond = ff.saveFile (OFFilename (path), EXS_LittleEndianExplicit,
                                      EET_ExplicitLength, EGL_recalcGL, EPD_noChange, 0, 0,
                                      EWM_createNewMeta);
      if (cond.bad ())
        {
          hepa_shim_set_msg (msg, msg_size, "could not write the DICOM file (%s)", cond.text ());
          return HEPA_DCM_ERR_IO;
        }
      return HEPA_DCM_OK;
    }
  catch (const std::bad_alloc &)
    {
      hepa_shim_set_msg (msg, msg_size, "out of memory while writing the DICOM file");
      return HEPA_DCM_ERR_NO_MEMORY;
    }
  catch (...)
    {
      hepa_shim_set_msg (msg, msg_size, "DICOM writer failed");
      return HEPA_DCM_ERR_FAILED;
    }
}

} // extern "C"
