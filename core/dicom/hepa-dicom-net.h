/* SPDX-License-Identifier: GPL-3.0-or-later */
/* DICOM networking over DCMTK's dcmnet, as plain C: C-ECHO, C-FIND (study and series level),
 * C-GET and C-MOVE into a local folder, C-STORE. No C++ type or exception crosses it.
 *
 * Every function returns a HepaDcmNetStatus and, on failure, writes one line into @msg. The line
 * never holds patient data (no names, IDs or query values): only the node, the operation and the
 * reason. DCMTK's own log stays off (at debug level it dumps datasets, PHI included).
 * Cancellation: @node->cancelled is polled between DIMSE messages; a cancelled operation
 * aborts the association and returns HEPA_DCM_NET_CANCELLED. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum
{
  HEPA_DCM_NET_OK = 0,
  HEPA_DCM_NET_FAILED,        /* the node answered with a failure status, or a protocol error */
  HEPA_DCM_NET_UNREACHABLE,   /* no TCP connection: refused, no route, unknown host */
  HEPA_DCM_NET_REFUSED,       /* the association was rejected (our AE title not allowed, busy) */
  HEPA_DCM_NET_WRONG_AET,     /* rejected: the node's AE title is not the one we called */
  HEPA_DCM_NET_TIMEOUT,       /* no answer within the timeout */
  HEPA_DCM_NET_CANCELLED,
  HEPA_DCM_NET_IO,            /* a local file could not be read or written */
} HepaDcmNetStatus;

typedef struct
{
  const char  *our_aet;          /* calling AE title, 1..16 characters */
  const char  *peer_aet;         /* called AE title */
  const char  *host;
  int          port;
  int          timeout_s;        /* connect, association and each DIMSE message; <= 0: 30 s */
  int          our_port;         /* C-MOVE: the port our storage SCP listens on */
  /* Polled between messages; non-zero: stop. May be NULL. */
  int        (*cancelled)        (void *user_data);
  /* Retrieval and sending: @done of @total objects (total 0 when not known yet). May be NULL. */
  void       (*progress)         (void *user_data, unsigned done, unsigned total);
  void        *user_data;
} HepaDcmNode;

typedef enum
{
  HEPA_DCM_LEVEL_STUDY,
  HEPA_DCM_LEVEL_SERIES,
} HepaDcmLevel;

/* Query keys; empty strings are universal matching. Wildcards (*, ?) as DICOM allows. */
typedef struct
{
  const char *patient_name;
  const char *patient_id;
  const char *study_date;        /* YYYYMMDD or a range YYYYMMDD-YYYYMMDD */
  const char *accession_number;
  const char *modality;          /* study level: Modalities in Study; series level: Modality */
  const char *study_uid;         /* required at series level */
} HepaDcmQuery;

/* One C-FIND match; absent attributes are empty. */
typedef struct
{
  char patient_name[324];
  char patient_id[68];
  char patient_birth_date[12];
  char study_uid[68];
  char study_date[12];
  char study_time[20];
  char accession_number[20];
  char study_description[68];
  char modalities[68];           /* study: Modalities in Study (backslash-separated); series:
                                  * Modality */
  char series_uid[68];
  char series_number[16];
  char series_description[68];
  long n_series;                 /* -1 when the node did not say */
  long n_instances;
} HepaDcmMatch;

typedef void (*HepaDcmMatchFunc) (void               *user_data,
                                  const HepaDcmMatch *match);

/* Verifies the node (C-ECHO). */
HepaDcmNetStatus hepa_dcm_net_echo  (const HepaDcmNode  *node,
                                     char               *msg,
                                     size_t              msg_size);

/* C-FIND in the Study Root model at @level; @func receives each match in order. */
HepaDcmNetStatus hepa_dcm_net_find  (const HepaDcmNode  *node,
                                     HepaDcmLevel        level,
                                     const HepaDcmQuery *query,
                                     HepaDcmMatchFunc    func,
                                     void               *user_data,
                                     char               *msg,
                                     size_t              msg_size);

/* Retrieves a study (@series_uid NULL or empty) or one series into @out_dir (existing) as
 * `<SOP Instance UID>.dcm`, each file written atomically. @move FALSE: C-GET on the same
 * association; TRUE: C-MOVE to @node->our_aet, received by a storage SCP this call runs on
 * @node->our_port. *n_received counts the files written. */
HepaDcmNetStatus hepa_dcm_net_retrieve (const HepaDcmNode *node,
                                        const char        *study_uid,
                                        const char        *series_uid,
                                        const char        *out_dir,
                                        int                move,
                                        unsigned          *n_received,
                                        char              *msg,
                                        size_t             msg_size);

/* Sends @n_paths DICOM files with C-STORE on one association. Stops at the first failure;
 * *n_sent counts the files the node accepted. */
HepaDcmNetStatus hepa_dcm_net_store (const HepaDcmNode  *node,
                                     const char *const  *paths,
                                     size_t              n_paths,
                                     unsigned           *n_sent,
                                     char               *msg,
                                     size_t              msg_size);

#ifdef __cplusplus
}
#endif
