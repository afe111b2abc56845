/* sensor/findings.h - the findings aggregator: finding candidates in,
 * GuardDuty-shaped findings out.
 *
 * Detectors emit one struct finding_cand per occurrence. This module merges
 * the repeats of one (type, resource, remote) into one finding, the way
 * GuardDuty does, and hands each publication of a finding to a callback as
 * one line of JSON shaped like a GuardDuty finding (schemaVersion "2.0").
 *
 * Aggregation key. resource is the instance id when one is known for the
 * candidate's local address (assets, longest matching CIDR) or mirror
 * session (fc->vni), else the local address as text ("" when the candidate
 * has none). remote is the remote address as text, or for DNS_REQUEST
 * candidates the queried domain. A repeat adds fc->count to service.count,
 * moves updatedAt and eventLastSeen forward to its time (never back), and
 * replaces the details (action, evidence, additionalInfo, severity) with its
 * own; createdAt and eventFirstSeen stay.
 *
 * Identity. The finding id is 32 lower-case hex digits: two independent
 * 64-bit hashes of (sensor_id, type, resource, remote). No randomness and
 * no clock: a replay of the same capture gives the same ids, and a finding
 * evicted from memory and seen again gets its old id back (with a new
 * createdAt and a count that starts again; consumers keyed on the id, like
 * the Redis layer, simply overwrite it). arn is
 * "arn:<partition>:guardduty:<region>:<accountId>:detector/<sensor_id>/finding/<id>".
 *
 * When findings are published (packet time only; the wall clock is never
 * read, so a replay publishes the same things at any speed):
 *   - a new finding at once, from findings_add();
 *   - an update when its previous publication is at least
 *     findings.publishing_frequency older than the time given to
 *     findings_tick(); due updates sit in a heap ordered by due time, so a
 *     tick costs O(1) when nothing is due and O(log n) per publication;
 *   - every pending update at findings_flush() (end of replay, shutdown);
 *   - a pending update of a finding about to be evicted, just before.
 *
 * Trusted list. The callback set by findings_set_trusted() sees every
 * candidate first; when it returns 1 the candidate is dropped and counted
 * (trusted_dropped): a trusted address or domain suppresses every finding
 * that involves it, as GuardDuty's trusted IP list does.
 *
 * Suppression rules (cfg suppression_rules[]) are evaluated on every
 * occurrence, on: type, severity, instance id, the instance's tags (from
 * assets), local IP, remote IP (for port probes also each probe's remote),
 * remote port, domain, direction and resource role. A matching occurrence is
 * aggregated as usual; the finding is then archived ("archived": true, and
 * archived = 1 for the publisher) and the occurrence is counted in
 * stats.archived. A finding's archived flag follows its latest occurrence,
 * so after a reload that drops a rule the next update un-archives it.
 *
 * Resource. From assets (longest matching CIDR of the local address:
 * instance_id, eni, subnet_id, vpc_id, tags), otherwise from the mirror
 * session of fc->vni (eni, instance_id, vpc_id, subnet_id, account_id; the
 * tags of an asset with the same instance_id when there is one). An
 * internal address nothing describes still gets findings, with instanceId
 * "". accountId is the session's, else the top-level account_id. The
 * resource is resolved when the finding is created and copied into it.
 *
 * Memory. At most findings.max_findings findings, each a 248-byte struct
 * plus its strings (resource, tags, latest details): typically 400 to 800
 * bytes, at most about 1.3 KiB plus the tags. When full, the least
 * recently updated finding is evicted (its pending update, if any, is
 * published first) and counted. A repeat allocates nothing, except once in
 * a finding's life when its latest details outgrow the room the first
 * occurrence needed. Out of memory drops the candidate (counted in errors);
 * nothing here exits.
 *
 * Configuration lifetime. findings_new() copies the identity (account_id,
 * region, partition, sensor_id, publishing frequency, max_findings); these
 * do not change on reload. The suppression rules, assets and mirror sessions
 * are read through the cfg pointer: the cfg given to findings_new() or to
 * the latest findings_reload_rules() must stay valid until the next reload
 * or findings_free().
 *
 * Threading: one thread (the output thread) only; nothing here locks. */
#ifndef MG_FINDINGS_H
#define MG_FINDINGS_H

#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "finding.h"

struct findings;

/* NULL with a one-line message in err (may be NULL) when out of memory
 * or when c's findings section is unusable (cfg_load() has already
 * validated it). */
struct findings *findings_new(const struct cfg *c, char *err, size_t errlen);

/* Frees everything without publishing (call findings_flush() first to
 * publish pending updates). NULL is fine. */
void findings_free(struct findings *f);

/* Returns 1 when the candidate involves a trusted entry (local or remote
 * address, or domain): the candidate is then dropped. NULL fn = no list. */
typedef int (*findings_trusted_fn)(void *arg, const struct finding_cand *fc);
void findings_set_trusted(struct findings *f, findings_trusted_fn fn, void *arg);

/* One publication. Every pointer is valid only during the callback. */
struct finding_pub {
    const char *id;             /* 32 hex digits */
    const char *type;
    const char *json;           /* the finding: one object, no newline */
    const char *updated_at;     /* updatedAt, "2024-05-01T12:00:05.123Z" */
    const char *instance_id;    /* "" when unknown */
    double severity;
    uint64_t updated_epoch;     /* updatedAt in MILLISECONDS since the epoch */
    uint64_t count;             /* service.count */
    int archived;               /* a suppression rule matched: store, do not notify */
    int is_new;                 /* first publication of this finding */
};
typedef void (*findings_publish_fn)(void *arg, const struct finding_pub *p);
void findings_set_publisher(struct findings *f, findings_publish_fn fn, void *arg);

/* One occurrence (fc->count occurrences, at least 1). A new finding is
 * published before this returns. */
void findings_add(struct findings *f, const struct finding_cand *fc);

/* Packet time moved to now_ns: publish the updates that are due. */
void findings_tick(struct findings *f, uint64_t now_ns);

/* Publish every finding with an unpublished update (in due order). */
void findings_flush(struct findings *f);

/* SIGHUP: use newcfg's suppression rules, assets and mirror sessions from
 * now on; the aggregated findings stay as they are (with the resource they
 * were created with). newcfg must stay valid (see above). */
void findings_reload_rules(struct findings *f, const struct cfg *newcfg);

struct findings_stats {
    uint64_t candidates;        /* findings_add() calls */
    uint64_t created;           /* new findings */
    uint64_t updated;           /* occurrences merged into an existing finding */
    uint64_t published;         /* publisher calls */
    uint64_t archived;          /* occurrences that matched a suppression rule */
    uint64_t trusted_dropped;   /* candidates dropped by the trusted list */
    uint64_t evicted;           /* findings forgotten to make room */
    uint64_t errors;            /* candidates or publications lost to out of memory */
    uint32_t in_memory;         /* findings held now */
};
void findings_stats(const struct findings *f, struct findings_stats *st);

#endif /* MG_FINDINGS_H */
