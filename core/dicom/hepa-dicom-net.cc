// SPDX-License-Identifier: GPL-3.0-or-later
// DICOM networking over DCMTK's DcmSCU and DcmStorageSCP; see hepa-dicom-net.h. Every extern "C"
// function catches everything. Messages name the node and the reason, never patient data.
#include "hepa-dicom-net.h"
#include "hepa-dicom-shim-private.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmnet/diutil.h>
#include <dcmtk/dcmnet/dstorscp.h>
#include <dcmtk/dcmnet/scu.h>
#include <dcmtk/oflog/appender.h>
#include <dcmtk/oflog/logger.h>
#include <dcmtk/oflog/oflog.h>
#include <dcmtk/oflog/spi/logevent.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

namespace {

std::string
lower (std::string s)
{
  std::transform (s.begin (), s.end (), s.begin (), [] (unsigned char c) { return std::tolower (c); });
  return s;
}

// DcmSCU keeps the A-ASSOCIATE-RJ reason to itself and only logs it, at debug level. The dcmnet
// logger therefore gets one appender of its own, which keeps that line (it holds no patient data)
// and drops everything else; its level is raised only while an association is requested.
thread_local std::string reject_text;

class RejectCapture : public dcmtk::log4cplus::Appender
{
public:
  ~RejectCapture () override { destructorImpl (); }
  void close () override { closed = true; }

protected:
  void
  append (const dcmtk::log4cplus::spi::InternalLoggingEvent &event) override
  {
    std::string text (event.getMessage ().c_str ());
    if (text.find ("Association Rejected") != std::string::npos)
      reject_text = text;
  }
};

std::once_flag log_once;
std::mutex log_mutex;
int log_users = 0;

dcmtk::log4cplus::Logger
dcmnet_logger ()
{
  return dcmtk::log4cplus::Logger::getInstance (DCMTK_LOG4CPLUS_TEXT ("dcmtk.dcmnet"));
}

void
init_logging ()
{
  std::call_once (log_once, [] {
    OFLog::configure (OFLogger::OFF_LOG_LEVEL);
    auto logger = dcmnet_logger ();
    logger.removeAllAppenders ();
    logger.addAppender (dcmtk::log4cplus::SharedAppenderPtr (new RejectCapture ()));
    logger.setAdditivity (false);
    logger.setLogLevel (dcmtk::log4cplus::OFF_LOG_LEVEL);
  });
}

// Raises dcmnet's level for the lifetime of one association request.
struct RejectWatch
{
  RejectWatch ()
  {
    reject_text.clear ();
    std::lock_guard<std::mutex> lock (log_mutex);
    if (log_users++ == 0)
      dcmnet_logger ().setLogLevel (dcmtk::log4cplus::DEBUG_LOG_LEVEL);
  }
  ~RejectWatch ()
  {
    std::lock_guard<std::mutex> lock (log_mutex);
    if (--log_users == 0)
      dcmnet_logger ().setLogLevel (dcmtk::log4cplus::OFF_LOG_LEVEL);
  }
};

const char *
peer_name (const HepaDcmNode *node,
           char              *buf,
           size_t             size)
{
  std::snprintf (buf, size, "%s@%s:%d", node->peer_aet, node->host, node->port);
  return buf;
}

HepaDcmNetStatus
classify_failure (const HepaDcmNode *node,
                  OFCondition        cond,
                  const char        *what,
                  char              *msg,
                  size_t             msg_size)
{
  char peer[400];
  int timeout = node->timeout_s > 0 ? node->timeout_s : 30;

  peer_name (node, peer, sizeof peer);
  if (cond == DUL_ASSOCIATIONREJECTED)
    {
      std::string reason = lower (reject_text);
      if (reason.find ("called ae title not recognized") != std::string::npos)
        {
          hepa_shim_set_msg (msg, msg_size, "%s: association rejected: the node does not answer to the AE "
                   "title “%s” (wrong AE title)", peer, node->peer_aet);
          return HEPA_DCM_NET_WRONG_AET;
        }
      if (reason.find ("calling ae title not recognized") != std::string::npos)
        hepa_shim_set_msg (msg, msg_size, "%s: association refused: the node does not accept our AE title "
                 "“%s” (add it to the archive's known nodes)", peer, node->our_aet);
      else if (reason.find ("transient") != std::string::npos)
        hepa_shim_set_msg (msg, msg_size, "%s: association refused for now (the node is busy or limits "
                 "connections); try again later", peer);
      else
        hepa_shim_set_msg (msg, msg_size, "%s: association refused by the node", peer);
      return HEPA_DCM_NET_REFUSED;
    }

  OFString dump;
  std::string text = lower (DimseCondition::dump (dump, cond).c_str ());
  if (text.find ("timeout") != std::string::npos || text.find ("timed out") != std::string::npos)
    {
      hepa_shim_set_msg (msg, msg_size, "%s: no answer within %d s while %s (timeout)", peer, timeout, what);
      return HEPA_DCM_NET_TIMEOUT;
    }
  if (text.find ("refused") != std::string::npos || text.find ("unknown host") != std::string::npos
      || text.find ("unreachable") != std::string::npos || text.find ("no route") != std::string::npos
      || text.find ("tcp initialization error") != std::string::npos
      || text.find ("name or service not known") != std::string::npos)
    {
      std::string why = "no DICOM node listens there";
      if (text.find ("unknown host") != std::string::npos
          || text.find ("name or service") != std::string::npos)
        why = "unknown host";
      else if (text.find ("unreachable") != std::string::npos
               || text.find ("no route") != std::string::npos)
        why = "network unreachable";
      hepa_shim_set_msg (msg, msg_size, "%s: node unreachable: %s", peer, why.c_str ());
      return HEPA_DCM_NET_UNREACHABLE;
    }
  if (cond == DUL_PEERABORTEDASSOCIATION || cond == DUL_PEERREQUESTEDRELEASE)
    {
      hepa_shim_set_msg (msg, msg_size, "%s: the node closed the association while %s", peer, what);
      return HEPA_DCM_NET_FAILED;
    }
  // The condition's own text: DCMTK's, without dataset content.
  hepa_shim_set_msg (msg, msg_size, "%s: %s failed: %s", peer, what, cond.text ());
  return HEPA_DCM_NET_FAILED;
}

bool
valid_uid (const char *uid)
{
  size_t n = std::strlen (uid);
  if (n == 0 || n > 64)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!(std::isdigit ((unsigned char) uid[i]) || uid[i] == '.'))
      return false;
  return true;
}

const OFList<OFString> &
plain_syntaxes ()
{
  static OFList<OFString> list;
  static std::once_flag once;
  std::call_once (once, [] {
    list.push_back (UID_LittleEndianExplicitTransferSyntax);
    list.push_back (UID_LittleEndianImplicitTransferSyntax);
  });
  return list;
}

// What we accept when an archive sends us objects: uncompressed, and the compressions
// hepa-image.c decodes, kept as they come.
const OFList<OFString> &
receive_syntaxes ()
{
  static OFList<OFString> list;
  static std::once_flag once;
  std::call_once (once, [] {
    list.push_back (UID_LittleEndianExplicitTransferSyntax);
    list.push_back (UID_LittleEndianImplicitTransferSyntax);
    list.push_back (UID_JPEGProcess1TransferSyntax);
    list.push_back (UID_JPEGProcess2_4TransferSyntax);
    list.push_back (UID_JPEGProcess14SV1TransferSyntax);
    list.push_back (UID_JPEGLSLosslessTransferSyntax);
    list.push_back (UID_JPEGLSLossyTransferSyntax);
    list.push_back (UID_RLELosslessTransferSyntax);
    list.push_back (UID_DeflatedExplicitVRLittleEndianTransferSyntax);
  });
  return list;
}

// The storage classes a retrieval may bring: ultrasound, what Hepascope itself writes back,
// and the common cross-sectional ones (a study may hold them too).
const char *const storage_classes[] = {
  UID_UltrasoundImageStorage,
  UID_UltrasoundMultiframeImageStorage,
  UID_SecondaryCaptureImageStorage,
  UID_MultiframeGrayscaleByteSecondaryCaptureImageStorage,
  UID_MultiframeTrueColorSecondaryCaptureImageStorage,
  UID_ComprehensiveSRStorage,
  UID_EnhancedSRStorage,
  UID_BasicTextSRStorage,
  UID_SegmentationStorage,
  UID_ParametricMapStorage,
  UID_EncapsulatedPDFStorage,
  UID_KeyObjectSelectionDocumentStorage,
  UID_GrayscaleSoftcopyPresentationStateStorage,
  UID_CTImageStorage,
  UID_MRImageStorage,
  UID_DigitalXRayImageStorageForPresentation,
  UID_ComputedRadiographyImageStorage,
  UID_VLPhotographicImageStorage,
};

// Writes @dataset as `<dir>/<uid>.dcm` through a temporary file and rename.
bool
write_object (DcmDataset        *dataset,
              const std::string &dir,
              std::string       &error)
{
  OFString sop_uid;
  if (dataset->findAndGetOFString (DCM_SOPInstanceUID, sop_uid).bad ()
      || !valid_uid (sop_uid.c_str ()))
    {
      error = "an object without a valid SOP Instance UID";
      return false;
    }
  std::string path = dir + "/" + sop_uid.c_str () + ".dcm";
  std::string tmp = path + ".part";
  DcmFileFormat format (dataset);
  E_TransferSyntax xfer = dataset->getOriginalXfer ();
  if (xfer == EXS_Unknown)
    xfer = EXS_LittleEndianExplicit;
  OFCondition cond = format.saveFile (tmp.c_str (), xfer);
  if (cond.bad ())
    {
      error = std::string ("could not write into ") + dir + ": " + cond.text ();
      unlink (tmp.c_str ());
      return false;
    }
  if (rename (tmp.c_str (), path.c_str ()) != 0)
    {
      error = std::string ("could not write into ") + dir + ": " + std::strerror (errno);
      unlink (tmp.c_str ());
      return false;
    }
  return true;
}

class Scu : public DcmSCU
{
public:
  const HepaDcmNode *node;
  bool               was_cancelled = false;
  // C-FIND
  HepaDcmLevel       level = HEPA_DCM_LEVEL_STUDY;
  HepaDcmMatchFunc   match_func = nullptr;
  void              *match_data = nullptr;
  // C-GET / C-MOVE
  std::string        out_dir;
  unsigned           received = 0;
  unsigned           total = 0;
  Uint16             last_status = 0;
  unsigned           failed_subops = 0;
  std::string        io_error;
  std::atomic<unsigned> *moved = nullptr;   // C-MOVE: the SCP thread's count

  explicit Scu (const HepaDcmNode *n) : node (n)
  {
    Uint32 timeout = (Uint32) (n->timeout_s > 0 ? n->timeout_s : 30);
    setAETitle (n->our_aet);
    setPeerAETitle (n->peer_aet);
    setPeerHostName (n->host);
    setPeerPort ((Uint16) n->port);
    setACSETimeout (timeout);
    setDIMSETimeout (timeout);
    setDIMSEBlockingMode (DIMSE_NONBLOCKING);
    setConnectionTimeout ((Sint32) timeout);
    setMaxReceivePDULength (ASC_MAXIMUMPDUSIZE);
  }

  bool
  cancelled ()
  {
    if (!was_cancelled && node->cancelled != nullptr && node->cancelled (node->user_data))
      was_cancelled = true;
    return was_cancelled;
  }

  void
  report (unsigned done)
  {
    if (node->progress != nullptr)
      node->progress (node->user_data, done, total);
  }

  OFCondition
  handleFINDResponse (const T_ASC_PresentationContextID presID,
                      QRResponse                       *response,
                      OFBool                           &waitForNextResponse) override
  {
    OFCondition cond = DcmSCU::handleFINDResponse (presID, response, waitForNextResponse);
    last_status = response->m_status;
    if (DICOM_PENDING_STATUS (response->m_status) && response->m_dataset != nullptr
        && match_func != nullptr)
      {
        HepaDcmMatch m;
        std::memset (&m, 0, sizeof m);
        DcmDataset *d = response->m_dataset;
        // Names in the archive's character set come back as UTF-8 where DCMTK can convert.
        if (d->tagExistsWithValue (DCM_SpecificCharacterSet))
          d->convertToUTF8 ();
        auto get = [d] (const DcmTagKey &tag, char *buf, size_t size) {
          OFString v;
          if (d->findAndGetOFStringArray (tag, v).good ())
            std::snprintf (buf, size, "%s", v.c_str ());
        };
        auto get_long = [d] (const DcmTagKey &tag) -> long {
          OFString v;
          if (d->findAndGetOFString (tag, v).good () && !v.empty ())
            return std::strtol (v.c_str (), nullptr, 10);
          return -1;
        };
        get (DCM_PatientName, m.patient_name, sizeof m.patient_name);
        get (DCM_PatientID, m.patient_id, sizeof m.patient_id);
        get (DCM_PatientBirthDate, m.patient_birth_date, sizeof m.patient_birth_date);
        get (DCM_StudyInstanceUID, m.study_uid, sizeof m.study_uid);
        get (DCM_StudyDate, m.study_date, sizeof m.study_date);
        get (DCM_StudyTime, m.study_time, sizeof m.study_time);
        get (DCM_AccessionNumber, m.accession_number, sizeof m.accession_number);
        get (DCM_StudyDescription, m.study_description, sizeof m.study_description);
        if (level == HEPA_DCM_LEVEL_STUDY)
          {
            get (DCM_ModalitiesInStudy, m.modalities, sizeof m.modalities);
            m.n_series = get_long (DCM_NumberOfStudyRelatedSeries);
            m.n_instances = get_long (DCM_NumberOfStudyRelatedInstances);
          }
        else
          {
            get (DCM_Modality, m.modalities, sizeof m.modalities);
            get (DCM_SeriesInstanceUID, m.series_uid, sizeof m.series_uid);
            get (DCM_SeriesNumber, m.series_number, sizeof m.series_number);
            get (DCM_SeriesDescription, m.series_description, sizeof m.series_description);
            m.n_series = -1;
            m.n_instances = get_long (DCM_NumberOfSeriesRelatedInstances);
          }
        match_func (match_data, &m);
      }
    if (waitForNextResponse && cancelled ())
      {
        sendCANCELRequest (presID);
        waitForNextResponse = OFFalse;
      }
    return cond;
  }

  void
  note_retrieve_response (RetrieveResponse *response)
  {
    last_status = response->m_status;
    failed_subops = response->m_numberOfFailedSubops;
    unsigned t = (unsigned) response->m_numberOfCompletedSubops + response->m_numberOfFailedSubops
                 + response->m_numberOfWarningSubops + response->m_numberOfRemainingSubops;
    if (t > total)
      total = t;
  }

  OFCondition
  handleCGETResponse (const T_ASC_PresentationContextID presID,
                      RetrieveResponse                 *response,
                      OFBool                           &continueCGETSession) override
  {
    OFCondition cond = DcmSCU::handleCGETResponse (presID, response, continueCGETSession);
    note_retrieve_response (response);
    report (received);
    if (continueCGETSession && cancelled ())
      continueCGETSession = OFFalse;
    return cond;
  }

  OFCondition
  handleSTORERequest (const T_ASC_PresentationContextID /* presID */,
                      DcmDataset                       *incomingObject,
                      OFBool                           &continueCGETSession,
                      Uint16                           &cStoreReturnStatus) override
  {
    std::string error;
    if (incomingObject == nullptr)
      return DIMSE_NULLKEY;
    bool ok = write_object (incomingObject, out_dir, error);
    delete incomingObject;
    if (ok)
      {
        received++;
        cStoreReturnStatus = STATUS_Success;
        report (received);
      }
    else
      {
        if (io_error.empty ())
          io_error = error;
        cStoreReturnStatus = STATUS_STORE_Refused_OutOfResources;
        continueCGETSession = OFFalse;
      }
    if (cancelled ())
      continueCGETSession = OFFalse;
    return EC_Normal;
  }

  OFCondition
  handleMOVEResponse (const T_ASC_PresentationContextID presID,
                      RetrieveResponse                 *response,
                      OFBool                           &waitForNextResponse) override
  {
    OFCondition cond = DcmSCU::handleMOVEResponse (presID, response, waitForNextResponse);
    note_retrieve_response (response);
    if (moved != nullptr)
      report (moved->load ());
    if (waitForNextResponse && cancelled ())
      {
        sendCANCELRequest (presID);
        waitForNextResponse = OFFalse;
      }
    return cond;
  }
};

// The storage SCP that receives a C-MOVE: files land in a hidden folder inside the output folder
// and are renamed into place once complete.
class MoveReceiver : public DcmStorageSCP
{
public:
  std::atomic<bool>      stop { false };
  mutable std::atomic<unsigned> stored { 0 };
  mutable std::string    error;
  mutable std::mutex     error_mutex;
  std::string            final_dir;

  OFBool stopAfterConnectionTimeout () override { return stop.load (); }
  OFBool stopAfterCurrentAssociation () override { return stop.load (); }

  void
  notifyInstanceStored (const OFString &filename,
                        const OFString & /* sopClassUID */,
                        const OFString &sopInstanceUID,
                        DcmDataset     * /* dataset */) const override
  {
    std::string target = final_dir + "/" + sopInstanceUID.c_str () + ".dcm";
    if (!valid_uid (sopInstanceUID.c_str ()) || rename (filename.c_str (), target.c_str ()) != 0)
      {
        std::lock_guard<std::mutex> lock (error_mutex);
        if (error.empty ())
          error = std::string ("could not write into ") + final_dir + ": " + std::strerror (errno);
        return;
      }
    stored++;
  }
};

HepaDcmNetStatus
open_association (Scu        &scu,
                  const char *what,
                  char       *msg,
                  size_t      msg_size)
{
  init_logging ();
  OFCondition cond = scu.initNetwork ();
  if (cond.bad ())
    return classify_failure (scu.node, cond, what, msg, msg_size);
  RejectWatch watch;
  cond = scu.negotiateAssociation ();
  if (cond.bad ())
    return classify_failure (scu.node, cond, what, msg, msg_size);
  return HEPA_DCM_NET_OK;
}

bool
check_node (const HepaDcmNode *node,
            char              *msg,
            size_t             msg_size)
{
  if (node == nullptr || node->our_aet == nullptr || node->peer_aet == nullptr
      || node->host == nullptr)
    {
      hepa_shim_set_msg (msg, msg_size, "no node given");
      return false;
    }
  size_t a = std::strlen (node->our_aet), b = std::strlen (node->peer_aet);
  if (a == 0 || a > 16 || b == 0 || b > 16)
    {
      hepa_shim_set_msg (msg, msg_size, "AE titles have 1 to 16 characters");
      return false;
    }
  if (node->port <= 0 || node->port > 65535 || node->host[0] == '\0')
    {
      hepa_shim_set_msg (msg, msg_size, "a node needs a host and a port from 1 to 65535");
      return false;
    }
  return true;
}

HepaDcmNetStatus
finish_cancelled (Scu    &scu,
                  char   *msg,
                  size_t  msg_size)
{
  scu.abortAssociation ();
  hepa_shim_set_msg (msg, msg_size, "cancelled");
  return HEPA_DCM_NET_CANCELLED;
}

} // namespace

extern "C" HepaDcmNetStatus
hepa_dcm_net_echo (const HepaDcmNode *node,
                   char              *msg,
                   size_t             msg_size)
{
  try
    {
      if (!check_node (node, msg, msg_size))
        return HEPA_DCM_NET_FAILED;
      Scu scu (node);
      scu.addPresentationContext (UID_VerificationSOPClass, plain_syntaxes ());
      HepaDcmNetStatus status = open_association (scu, "verifying", msg, msg_size);
      if (status != HEPA_DCM_NET_OK)
        return status;
      OFCondition cond = scu.sendECHORequest (0);
      if (cond.bad ())
        {
          status = classify_failure (node, cond, "verifying", msg, msg_size);
          scu.abortAssociation ();
          return status;
        }
      scu.releaseAssociation ();
      return HEPA_DCM_NET_OK;
    }
  catch (...)
    {
      hepa_shim_set_msg (msg, msg_size, "out of memory or internal error in DICOM networking");
      return HEPA_DCM_NET_FAILED;
    }
}

extern "C" HepaDcmNetStatus
hepa_dcm_net_find (const HepaDcmNode  *node,
                   HepaDcmLevel        level,
                   const HepaDcmQuery *query,
                   HepaDcmMatchFunc    func,
                   void               *user_data,
                   char               *msg,
                   size_t              msg_size)
{
  try
    {
      if (!check_node (node, msg, msg_size))
        return HEPA_DCM_NET_FAILED;
      auto q = [] (const char *s) { return s != nullptr ? s : ""; };
      if (level == HEPA_DCM_LEVEL_SERIES && q (query->study_uid)[0] == '\0')
        {
          hepa_shim_set_msg (msg, msg_size, "a series query needs a study UID");
          return HEPA_DCM_NET_FAILED;
        }
      Scu scu (node);
      scu.level = level;
      scu.match_func = func;
      scu.match_data = user_data;
      scu.addPresentationContext (UID_FINDStudyRootQueryRetrieveInformationModel,
                                  plain_syntaxes ());
      HepaDcmNetStatus status = open_association (scu, "querying", msg, msg_size);
      if (status != HEPA_DCM_NET_OK)
        return status;

      DcmDataset keys;
      // Our query values are UTF-8; say so when one is not plain ASCII.
      for (const char *v : { q (query->patient_name), q (query->patient_id),
                             q (query->accession_number) })
        for (const char *c = v; *c != '\0'; c++)
          if ((unsigned char) *c >= 0x80)
            keys.putAndInsertString (DCM_SpecificCharacterSet, "ISO_IR 192");
      keys.putAndInsertString (DCM_QueryRetrieveLevel,
                               level == HEPA_DCM_LEVEL_STUDY ? "STUDY" : "SERIES");
      keys.putAndInsertString (DCM_PatientName, q (query->patient_name));
      keys.putAndInsertString (DCM_PatientID, q (query->patient_id));
      keys.putAndInsertString (DCM_PatientBirthDate, "");
      keys.putAndInsertString (DCM_StudyInstanceUID, q (query->study_uid));
      keys.putAndInsertString (DCM_StudyDate, q (query->study_date));
      keys.putAndInsertString (DCM_StudyTime, "");
      keys.putAndInsertString (DCM_AccessionNumber, q (query->accession_number));
      keys.putAndInsertString (DCM_StudyDescription, "");
      if (level == HEPA_DCM_LEVEL_STUDY)
        {
          keys.putAndInsertString (DCM_ModalitiesInStudy, q (query->modality));
          keys.putAndInsertString (DCM_NumberOfStudyRelatedSeries, "");
          keys.putAndInsertString (DCM_NumberOfStudyRelatedInstances, "");
        }
      else
        {
          keys.putAndInsertString (DCM_Modality, q (query->modality));
          keys.putAndInsertString (DCM_SeriesInstanceUID, "");
          keys.putAndInsertString (DCM_SeriesNumber, "");
          keys.putAndInsertString (DCM_SeriesDescription, "");
          keys.putAndInsertString (DCM_NumberOfSeriesRelatedInstances, "");
        }
      T_ASC_PresentationContextID pc =
        scu.findPresentationContextID (UID_FINDStudyRootQueryRetrieveInformationModel, "");
      if (pc == 0)
        {
          char peer[400];
          hepa_shim_set_msg (msg, msg_size, "%s: the node does not offer study queries (C-FIND)",
                   peer_name (node, peer, sizeof peer));
          scu.releaseAssociation ();
          return HEPA_DCM_NET_FAILED;
        }
      OFCondition cond = scu.sendFINDRequest (pc, &keys, nullptr);
      if (scu.was_cancelled)
        return finish_cancelled (scu, msg, msg_size);
      if (cond.bad ())
        {
          status = classify_failure (node, cond, "querying", msg, msg_size);
          scu.abortAssociation ();
          return status;
        }
      scu.releaseAssociation ();
      if (scu.last_status != STATUS_Success && !DICOM_PENDING_STATUS (scu.last_status))
        {
          char peer[400];
          hepa_shim_set_msg (msg, msg_size, "%s: the query failed (status 0x%04x)",
                   peer_name (node, peer, sizeof peer), scu.last_status);
          return HEPA_DCM_NET_FAILED;
        }
      return HEPA_DCM_NET_OK;
    }
  catch (...)
    {
      hepa_shim_set_msg (msg, msg_size, "out of memory or internal error in DICOM networking");
      return HEPA_DCM_NET_FAILED;
    }
}

extern "C" HepaDcmNetStatus
hepa_dcm_net_retrieve (const HepaDcmNode *node,
                       const char        *study_uid,
                       const char        *series_uid,
                       const char        *out_dir,
                       int                move,
                       unsigned          *n_received,
                       char              *msg,
                       size_t             msg_size)
{
  if (n_received != nullptr)
    *n_received = 0;
  try
    {
      char peer[400];
      if (!check_node (node, msg, msg_size))
        return HEPA_DCM_NET_FAILED;
      peer_name (node, peer, sizeof peer);
      if (study_uid == nullptr || !valid_uid (study_uid)
          || (series_uid != nullptr && series_uid[0] != '\0' && !valid_uid (series_uid)))
        {
          hepa_shim_set_msg (msg, msg_size, "not a valid DICOM UID (digits and dots, at most 64)");
          return HEPA_DCM_NET_FAILED;
        }
      bool series = series_uid != nullptr && series_uid[0] != '\0';
      const char *model = move ? UID_MOVEStudyRootQueryRetrieveInformationModel
                               : UID_GETStudyRootQueryRetrieveInformationModel;

      Scu scu (node);
      scu.out_dir = out_dir;
      scu.setStorageMode (DCMSCU_STORAGE_DISK);
      scu.addPresentationContext (model, plain_syntaxes ());
      if (!move)
        for (const char *uid : storage_classes)
          scu.addPresentationContext (uid, receive_syntaxes (), ASC_SC_ROLE_SCP);

      // C-MOVE: our storage SCP listens before the request goes out.
      MoveReceiver receiver;
      std::thread listener;
      std::string incoming = std::string (out_dir) + "/.incoming";
      if (move)
        {
          if (node->our_port <= 0 || node->our_port > 65535)
            {
              hepa_shim_set_msg (msg, msg_size, "C-MOVE needs our own port (1 to 65535) for the archive "
                       "to send to");
              return HEPA_DCM_NET_FAILED;
            }
          if (mkdir (incoming.c_str (), 0700) != 0 && errno != EEXIST)
            {
              hepa_shim_set_msg (msg, msg_size, "%s: %s", out_dir, std::strerror (errno));
              return HEPA_DCM_NET_IO;
            }
          receiver.final_dir = out_dir;
          receiver.setAETitle (node->our_aet);
          receiver.setPort ((Uint16) node->our_port);
          receiver.setConnectionBlockingMode (DUL_NOBLOCK);
          receiver.setConnectionTimeout (1);
          receiver.setACSETimeout ((Uint32) (node->timeout_s > 0 ? node->timeout_s : 30));
          receiver.setDIMSETimeout ((Uint32) (node->timeout_s > 0 ? node->timeout_s : 30));
          receiver.setOutputDirectory (incoming.c_str ());
          receiver.setDirectoryGenerationMode (DcmStorageSCP::DGM_NoSubdirectory);
          receiver.setFilenameGenerationMode (DcmStorageSCP::FGM_SOPInstanceUID);
          receiver.setFilenameExtension (".part");
          for (const char *uid : storage_classes)
            receiver.addPresentationContext (uid, receive_syntaxes ());
          init_logging ();
          OFCondition cond = receiver.setAndCheckAssociationProfile ("DEFAULT");
          if (cond.good ())
            cond = receiver.openListenPort ();
          if (cond.bad ())
            {
              rmdir (incoming.c_str ());
              hepa_shim_set_msg (msg, msg_size, "cannot listen on port %d for the C-MOVE: %s",
                       node->our_port, cond.text ());
              return HEPA_DCM_NET_IO;
            }
          listener = std::thread ([&receiver] { receiver.acceptAssociations (); });
          scu.moved = &receiver.stored;
        }
      auto stop_listener = [&] {
        if (listener.joinable ())
          {
            receiver.stop = true;
            listener.join ();
          }
        if (move)
          rmdir (incoming.c_str ());
      };

      HepaDcmNetStatus status = open_association (scu, "retrieving", msg, msg_size);
      if (status != HEPA_DCM_NET_OK)
        {
          stop_listener ();
          return status;
        }
      T_ASC_PresentationContextID pc = scu.findPresentationContextID (model, "");
      if (pc == 0)
        {
          hepa_shim_set_msg (msg, msg_size, "%s: the node does not offer %s", peer,
                   move ? "C-MOVE" : "C-GET (try C-MOVE)");
          scu.releaseAssociation ();
          stop_listener ();
          return HEPA_DCM_NET_FAILED;
        }
      DcmDataset keys;
      keys.putAndInsertString (DCM_QueryRetrieveLevel, series ? "SERIES" : "STUDY");
      keys.putAndInsertString (DCM_StudyInstanceUID, study_uid);
      if (series)
        keys.putAndInsertString (DCM_SeriesInstanceUID, series_uid);
      OFCondition cond = move ? scu.sendMOVERequest (pc, node->our_aet, &keys, nullptr)
                              : scu.sendCGETRequest (pc, &keys, nullptr);
      if (move)
        {
          stop_listener ();
          scu.received = receiver.stored.load ();
          if (scu.io_error.empty ())
            scu.io_error = receiver.error;
        }
      if (n_received != nullptr)
        *n_received = scu.received;
      if (scu.was_cancelled)
        return finish_cancelled (scu, msg, msg_size);
      if (!scu.io_error.empty ())
        {
          scu.abortAssociation ();
          hepa_shim_set_msg (msg, msg_size, "%s", scu.io_error.c_str ());
          return HEPA_DCM_NET_IO;
        }
      if (cond.bad ())
        {
          status = classify_failure (node, cond, "retrieving", msg, msg_size);
          scu.abortAssociation ();
          return status;
        }
      scu.releaseAssociation ();
      if (scu.failed_subops > 0 || (scu.last_status != STATUS_Success
                                    && !DICOM_PENDING_STATUS (scu.last_status)))
        {
          hepa_shim_set_msg (msg, msg_size, "%s: retrieved %u of %u objects; the node reported status "
                   "0x%04x%s", peer, scu.received, std::max (scu.total, scu.received),
                   scu.last_status, move ? " (is our AE title known to the archive with this "
                   "host and port?)" : "");
          return HEPA_DCM_NET_FAILED;
        }
      return HEPA_DCM_NET_OK;
    }
  catch (...)
    {
      hepa_shim_set_msg (msg, msg_size, "out of memory or internal error in DICOM networking");
      return HEPA_DCM_NET_FAILED;
    }
}

extern "C" HepaDcmNetStatus
hepa_dcm_net_store (const HepaDcmNode  *node,
                    const char *const  *paths,
                    size_t              n_paths,
                    unsigned           *n_sent,
                    char               *msg,
                    size_t              msg_size)
{
  if (n_sent != nullptr)
    *n_sent = 0;
  try
    {
      char peer[400];
      if (!check_node (node, msg, msg_size))
        return HEPA_DCM_NET_FAILED;
      peer_name (node, peer, sizeof peer);

      // One presentation context per (SOP class, transfer syntax) the files need.
      std::vector<std::pair<std::string, std::string>> wanted;
      for (size_t i = 0; i < n_paths; i++)
        {
          DcmFileFormat format;
          OFCondition cond = format.loadFile (paths[i], EXS_Unknown, EGL_noChange, 4096);
          OFString sop_class, xfer;
          if (cond.bad ())
            {
              hepa_shim_set_msg (msg, msg_size, "%s: not a readable DICOM file: %s", paths[i], cond.text ());
              return HEPA_DCM_NET_IO;
            }
          if (format.getMetaInfo ()->findAndGetOFString (DCM_MediaStorageSOPClassUID, sop_class).bad ()
              && format.getDataset ()->findAndGetOFString (DCM_SOPClassUID, sop_class).bad ())
            {
              hepa_shim_set_msg (msg, msg_size, "%s: no SOP Class UID: cannot be sent", paths[i]);
              return HEPA_DCM_NET_IO;
            }
          DcmXfer x (format.getDataset ()->getOriginalXfer ());
          xfer = x.getXferID ();
          std::pair<std::string, std::string> key (sop_class.c_str (), xfer.c_str ());
          if (std::find (wanted.begin (), wanted.end (), key) == wanted.end ())
            wanted.push_back (key);
        }

      Scu scu (node);
      scu.setDatasetConversionMode (OFTrue);
      for (const auto &w : wanted)
        {
          OFList<OFString> syntaxes;
          syntaxes.push_back (w.second.c_str ());
          if (w.second != UID_LittleEndianExplicitTransferSyntax)
            syntaxes.push_back (UID_LittleEndianExplicitTransferSyntax);
          if (w.second != UID_LittleEndianImplicitTransferSyntax)
            syntaxes.push_back (UID_LittleEndianImplicitTransferSyntax);
          scu.addPresentationContext (w.first.c_str (), syntaxes);
        }
      HepaDcmNetStatus status = open_association (scu, "sending", msg, msg_size);
      if (status != HEPA_DCM_NET_OK)
        return status;
      scu.total = (unsigned) n_paths;
      for (size_t i = 0; i < n_paths; i++)
        {
          if (scu.cancelled ())
            return finish_cancelled (scu, msg, msg_size);
          Uint16 rsp = 0;
          OFCondition cond = scu.sendSTORERequest (0, paths[i], nullptr, rsp);
          if (cond.bad ())
            {
              if (cond == NET_EC_NoAcceptablePresentationContexts
                  || cond == DIMSE_NOVALIDPRESENTATIONCONTEXTID)
                {
                  hepa_shim_set_msg (msg, msg_size, "%s: %s does not accept this kind of object", paths[i], peer);
                  scu.releaseAssociation ();
                  return HEPA_DCM_NET_FAILED;
                }
              status = classify_failure (node, cond, "sending", msg, msg_size);
              scu.abortAssociation ();
              return status;
            }
          if (rsp != STATUS_Success && (rsp & 0xf000) != 0xb000)
            {
              hepa_shim_set_msg (msg, msg_size, "%s: %s refused to store it (status 0x%04x)", paths[i], peer,
                       rsp);
              scu.releaseAssociation ();
              return HEPA_DCM_NET_FAILED;
            }
          if (n_sent != nullptr)
            *n_sent = (unsigned) (i + 1);
          scu.report ((unsigned) (i + 1));
        }
      scu.releaseAssociation ();
      return HEPA_DCM_NET_OK;
    }
  catch (...)
    {
      hepa_shim_set_msg (msg, msg_size, "out of memory or internal error in DICOM networking");
      return HEPA_DCM_NET_FAILED;
    }
}
