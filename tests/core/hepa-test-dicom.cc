// SPDX-License-Identifier: GPL-3.0-or-later
#include "hepa-test-dicom.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmimage/diregist.h>  // colour support for the lossy JPEG encoder
#include <dcmtk/dcmdata/dcrleerg.h>
#include <dcmtk/dcmdata/dcrlerp.h>
#include <dcmtk/dcmjpeg/djencode.h>
#include <dcmtk/dcmjpeg/djrplol.h>
#include <dcmtk/dcmjpeg/djrploss.h>
#include <dcmtk/dcmjpls/djencode.h>
#include <dcmtk/dcmjpls/djrparam.h>
#include <dcmtk/oflog/oflog.h>

#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>

namespace {

std::once_flag once;

void
init ()
{
  OFLog::configure (OFLogger::OFF_LOG_LEVEL);
  // Lossy monochrome: keep the stored values' scale (DCMTK stretches to the pixel range unless
  // pUsePixelValues is off), so decoded pixels compare with the source.
  DJEncoderRegistration::registerCodecs (ECC_lossyYCbCr, EUC_default, OFFalse, 0, 0, 0, OFTrue,
                                         ESS_422, OFTrue, OFFalse, 0, 0, 0.0, 0.0, 0, 0, 0, 0,
                                         OFFalse);
  // Raw mode and line interleave, as dcmcjpls does by default (cooked refuses colour here).
  DJLSEncoderRegistration::registerCodecs (0, 0, 0, 0, OFFalse, 0, OFTrue, EJLSUC_default, OFFalse,
                                           DJLSCodecParameter::interleaveLine);
  DcmRLEEncoderRegistration::registerCodecs ();
}

} // namespace

extern "C" int
hepa_test_dicom_write (const char          *path,
                       const HepaTestDicom *spec,
                       char                *msg,
                       size_t               msg_size)
{
  try
    {
      std::call_once (once, init);
      DcmFileFormat ff;
      DcmDataset *ds = ff.getDataset ();
      char buf[64];
      bool ok = true;
      char uid[100];

      ok &= ds->putAndInsertString (DCM_SOPClassUID, UID_UltrasoundMultiframeImageStorage).good ();
      ok &= ds->putAndInsertString (DCM_SOPInstanceUID, dcmGenerateUniqueIdentifier (uid)).good ();
      ok &= ds->putAndInsertString (DCM_StudyInstanceUID,
                                    dcmGenerateUniqueIdentifier (uid)).good ();
      ok &= ds->putAndInsertString (DCM_SeriesInstanceUID,
                                    dcmGenerateUniqueIdentifier (uid)).good ();
      ok &= ds->putAndInsertString (DCM_Modality, "US").good ();
      ok &= ds->putAndInsertString (DCM_PatientName, "Test^Fixture").good ();
      ok &= ds->putAndInsertUint16 (DCM_SamplesPerPixel, spec->samples).good ();
      ok &= ds->putAndInsertString (DCM_PhotometricInterpretation, spec->photometric).good ();
      ok &= ds->putAndInsertUint16 (DCM_Rows, spec->height).good ();
      ok &= ds->putAndInsertUint16 (DCM_Columns, spec->width).good ();
      ok &= ds->putAndInsertUint16 (DCM_BitsAllocated, spec->bits_allocated).good ();
      ok &= ds->putAndInsertUint16 (DCM_BitsStored, spec->bits_stored).good ();
      ok &= ds->putAndInsertUint16 (DCM_HighBit, spec->high_bit).good ();
      ok &= ds->putAndInsertUint16 (DCM_PixelRepresentation, spec->pixel_representation).good ();
      if (spec->planar >= 0)
        ok &= ds->putAndInsertUint16 (DCM_PlanarConfiguration, spec->planar).good ();
      if (spec->frames > 0)
        {
          std::snprintf (buf, sizeof buf, "%d", spec->frames);
          ok &= ds->putAndInsertString (DCM_NumberOfFrames, buf).good ();
        }
      if (spec->window_width > 0)
        {
          std::snprintf (buf, sizeof buf, "%g", spec->window_center);
          ok &= ds->putAndInsertString (DCM_WindowCenter, buf).good ();
          std::snprintf (buf, sizeof buf, "%g", spec->window_width);
          ok &= ds->putAndInsertString (DCM_WindowWidth, buf).good ();
        }
      if (spec->slope != 0)
        {
          std::snprintf (buf, sizeof buf, "%g", spec->slope);
          ok &= ds->putAndInsertString (DCM_RescaleSlope, buf).good ();
          std::snprintf (buf, sizeof buf, "%g", spec->intercept);
          ok &= ds->putAndInsertString (DCM_RescaleIntercept, buf).good ();
          ok &= ds->putAndInsertString (DCM_RescaleType, "US").good ();
        }
      if (spec->modality_lut_entries > 0)
        {
          DcmItem *item = nullptr;
          Uint16 d[3] = { (Uint16) (spec->modality_lut_entries == 65536
                                    ? 0 : spec->modality_lut_entries),
                          (Uint16) spec->modality_lut_first, (Uint16) spec->modality_lut_bits };
          ok &= ds->findOrCreateSequenceItem (DCM_ModalityLUTSequence, item, -2).good ();
          if (item != nullptr)
            {
              DcmElement *desc = new DcmUnsignedShort (DcmTag (DCM_LUTDescriptor, EVR_US));
              ok &= desc->putUint16Array (d, 3).good ();
              ok &= item->insert (desc, OFTrue).good ();
              DcmElement *data = new DcmOtherByteOtherWord (DcmTag (DCM_LUTData, EVR_OW));
              ok &= data->putUint16Array (spec->modality_lut_data,
                                          (unsigned long) spec->modality_lut_words).good ();
              ok &= item->insert (data, OFTrue).good ();
              ok &= item->putAndInsertString (DCM_ModalityLUTType, "US").good ();
            }
        }
      if (spec->palette_entries > 0)
        {
          static const DcmTagKey desc[3] = { DCM_RedPaletteColorLookupTableDescriptor,
                                             DCM_GreenPaletteColorLookupTableDescriptor,
                                             DCM_BluePaletteColorLookupTableDescriptor };
          static const DcmTagKey data[3] = { DCM_RedPaletteColorLookupTableData,
                                             DCM_GreenPaletteColorLookupTableData,
                                             DCM_BluePaletteColorLookupTableData };
          static const DcmTagKey seg[3] = { DCM_SegmentedRedPaletteColorLookupTableData,
                                            DCM_SegmentedGreenPaletteColorLookupTableData,
                                            DCM_SegmentedBluePaletteColorLookupTableData };
          for (int c = 0; c < 3; c++)
            {
              Uint16 d[3] = { (Uint16) (spec->palette_entries == 65536 ? 0 : spec->palette_entries),
                              (Uint16) spec->palette_first, (Uint16) spec->palette_bits };
              DcmElement *el = new DcmUnsignedShort (DcmTag (desc[c], EVR_US));
              ok &= el->putUint16Array (d, 3).good ();
              ok &= ds->insert (el, OFTrue).good ();
              if (spec->palette_data[c] != nullptr)
                {
                  DcmElement *lut = new DcmOtherByteOtherWord (
                    DcmTag (spec->palette_segmented ? seg[c] : data[c], EVR_OW));
                  ok &= lut->putUint16Array (spec->palette_data[c],
                                             (unsigned long) spec->palette_words[c]).good ();
                  ok &= ds->insert (lut, OFTrue).good ();
                }
            }
        }
      if (!spec->no_pixel_data)
        {
          DcmPixelData *pd = new DcmPixelData (DCM_PixelData);
          if (spec->bits_allocated > 8)
            {
              pd->setVR (EVR_OW);
              ok &= pd->putUint16Array ((const Uint16 *) spec->pixels,
                                        (unsigned long) (spec->n_bytes / 2)).good ();
            }
          else
            {
              pd->setVR (EVR_OB);
              ok &= pd->putUint8Array ((const Uint8 *) spec->pixels,
                                       (unsigned long) spec->n_bytes).good ();
            }
          ok &= ds->insert (pd, OFTrue).good ();
        }
      if (!ok)
        {
          std::snprintf (msg, msg_size, "could not build the data set");
          return 1;
        }

      std::string x = spec->xfer != nullptr ? spec->xfer : "explicit-le";
      E_TransferSyntax xfer = EXS_LittleEndianExplicit;
      DcmRepresentationParameter *param = nullptr;
      DJ_RPLossy lossy (95);
      DJ_RPLossless lossless (1, 0);
      DJ_RPLossless lossless6 (6, 0);
      DJLSRepresentationParameter ls_lossless (0, OFTrue);
      DJLSRepresentationParameter ls_near (2, OFFalse);
      DcmRLERepresentationParameter rle;
      if (x == "explicit-le")
        xfer = EXS_LittleEndianExplicit;
      else if (x == "implicit-le")
        xfer = EXS_LittleEndianImplicit;
      else if (x == "explicit-be")
        xfer = EXS_BigEndianExplicit;
      else if (x == "deflated")
        xfer = EXS_DeflatedLittleEndianExplicit;
      else if (x == "rle")
        xfer = EXS_RLELossless, param = &rle;
      else if (x == "jpeg-baseline")
        xfer = EXS_JPEGProcess1, param = &lossy;
      else if (x == "jpeg-extended")
        xfer = EXS_JPEGProcess2_4, param = &lossy;
      else if (x == "jpeg-lossless")
        xfer = EXS_JPEGProcess14, param = &lossless6;
      else if (x == "jpeg-lossless-sv1")
        xfer = EXS_JPEGProcess14SV1, param = &lossless;
      else if (x == "jpegls-lossless")
        xfer = EXS_JPEGLSLossless, param = &ls_lossless;
      else if (x == "jpegls-near")
        xfer = EXS_JPEGLSLossy, param = &ls_near;
      else
        {
          std::snprintf (msg, msg_size, "unknown transfer syntax %s", x.c_str ());
          return 1;
        }
      DcmXfer dx (xfer);
      DcmFileFormat reread;
      if (dx.isEncapsulated ())
        {
          // Encode from a file, as the command-line tools do: the JPEG-LS encoder refuses
          // colour data sets built in memory.
          std::string native = std::string (path) + ".native";
          OFCondition cond = ff.saveFile (OFFilename (native.c_str ()), EXS_LittleEndianExplicit);
          if (cond.good ())
            cond = reread.loadFile (OFFilename (native.c_str ()));
          if (cond.good ())
            cond = reread.loadAllDataIntoMemory ();
          std::remove (native.c_str ());
          if (cond.bad ())
            {
              std::snprintf (msg, msg_size, "cannot stage %s: %s", x.c_str (), cond.text ());
              return 1;
            }
          ff = reread;
          ds = ff.getDataset ();
          cond = ds->chooseRepresentation (xfer, param);
          if (cond.bad () || !ds->canWriteXfer (xfer))
            {
              std::snprintf (msg, msg_size, "cannot encode %s: %s", x.c_str (), cond.text ());
              return 1;
            }
        }
      OFCondition cond = ff.saveFile (OFFilename (path), xfer, EET_ExplicitLength, EGL_recalcGL,
                                      EPD_noChange, 0, 0,
                                      spec->no_meta ? EWM_dataset : EWM_createNewMeta);
      if (cond.bad ())
        {
          std::snprintf (msg, msg_size, "cannot save: %s", cond.text ());
          return 1;
        }
      return 0;
    }
  catch (...)
    {
      std::snprintf (msg, msg_size, "exception");
      return 1;
    }
}

extern "C" int
hepa_test_dicom_add_texts (const char              *path,
                           const HepaTestDicomText *texts,
                           size_t                   n,
                           char                    *msg,
                           size_t                   msg_size)
{
  try
    {
      DcmFileFormat ff;
      OFCondition cond = ff.loadFile (OFFilename (path));
      if (cond.bad ())
        {
          std::snprintf (msg, msg_size, "cannot load: %s", cond.text ());
          return 1;
        }
      ff.loadAllDataIntoMemory ();
      DcmDataset *ds = ff.getDataset ();
      for (size_t i = 0; i < n; i++)
        {
          const HepaTestDicomText *t = &texts[i];
          DcmItem *item = ds;
          if (t->seq_group != 0
              && ds->findOrCreateSequenceItem (DcmTagKey (t->seq_group, t->seq_element), item, 0)
                   .bad ())
            {
              std::snprintf (msg, msg_size, "cannot make sequence (%04x,%04x)", t->seq_group,
                             t->seq_element);
              return 1;
            }
          DcmTag tag (DcmTagKey (t->group, t->element), DcmVR (t->vr));
          DcmElement *el = nullptr;
          std::string vr = t->vr;
          if (vr == "LO")
            el = new DcmLongString (tag);
          else if (vr == "SH")
            el = new DcmShortString (tag);
          else if (vr == "PN")
            el = new DcmPersonName (tag);
          else if (vr == "LT")
            el = new DcmLongText (tag);
          else if (vr == "DA")
            el = new DcmDate (tag);
          else
            el = new DcmCodeString (tag);
          if (el->putString (t->value).bad () || item->insert (el, OFTrue).bad ())
            {
              std::snprintf (msg, msg_size, "cannot insert (%04x,%04x)", t->group, t->element);
              return 1;
            }
        }
      cond = ff.saveFile (OFFilename (path), EXS_LittleEndianExplicit);
      if (cond.bad ())
        {
          std::snprintf (msg, msg_size, "cannot save: %s", cond.text ());
          return 1;
        }
      return 0;
    }
  catch (...)
    {
      std::snprintf (msg, msg_size, "exception");
      return 1;
    }
}
