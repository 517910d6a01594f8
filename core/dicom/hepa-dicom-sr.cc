// SPDX-License-Identifier: GPL-3.0-or-later
// Results as DICOM over DCMTK's dcmsr, dcmseg and dcmdata; see hepa-dicom-sr.h. Every extern "C"
// function catches everything: no C++ exception or type leaves this file.
#include "hepa-dicom-sr.h"
#include "hepa-dicom-shim-private.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmfg/fgderimg.h>
#include <dcmtk/dcmfg/fgfracon.h>
#include <dcmtk/dcmiod/iodmacro.h>
#include <dcmtk/dcmseg/segdoc.h>
#include <dcmtk/dcmseg/segment.h>
#include <dcmtk/dcmsr/dsrdoc.h>
#include <dcmtk/oflog/oflog.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

void
quiet_logs ()
{
  static std::once_flag once;
  std::call_once (once, [] { OFLog::configure (OFLogger::OFF_LOG_LEVEL); });
}

// What a new object takes from its source image.
struct Source
{
  DcmFileFormat format;
  DcmDataset   *dataset = nullptr;
  OFString      sop_class, sop_uid, series_uid, study_uid;
  long          n_frames = 1;
};

bool
load_source (const char *path,
             Source     &src,
             char       *msg,
             size_t      msg_size)
{
  // Large values (the pixels) stay on disk: only the attributes are needed.
  OFCondition cond = src.format.loadFile (path, EXS_Unknown, EGL_noChange, 4096);
  if (cond.bad ())
    {
      hepa_shim_set_msg (msg, msg_size, "%s: not a readable DICOM file: %s", path, cond.text ());
      return false;
    }
  src.dataset = src.format.getDataset ();
  if (src.dataset->findAndGetOFString (DCM_SOPClassUID, src.sop_class).bad ()
      || src.dataset->findAndGetOFString (DCM_SOPInstanceUID, src.sop_uid).bad ()
      || src.dataset->findAndGetOFString (DCM_StudyInstanceUID, src.study_uid).bad ()
      || src.dataset->findAndGetOFString (DCM_SeriesInstanceUID, src.series_uid).bad ()
      || src.sop_uid.empty () || src.study_uid.empty ())
    {
      hepa_shim_set_msg (msg, msg_size, "%s: no SOP, study or series UID: results cannot refer to it", path);
      return false;
    }
  OFString frames;
  if (src.dataset->findAndGetOFString (DCM_NumberOfFrames, frames).good () && !frames.empty ())
    src.n_frames = std::max (1L, std::strtol (frames.c_str (), nullptr, 10));
  return true;
}

// Patient and General Study modules, copied as they are (same patient, same study).
void
copy_patient_study (DcmItem *src,
                    DcmItem *dst)
{
  static const DcmTagKey type2[] = {
    DCM_PatientName, DCM_PatientID, DCM_PatientBirthDate, DCM_PatientSex, DCM_StudyInstanceUID,
    DCM_StudyDate, DCM_StudyTime, DCM_ReferringPhysicianName, DCM_StudyID, DCM_AccessionNumber,
  };
  static const DcmTagKey optional[] = {
    DCM_SpecificCharacterSet, DCM_IssuerOfPatientID, DCM_StudyDescription, DCM_PatientAge,
    DCM_PatientSize, DCM_PatientWeight, DCM_OtherPatientIDsSequence,
  };
  for (const DcmTagKey &tag : type2)
    {
      DcmElement *e = nullptr;
      dst->findAndDeleteElement (tag);
      if (src->findAndGetElement (tag, e).good () && e != nullptr)
        dst->insert (OFstatic_cast (DcmElement *, e->clone ()), OFTrue);
      else
        dst->insertEmptyElement (tag);
    }
  for (const DcmTagKey &tag : optional)
    {
      DcmElement *e = nullptr;
      dst->findAndDeleteElement (tag);
      if (src->findAndGetElement (tag, e).good () && e != nullptr)
        dst->insert (OFstatic_cast (DcmElement *, e->clone ()), OFTrue);
    }
}

void
now (std::string &date,
     std::string &time_)
{
  char d[16], t[16];
  std::time_t s = std::time (nullptr);
  std::tm tm;
  localtime_r (&s, &tm);
  std::strftime (d, sizeof d, "%Y%m%d", &tm);
  std::strftime (t, sizeof t, "%H%M%S", &tm);
  date = d;
  time_ = t;
}

// SOP Common, General Series, General Equipment and the content date of a new object.
void
set_common (DcmItem                *d,
            const HepaDcmNewObject *o,
            const char             *sop_class,
            const char             *modality)
{
  std::string date, time_;
  char number[16];
  now (date, time_);
  d->putAndInsertString (DCM_SOPClassUID, sop_class);
  d->putAndInsertString (DCM_SOPInstanceUID, o->sop_uid);
  d->putAndInsertString (DCM_InstanceCreationDate, date.c_str ());
  d->putAndInsertString (DCM_InstanceCreationTime, time_.c_str ());
  d->putAndInsertString (DCM_Modality, modality);
  d->putAndInsertString (DCM_SeriesInstanceUID, o->series_uid);
  std::snprintf (number, sizeof number, "%d", o->series_number);
  d->putAndInsertString (DCM_SeriesNumber, number);
  if (o->series_description != nullptr && o->series_description[0] != '\0')
    d->putAndInsertString (DCM_SeriesDescription, o->series_description);
  std::snprintf (number, sizeof number, "%d", std::max (1, o->instance_number));
  d->putAndInsertString (DCM_InstanceNumber, number);
  d->putAndInsertString (DCM_Manufacturer, "Hepascope");
  d->putAndInsertString (DCM_SoftwareVersions,
                         o->software_version != nullptr ? o->software_version : "");
  d->putAndInsertString (DCM_ContentDate, date.c_str ());
  d->putAndInsertString (DCM_ContentTime, time_.c_str ());
}

bool
save_atomic (DcmFileFormat &format,
             const char    *path,
             char          *msg,
             size_t         msg_size)
{
  std::string tmp = std::string (path) + ".part";
  OFCondition cond = format.saveFile (tmp.c_str (), EXS_LittleEndianExplicit, EET_UndefinedLength,
                                      EGL_recalcGL, EPD_noChange, 0, 0, EWM_updateMeta);
  if (cond.bad ())
    {
      unlink (tmp.c_str ());
      hepa_shim_set_msg (msg, msg_size, "%s: could not write: %s", path, cond.text ());
      return false;
    }
  if (std::rename (tmp.c_str (), path) != 0)
    {
      hepa_shim_set_msg (msg, msg_size, "%s: could not write: %s", path, std::strerror (errno));
      unlink (tmp.c_str ());
      return false;
    }
  return true;
}

std::string
fmt_double (double v)
{
  char buf[32];
  std::snprintf (buf, sizeof buf, "%.6g", v);
  return buf;
}

DSRCodedEntryValue
dcm_code (const char *value,
          const char *meaning)
{
  return DSRCodedEntryValue (value, "DCM", meaning);
}

// A class name as a code: the meaning is the name itself (up to 64 characters), the value its
// first 16 (SH).
DSRCodedEntryValue
class_code (const std::string &name)
{
  std::string value = name.substr (0, 16);
  return DSRCodedEntryValue (value.c_str (), HEPA_DCM_CODING_SCHEME, name.substr (0, 64).c_str ());
}

// TID 4019 under the current item.
void
add_algorithm (DSRDocumentTree     &tree,
               const HepaDcmSrSpec *spec)
{
  tree.addContentItem (DSRTypes::RT_hasConceptMod, DSRTypes::VT_Text, DSRTypes::AM_belowCurrent);
  tree.getCurrentContentItem ().setConceptName (dcm_code ("111001", "Algorithm Name"));
  tree.getCurrentContentItem ().setStringValue (spec->algorithm_name);
  tree.addContentItem (DSRTypes::RT_hasConceptMod, DSRTypes::VT_Text, DSRTypes::AM_afterCurrent);
  tree.getCurrentContentItem ().setConceptName (dcm_code ("111003", "Algorithm Version"));
  tree.getCurrentContentItem ().setStringValue (spec->algorithm_version);
  if (spec->model_sha256 != nullptr && spec->model_sha256[0] != '\0')
    {
      std::string param = std::string ("model-sha256=") + spec->model_sha256;
      tree.addContentItem (DSRTypes::RT_hasConceptMod, DSRTypes::VT_Text, DSRTypes::AM_afterCurrent);
      tree.getCurrentContentItem ().setConceptName (dcm_code ("111002", "Algorithm Parameters"));
      tree.getCurrentContentItem ().setStringValue (param.c_str ());
    }
  tree.goUp ();
}

} // namespace

extern "C" void
hepa_dcm_new_uid (char   *buf,
                  size_t  size)
{
  char uid[100];
  dcmGenerateUniqueIdentifier (uid, SITE_INSTANCE_UID_ROOT);
  std::snprintf (buf, size, "%s", uid);
}

extern "C" HepaDcmStatus
hepa_dcm_write_sr (const char          *path,
                   const HepaDcmSrSpec *spec,
                   char                *msg,
                   size_t               msg_size)
{
  try
    {
      quiet_logs ();
      Source src;
      if (!load_source (spec->object.source_path, src, msg, msg_size))
        return HEPA_DCM_ERR_FORMAT;

      DSRDocument doc (DSRTypes::DT_ComprehensiveSR);
      DSRDocumentTree &tree = doc.getTree ();
      DSRImageReferenceValue image (src.sop_class, src.sop_uid);

      // TID 1500 root: Imaging Measurement Report.
      tree.addContentItem (DSRTypes::RT_isRoot, DSRTypes::VT_Container);
      tree.getCurrentContentItem ().setConceptName (dcm_code ("126000", "Imaging Measurement Report"));
      tree.setTemplateIdentification ("1500", "DCMR");
      // TID 1204 language, TID 1001 observation context (the device), procedure reported.
      tree.addContentItem (DSRTypes::RT_hasConceptMod, DSRTypes::VT_Code, DSRTypes::AM_belowCurrent);
      tree.getCurrentContentItem ().setConceptName (
        dcm_code ("121049", "Language of Content Item and Descendants"));
      tree.getCurrentContentItem ().setCodeValue (
        DSRCodedEntryValue ("en-US", "RFC5646", "English (United States)"));
      tree.addContentItem (DSRTypes::RT_hasObsContext, DSRTypes::VT_Code, DSRTypes::AM_afterCurrent);
      tree.getCurrentContentItem ().setConceptName (dcm_code ("121005", "Observer Type"));
      tree.getCurrentContentItem ().setCodeValue (dcm_code ("121007", "Device"));
      tree.addContentItem (DSRTypes::RT_hasObsContext, DSRTypes::VT_UIDRef, DSRTypes::AM_afterCurrent);
      tree.getCurrentContentItem ().setConceptName (dcm_code ("121012", "Device Observer UID"));
      tree.getCurrentContentItem ().setStringValue (spec->device_uid);
      tree.addContentItem (DSRTypes::RT_hasObsContext, DSRTypes::VT_Text, DSRTypes::AM_afterCurrent);
      tree.getCurrentContentItem ().setConceptName (dcm_code ("121013", "Device Observer Name"));
      tree.getCurrentContentItem ().setStringValue ("Hepascope");
      tree.addContentItem (DSRTypes::RT_hasObsContext, DSRTypes::VT_Text, DSRTypes::AM_afterCurrent);
      tree.getCurrentContentItem ().setConceptName (
        dcm_code ("121014", "Device Observer Manufacturer"));
      tree.getCurrentContentItem ().setStringValue ("Hepascope");
      tree.addContentItem (DSRTypes::RT_hasConceptMod, DSRTypes::VT_Code, DSRTypes::AM_afterCurrent);
      tree.getCurrentContentItem ().setConceptName (dcm_code ("121058", "Procedure reported"));
      tree.getCurrentContentItem ().setCodeValue (
        DSRCodedEntryValue ("45036003", "SCT", "Ultrasonography of abdomen"));

      // Image Library: the source image.
      tree.addContentItem (DSRTypes::RT_contains, DSRTypes::VT_Container, DSRTypes::AM_afterCurrent);
      tree.getCurrentContentItem ().setConceptName (dcm_code ("111028", "Image Library"));
      tree.addContentItem (DSRTypes::RT_contains, DSRTypes::VT_Container, DSRTypes::AM_belowCurrent);
      tree.getCurrentContentItem ().setConceptName (dcm_code ("126200", "Image Library Group"));
      tree.addContentItem (DSRTypes::RT_contains, DSRTypes::VT_Image, DSRTypes::AM_belowCurrent);
      tree.getCurrentContentItem ().setImageReference (image);
      tree.goUp ();
      tree.goUp ();

      // Imaging Measurements: one TID 1410 group per ROI.
      tree.addContentItem (DSRTypes::RT_contains, DSRTypes::VT_Container, DSRTypes::AM_afterCurrent);
      tree.getCurrentContentItem ().setConceptName (dcm_code ("126010", "Imaging Measurements"));
      for (size_t i = 0; i < spec->n_rois; i++)
        {
          const HepaDcmSrRoi *roi = &spec->rois[i];
          tree.addContentItem (DSRTypes::RT_contains, DSRTypes::VT_Container,
                               i == 0 ? DSRTypes::AM_belowCurrent : DSRTypes::AM_afterCurrent);
          tree.getCurrentContentItem ().setConceptName (dcm_code ("125007", "Measurement Group"));
          tree.setTemplateIdentification ("1410", "DCMR");
          // TID 1410 rows: tracking identifiers, then the rater (TID 1002 person observer).
          tree.addContentItem (DSRTypes::RT_hasObsContext, DSRTypes::VT_Text,
                               DSRTypes::AM_belowCurrent);
          tree.getCurrentContentItem ().setConceptName (dcm_code ("112039", "Tracking Identifier"));
          tree.getCurrentContentItem ().setStringValue (roi->tracking_id);
          tree.addContentItem (DSRTypes::RT_hasObsContext, DSRTypes::VT_UIDRef,
                               DSRTypes::AM_afterCurrent);
          tree.getCurrentContentItem ().setConceptName (
            dcm_code ("112040", "Tracking Unique Identifier"));
          tree.getCurrentContentItem ().setStringValue (roi->tracking_uid);
          if (roi->rater != nullptr && roi->rater[0] != '\0')
            {
              tree.addContentItem (DSRTypes::RT_hasObsContext, DSRTypes::VT_Code,
                                   DSRTypes::AM_afterCurrent);
              tree.getCurrentContentItem ().setConceptName (dcm_code ("121005", "Observer Type"));
              tree.getCurrentContentItem ().setCodeValue (dcm_code ("121006", "Person"));
              tree.addContentItem (DSRTypes::RT_hasObsContext, DSRTypes::VT_PName,
                                   DSRTypes::AM_afterCurrent);
              tree.getCurrentContentItem ().setConceptName (
                dcm_code ("121008", "Person Observer Name"));
              // A rater is free text; as a PN it is one family-name component.
              std::string pn (roi->rater);
              for (char &c : pn)
                if (c == '^' || c == '=' || c == '\\')
                  c = ' ';
              tree.getCurrentContentItem ().setStringValue (pn.substr (0, 64).c_str (), OFFalse);
            }
          if (roi->label != nullptr && roi->label[0] != '\0')
            {
              tree.addContentItem (DSRTypes::RT_contains, DSRTypes::VT_Code,
                                   DSRTypes::AM_afterCurrent);
              tree.getCurrentContentItem ().setConceptName (dcm_code ("121071", "Finding"));
              tree.getCurrentContentItem ().setCodeValue (class_code (roi->label), OFFalse);
            }
          // The region: a closed polyline around the rectangle, on the source image.
          tree.addContentItem (DSRTypes::RT_contains, DSRTypes::VT_SCoord, DSRTypes::AM_afterCurrent);
          tree.getCurrentContentItem ().setConceptName (dcm_code ("111030", "Image Region"));
          DSRSpatialCoordinatesValue *scoord = tree.getCurrentContentItem ().getSpatialCoordinatesPtr ();
          scoord->setGraphicType (DSRTypes::GT_Polyline);
          float x0 = (float) roi->x, y0 = (float) roi->y;
          float x1 = (float) (roi->x + roi->width), y1 = (float) (roi->y + roi->height);
          scoord->getGraphicDataList ().addItem (x0, y0);
          scoord->getGraphicDataList ().addItem (x1, y0);
          scoord->getGraphicDataList ().addItem (x1, y1);
          scoord->getGraphicDataList ().addItem (x0, y1);
          scoord->getGraphicDataList ().addItem (x0, y0);
          tree.addContentItem (DSRTypes::RT_selectedFrom, DSRTypes::VT_Image,
                               DSRTypes::AM_belowCurrent);
          DSRImageReferenceValue ref (src.sop_class, src.sop_uid);
          if (src.n_frames > 1)
            ref.getFrameList ().addItem ((Sint32) roi->frame + 1);
          tree.getCurrentContentItem ().setImageReference (ref);
          tree.goUp ();

          // The model's answer: one probability per class, then its top class (TID 1419 rows,
          // each with TID 4019).
          if (roi->n_classes > 0 && roi->probabilities != nullptr)
            {
              unsigned top = 0;
              for (unsigned k = 0; k < roi->n_classes; k++)
                {
                  char value[16];
                  std::string meaning = std::string ("Probability of ") + roi->classes[k];
                  std::snprintf (value, sizeof value, "p%u", k);
                  tree.addContentItem (DSRTypes::RT_contains, DSRTypes::VT_Num,
                                       DSRTypes::AM_afterCurrent);
                  tree.getCurrentContentItem ().setConceptName (
                    DSRCodedEntryValue (value, HEPA_DCM_CODING_SCHEME, meaning.substr (0, 64).c_str ()),
                    OFFalse);
                  tree.getCurrentContentItem ().setNumericValue (DSRNumericMeasurementValue (
                    fmt_double (roi->probabilities[k]).c_str (),
                    DSRCodedEntryValue ("1", "UCUM", "no units")));
                  add_algorithm (tree, spec);
                  if (roi->probabilities[k] > roi->probabilities[top])
                    top = k;
                }
              tree.addContentItem (DSRTypes::RT_contains, DSRTypes::VT_Code,
                                   DSRTypes::AM_afterCurrent);
              tree.getCurrentContentItem ().setConceptName (
                DSRCodedEntryValue ("top", HEPA_DCM_CODING_SCHEME, "Most probable class"), OFFalse);
              tree.getCurrentContentItem ().setCodeValue (class_code (roi->classes[top]), OFFalse);
              add_algorithm (tree, spec);
            }
          tree.goUp ();
        }

      DSRCodingSchemeIdentificationList &schemes = doc.getCodingSchemeIdentification ();
      schemes.addItem (HEPA_DCM_CODING_SCHEME);
      schemes.setCodingSchemeName ("Hepascope classes and model outputs");
      schemes.setCodingSchemeResponsibleOrganization ("Hepascope");
      doc.getCurrentRequestedProcedureEvidence ().addItem (src.study_uid, src.series_uid,
                                                           src.sop_class, src.sop_uid);
      doc.createNewSeriesInStudy (src.study_uid);

      DcmFileFormat out;
      DcmDataset *ds = out.getDataset ();
      OFCondition cond = doc.write (*ds);
      if (cond.bad ())
        {
          hepa_shim_set_msg (msg, msg_size, "%s: could not build the structured report: %s", path,
                   cond.text ());
          return HEPA_DCM_ERR_FAILED;
        }
      copy_patient_study (src.dataset, ds);
      set_common (ds, &spec->object, UID_ComprehensiveSRStorage, "SR");
      return save_atomic (out, path, msg, msg_size) ? HEPA_DCM_OK : HEPA_DCM_ERR_IO;
    }
  catch (...)
    {
      hepa_shim_set_msg (msg, msg_size, "%s: out of memory or internal error writing the report", path);
      return HEPA_DCM_ERR_FAILED;
    }
}

extern "C" HepaDcmStatus
hepa_dcm_read_sr (const char       *path,
                  HepaDcmSrRoiFunc  func,
                  void             *user_data,
                  char             *msg,
                  size_t            msg_size)
{
  try
    {
      quiet_logs ();
      DcmFileFormat format;
      OFCondition cond = format.loadFile (path);
      if (cond.bad ())
        {
          hepa_shim_set_msg (msg, msg_size, "%s: not a readable DICOM file: %s", path, cond.text ());
          return HEPA_DCM_ERR_FORMAT;
        }
      DSRDocument doc;
      cond = doc.read (*format.getDataset ());
      if (cond.bad ())
        {
          hepa_shim_set_msg (msg, msg_size, "%s: not a structured report: %s", path, cond.text ());
          return HEPA_DCM_ERR_FORMAT;
        }
      DSRDocumentTree &tree = doc.getTree ();
      if (tree.gotoRoot () == 0
          || tree.getCurrentContentItem ().getConceptName ().getCodeValue () != "126000")
        {
          hepa_shim_set_msg (msg, msg_size, "%s: not a measurement report (TID 1500)", path);
          return HEPA_DCM_ERR_FORMAT;
        }

      struct Group
      {
        size_t level = 0;
        std::string id, uid, label, rater, sop_uid;
        uint32_t frame = 0;
        double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
        bool has_region = false;
        std::vector<std::string> classes;
        std::vector<float> probs;
      };
      std::unique_ptr<Group> group;
      size_t n_groups = 0;
      auto flush = [&] () {
        if (!group)
          return;
        if (group->has_region)
          {
            std::vector<const char *> names;
            for (const auto &c : group->classes)
              names.push_back (c.c_str ());
            HepaDcmSrRoi roi;
            std::memset (&roi, 0, sizeof roi);
            roi.tracking_id = group->id.c_str ();
            roi.tracking_uid = group->uid.c_str ();
            roi.frame = group->frame;
            roi.x = group->x0;
            roi.y = group->y0;
            roi.width = group->x1 - group->x0;
            roi.height = group->y1 - group->y0;
            roi.label = group->label.c_str ();
            roi.rater = group->rater.c_str ();
            roi.n_classes = (unsigned) group->probs.size ();
            roi.classes = names.data ();
            roi.probabilities = group->probs.data ();
            func (user_data, &roi, group->sop_uid.c_str ());
            n_groups++;
          }
        group.reset ();
      };

      const OFString scheme (HEPA_DCM_CODING_SCHEME);
      while (tree.iterate (OFTrue) != 0)
        {
          DSRContentItem &item = tree.getCurrentContentItem ();
          size_t level = tree.getLevel ();
          const DSRCodedEntryValue &concept = item.getConceptName ();
          const OFString &code = concept.getCodeValue ();
          bool dcm = concept.getCodingSchemeDesignator () == "DCM";

          if (group && level <= group->level)
            flush ();
          if (item.getValueType () == DSRTypes::VT_Container && dcm && code == "125007")
            {
              group.reset (new Group ());
              group->level = level;
              continue;
            }
          if (!group)
            continue;
          switch (item.getValueType ())
            {
            case DSRTypes::VT_Text:
              if (dcm && code == "112039")
                group->id = item.getStringValue ().c_str ();
              break;
            case DSRTypes::VT_UIDRef:
              if (dcm && code == "112040")
                group->uid = item.getStringValue ().c_str ();
              break;
            case DSRTypes::VT_PName:
              if (dcm && code == "121008")
                group->rater = item.getStringValue ().c_str ();
              break;
            case DSRTypes::VT_Code:
              if (dcm && code == "121071")
                group->label = item.getCodeValue ().getCodeMeaning ().c_str ();
              break;
            case DSRTypes::VT_SCoord:
              if (dcm && code == "111030" && !group->has_region)
                {
                  const DSRGraphicDataList &list =
                    item.getSpatialCoordinatesPtr ()->getGraphicDataList ();
                  Float32 cx, cy;
                  for (size_t k = 1; k <= list.getNumberOfItems (); k++)
                    if (list.getItem (k, cx, cy).good ())
                      {
                        if (!group->has_region)
                          {
                            group->x0 = group->x1 = cx;
                            group->y0 = group->y1 = cy;
                            group->has_region = true;
                          }
                        group->x0 = std::min<double> (group->x0, cx);
                        group->y0 = std::min<double> (group->y0, cy);
                        group->x1 = std::max<double> (group->x1, cx);
                        group->y1 = std::max<double> (group->y1, cy);
                      }
                }
              break;
            case DSRTypes::VT_Image:
              // SELECTED FROM under the region.
              if (group->has_region && group->sop_uid.empty ())
                {
                  DSRImageReferenceValue *ref = item.getImageReferencePtr ();
                  group->sop_uid = ref->getSOPInstanceUID ().c_str ();
                  Sint32 frame = 0;
                  if (!ref->getFrameList ().isEmpty ()
                      && ref->getFrameList ().getItem (1, frame).good () && frame >= 1)
                    group->frame = (uint32_t) frame - 1;
                }
              break;
            case DSRTypes::VT_Num:
              if (concept.getCodingSchemeDesignator () == scheme
                  && concept.getCodeMeaning ().compare (0, 15, "Probability of ") == 0)
                {
                  const OFString &text = item.getNumericValuePtr ()->getNumericValue ();
                  char *end = nullptr;
                  double v = std::strtod (text.c_str (), &end);
                  if (!text.empty () && end != nullptr && *end == '\0' && std::isfinite (v))
                    {
                      group->classes.push_back (concept.getCodeMeaning ().substr (15).c_str ());
                      group->probs.push_back ((float) v);
                    }
                }
              break;
            default:
              break;
            }
        }
      flush ();
      if (n_groups == 0)
        {
          hepa_shim_set_msg (msg, msg_size, "%s: the report holds no image regions", path);
          return HEPA_DCM_ERR_NOT_FOUND;
        }
      return HEPA_DCM_OK;
    }
  catch (...)
    {
      hepa_shim_set_msg (msg, msg_size, "%s: out of memory or internal error reading the report", path);
      return HEPA_DCM_ERR_FAILED;
    }
}

extern "C" HepaDcmStatus
hepa_dcm_write_seg (const char           *path,
                    const HepaDcmSegSpec *spec,
                    char                 *msg,
                    size_t                msg_size)
{
  try
    {
      quiet_logs ();
      Source src;
      if (!load_source (spec->object.source_path, src, msg, msg_size))
        return HEPA_DCM_ERR_FORMAT;
      if (spec->width <= 0 || spec->height <= 0 || spec->width > 65535 || spec->height > 65535)
        {
          hepa_shim_set_msg (msg, msg_size, "%s: invalid map size", path);
          return HEPA_DCM_ERR_FAILED;
        }

      DcmSegmentation *raw = nullptr;
      IODGeneralEquipmentModule::EquipmentInfo equipment (
        "Hepascope", "Hepascope", "1", spec->object.software_version);
      char instance[16];
      std::snprintf (instance, sizeof instance, "%d", std::max (1, spec->object.instance_number));
      ContentIdentificationMacro content (instance, "SALIENCY", "Class activation map of a region",
                                          "");
      OFCondition cond = DcmSegmentation::createFractionalSegmentation (
        raw, (Uint16) spec->height, (Uint16) spec->width, DcmSegTypes::SFT_PROBABILITY, 255,
        equipment, content);
      std::unique_ptr<DcmSegmentation> seg (raw);
      if (cond.bad () || !seg)
        {
          hepa_shim_set_msg (msg, msg_size, "%s: could not create the segmentation: %s", path, cond.text ());
          return HEPA_DCM_ERR_FAILED;
        }
      cond = seg->importFromSourceImage (*src.dataset, OFTrue);
      if (cond.bad ())
        {
          hepa_shim_set_msg (msg, msg_size, "%s: could not take patient and study from %s: %s", path,
                   spec->object.source_path, cond.text ());
          return HEPA_DCM_ERR_FAILED;
        }
      // Ultrasound images have no Frame of Reference, and then the SEG must not have one either
      // (PS3.3 A.51.3); dcmseg would insist on the module, so its rules go.
      if (src.dataset->tagExists (DCM_FrameOfReferenceUID) == OFFalse)
        {
          seg->getRules ()->deleteRule (DCM_FrameOfReferenceUID);
          seg->getRules ()->deleteRule (DCM_PositionReferenceIndicator);
        }
      seg->getSeries ().setSeriesInstanceUID (spec->object.series_uid);
      char number[16];
      std::snprintf (number, sizeof number, "%d", spec->object.series_number);
      seg->getSeries ().setSeriesNumber (number);
      if (spec->object.series_description != nullptr)
        seg->getSeries ().setSeriesDescription (spec->object.series_description);
      seg->getSOPCommon ().setSOPInstanceUID (spec->object.sop_uid);

      // The segment: a saliency map of a focal liver lesion candidate (SCT codes).
      DcmSegment *segment = nullptr;
      cond = DcmSegment::create (segment, spec->segment_label,
                                 CodeSequenceMacro ("49755003", "SCT", "Morphologically Abnormal Structure"),
                                 CodeSequenceMacro ("4147007", "SCT", "Mass"),
                                 DcmSegTypes::SAT_AUTOMATIC, spec->algorithm_name);
      if (cond.bad () || segment == nullptr)
        {
          hepa_shim_set_msg (msg, msg_size, "%s: could not create the segment: %s", path, cond.text ());
          return HEPA_DCM_ERR_FAILED;
        }
      AlgorithmIdentificationMacro &algo = segment->getSegmentationAlgorithmIdentification ();
      algo.getAlgorithmFamilyCode ().set ("123110", "DCM", "Artificial Intelligence");
      algo.setAlgorithmName (spec->algorithm_name);
      algo.setAlgorithmVersion (spec->algorithm_version);
      if (spec->algorithm_parameters != nullptr && spec->algorithm_parameters[0] != '\0')
        algo.setAlgorithmParameters (spec->algorithm_parameters);
      Uint16 segment_number = 0;
      cond = seg->addSegment (segment, segment_number);
      if (cond.bad ())
        {
          delete segment;
          hepa_shim_set_msg (msg, msg_size, "%s: could not add the segment: %s", path, cond.text ());
          return HEPA_DCM_ERR_FAILED;
        }

      // The frame, derived from the source frame.
      ImageSOPInstanceReferenceMacro ref;
      ref.setReferencedSOPClassUID (src.sop_class);
      ref.setReferencedSOPInstanceUID (src.sop_uid);
      if (src.n_frames > 1)
        {
          OFVector<Uint16> frames;
          frames.push_back ((Uint16) (spec->frame + 1));
          ref.setReferencedFrameNumber (frames);
        }
      OFVector<ImageSOPInstanceReferenceMacro> refs;
      refs.push_back (ref);
      std::unique_ptr<FGDerivationImage> derivation (
        DcmSegmentation::createDerivationImageFG (refs, "Class activation map of the region"));
      if (!derivation)
        {
          hepa_shim_set_msg (msg, msg_size, "%s: could not reference the source image", path);
          return HEPA_DCM_ERR_FAILED;
        }
      FGFrameContent frame_content;
      frame_content.setDimensionIndexValues (1, 0);
      OFVector<FGBase *> per_frame;
      per_frame.push_back (derivation.get ());
      per_frame.push_back (&frame_content);
      std::vector<Uint8> pixels (spec->map, spec->map + (size_t) spec->width * spec->height);
      cond = seg->addFrame (pixels.data (), segment_number, per_frame);
      char dimension_uid[100];
      dcmGenerateUniqueIdentifier (dimension_uid, SITE_INSTANCE_UID_ROOT);
      if (cond.good ())
        cond = seg->getDimensions ().addDimensionIndex (
          DCM_ReferencedSegmentNumber, dimension_uid, DCM_SegmentIdentificationSequence,
          "ReferencedSegmentNumber");
      if (cond.bad ())
        {
          hepa_shim_set_msg (msg, msg_size, "%s: could not add the map: %s", path, cond.text ());
          return HEPA_DCM_ERR_FAILED;
        }

      DcmFileFormat out;
      cond = seg->writeDataset (*out.getDataset ());
      if (cond.bad ())
        {
          hepa_shim_set_msg (msg, msg_size, "%s: could not build the segmentation: %s", path, cond.text ());
          return HEPA_DCM_ERR_FAILED;
        }
      DcmDataset *ds = out.getDataset ();
      copy_patient_study (src.dataset, ds);
      ds->putAndInsertString (DCM_Manufacturer, "Hepascope");
      if (!ds->tagExists (DCM_PatientOrientation))
        ds->insertEmptyElement (DCM_PatientOrientation);
      // Common Instance Reference: the source image's series and instance.
      DcmItem *series_item = nullptr, *instance_item = nullptr;
      if (ds->findOrCreateSequenceItem (DCM_ReferencedSeriesSequence, series_item, -2).good ())
        {
          series_item->putAndInsertString (DCM_SeriesInstanceUID, src.series_uid.c_str ());
          if (series_item->findOrCreateSequenceItem (DCM_ReferencedInstanceSequence,
                                                     instance_item, -2).good ())
            {
              instance_item->putAndInsertString (DCM_ReferencedSOPClassUID, src.sop_class.c_str ());
              instance_item->putAndInsertString (DCM_ReferencedSOPInstanceUID,
                                                 src.sop_uid.c_str ());
            }
        }
      return save_atomic (out, path, msg, msg_size) ? HEPA_DCM_OK : HEPA_DCM_ERR_IO;
    }
  catch (...)
    {
      hepa_shim_set_msg (msg, msg_size, "%s: out of memory or internal error writing the segmentation", path);
      return HEPA_DCM_ERR_FAILED;
    }
}

extern "C" HepaDcmStatus
hepa_dcm_write_sc (const char             *path,
                   const HepaDcmNewObject *object,
                   int                     width,
                   int                     height,
                   const uint8_t          *rgb,
                   const char             *derivation,
                   char                   *msg,
                   size_t                  msg_size)
{
  try
    {
      quiet_logs ();
      Source src;
      if (!load_source (object->source_path, src, msg, msg_size))
        return HEPA_DCM_ERR_FORMAT;
      if (width <= 0 || height <= 0 || width > 65535 || height > 65535)
        {
          hepa_shim_set_msg (msg, msg_size, "%s: invalid image size", path);
          return HEPA_DCM_ERR_FAILED;
        }
      DcmFileFormat out;
      DcmDataset *ds = out.getDataset ();
      copy_patient_study (src.dataset, ds);
      set_common (ds, object, UID_SecondaryCaptureImageStorage, "OT");
      ds->putAndInsertString (DCM_ConversionType, "WSD");
      ds->putAndInsertString (DCM_ImageType, "DERIVED\\SECONDARY");
      ds->putAndInsertString (DCM_PatientOrientation, "");
      ds->putAndInsertString (DCM_Laterality, "");
      ds->putAndInsertString (DCM_BurnedInAnnotation, "YES");
      if (derivation != nullptr)
        ds->putAndInsertString (DCM_DerivationDescription, derivation);
      // The source image, as Source Image Sequence.
      DcmItem *item = nullptr;
      if (ds->findOrCreateSequenceItem (DCM_SourceImageSequence, item, -2).good ())
        {
          item->putAndInsertString (DCM_ReferencedSOPClassUID, src.sop_class.c_str ());
          item->putAndInsertString (DCM_ReferencedSOPInstanceUID, src.sop_uid.c_str ());
        }
      ds->putAndInsertUint16 (DCM_SamplesPerPixel, 3);
      ds->putAndInsertString (DCM_PhotometricInterpretation, "RGB");
      ds->putAndInsertUint16 (DCM_PlanarConfiguration, 0);
      ds->putAndInsertUint16 (DCM_Rows, (Uint16) height);
      ds->putAndInsertUint16 (DCM_Columns, (Uint16) width);
      ds->putAndInsertUint16 (DCM_BitsAllocated, 8);
      ds->putAndInsertUint16 (DCM_BitsStored, 8);
      ds->putAndInsertUint16 (DCM_HighBit, 7);
      ds->putAndInsertUint16 (DCM_PixelRepresentation, 0);
      ds->putAndInsertString (DCM_LossyImageCompression, "00");
      OFCondition cond = ds->putAndInsertUint8Array (DCM_PixelData, rgb,
                                                     (unsigned long) width * height * 3);
      if (cond.bad ())
        {
          hepa_shim_set_msg (msg, msg_size, "%s: could not store the pixels: %s", path, cond.text ());
          return HEPA_DCM_ERR_NO_MEMORY;
        }
      return save_atomic (out, path, msg, msg_size) ? HEPA_DCM_OK : HEPA_DCM_ERR_IO;
    }
  catch (...)
    {
      hepa_shim_set_msg (msg, msg_size, "%s: out of memory or internal error writing the capture", path);
      return HEPA_DCM_ERR_FAILED;
    }
}

extern "C" HepaDcmStatus
hepa_dcm_write_pdf (const char             *path,
                    const HepaDcmNewObject *object,
                    const uint8_t          *pdf,
                    size_t                  pdf_size,
                    const char             *title,
                    char                   *msg,
                    size_t                  msg_size)
{
  try
    {
      quiet_logs ();
      Source src;
      if (!load_source (object->source_path, src, msg, msg_size))
        return HEPA_DCM_ERR_FORMAT;
      if (pdf_size == 0 || pdf_size > 0xfffffff0u)
        {
          hepa_shim_set_msg (msg, msg_size, "%s: empty or too large PDF", path);
          return HEPA_DCM_ERR_FAILED;
        }
      DcmFileFormat out;
      DcmDataset *ds = out.getDataset ();
      copy_patient_study (src.dataset, ds);
      set_common (ds, object, UID_EncapsulatedPDFStorage, "DOC");
      ds->putAndInsertString (DCM_ConversionType, "WSD");
      ds->putAndInsertString (DCM_BurnedInAnnotation, "YES");
      ds->putAndInsertString (DCM_DocumentTitle, title != nullptr ? title : "");
      ds->insertEmptyElement (DCM_ConceptNameCodeSequence);
      ds->insertEmptyElement (DCM_AcquisitionDateTime);
      ds->putAndInsertString (DCM_MIMETypeOfEncapsulatedDocument, "application/pdf");
      // OB needs an even length: pad with one NUL, and say the document's own length.
      size_t padded = pdf_size + (pdf_size & 1);
      std::vector<Uint8> bytes (padded, 0);
      std::memcpy (bytes.data (), pdf, pdf_size);
      ds->putAndInsertUint32 (DCM_EncapsulatedDocumentLength, (Uint32) pdf_size);
      OFCondition cond = ds->putAndInsertUint8Array (DCM_EncapsulatedDocument, bytes.data (),
                                                     (unsigned long) padded);
      if (cond.bad ())
        {
          hepa_shim_set_msg (msg, msg_size, "%s: could not store the PDF: %s", path, cond.text ());
          return HEPA_DCM_ERR_NO_MEMORY;
        }
      return save_atomic (out, path, msg, msg_size) ? HEPA_DCM_OK : HEPA_DCM_ERR_IO;
    }
  catch (...)
    {
      hepa_shim_set_msg (msg, msg_size, "%s: out of memory or internal error writing the PDF", path);
      return HEPA_DCM_ERR_FAILED;
    }
}
