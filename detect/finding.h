/* detect/finding.h - finding candidates: what a detector concludes.
 *
 * A detector fills one struct finding_cand per occurrence (a connection to a
 * listed address, a query for a listed domain, a scan decision, ...). It is a
 * fixed-size record: the detection thread sends it by value through the ring
 * to the output thread, where the aggregator (sensor/findings.c) merges
 * repeats of the same (type, resource, remote) into one GuardDuty-shaped
 * finding, applies the trusted list and suppression rules, and publishes.
 * Detectors never format JSON and never do I/O. */
#ifndef MG_FINDING_H
#define MG_FINDING_H

#include <stdint.h>
#include "rec.h"

enum fc_action {                    /* GuardDuty's action.actionType */
    FC_NETWORK_CONNECTION = 0,
    FC_PORT_PROBE,
    FC_DNS_REQUEST,
};

enum fc_role { FC_TARGET = 0, FC_ACTOR = 1 };          /* service.resourceRole */
enum fc_dir { FC_OUTBOUND = 0, FC_INBOUND = 1, FC_UNKNOWN_DIR = 2 };

#define FC_TYPE_LEN   64
#define FC_DOMAIN_LEN DNS_MAX_NAME
#define FC_INFO_LEN   256
#define FC_LIST_LEN   64
#define FC_ENTRY_LEN  264
#define FC_MAX_PROBES 8

struct fc_probe {                   /* one entry of portProbeDetails[] */
    uint16_t local_port;
    uint8_t  family;
    uint8_t  _pad;
    struct mg_addr remote;
};

struct finding_cand {
    char     type[FC_TYPE_LEN];     /* "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom" */
    double   severity;              /* 1.0 .. 10.0 */
    uint64_t ts_ns;                 /* when it happened (packet time) */
    uint32_t vni;                   /* mirror session the evidence came from, 0 = none */
    uint8_t  action;                /* enum fc_action */
    uint8_t  role;                  /* enum fc_role: the instance's role */
    uint8_t  direction;             /* enum fc_dir, seen from the instance */
    uint8_t  family;                /* of local/remote, 0 = no addresses (DNS only) */
    uint8_t  proto;                 /* IP protocol of the connection */
    uint8_t  n_probes;
    uint16_t local_port, remote_port;
    uint16_t _pad;
    struct mg_addr local;           /* the instance's address (the resource) */
    struct mg_addr remote;          /* the other side */
    uint32_t count;                 /* occurrences this candidate stands for (>= 1) */
    char     domain[FC_DOMAIN_LEN]; /* DNS_REQUEST: the queried name */
    char     list_name[FC_LIST_LEN];    /* threat intelligence: the list's name */
    char     list_entry[FC_ENTRY_LEN];  /* ... and the entry that matched */
    char     info[FC_INFO_LEN];     /* additionalInfo: a JSON object's members, no braces,
                                       e.g. "\"threatListName\":\"x\""; "" = none */
    struct fc_probe probes[FC_MAX_PROBES];
};

#endif /* MG_FINDING_H */
