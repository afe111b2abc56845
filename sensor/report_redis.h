/* sensor/report_redis.h - delivery of findings to Redis, exactly once, with
 * an on-disk spool so that none is lost while Redis is down or slow.
 *
 * Every finding submitted becomes one message with a per-sensor sequence
 * number. A message is delivered by one server-side Lua script call
 * (EVALSHA, EVAL when the server lost the script) which does, atomically:
 *
 *   - nothing (returns 0) when seq <= HGET <prefix>:sensor-seq <sensor_id>:
 *     it was delivered before and only the reply got lost;
 *   - XADD <stream> [MAXLEN ~ n] * detail-type "GuardDuty Finding"
 *       source mirrorguard time <updatedAt> detail <json> sensor <id> seq <n>
 *   - HSET <prefix>:finding:<id> json type severity updatedAt instanceId
 *       archived count id
 *   - ZADD <prefix>:by-updated <epoch> <id>, ZADD <prefix>:by-severity <sev> <id>
 *   - PUBLISH <channel> {"id":..,"type":..,"severity":..} unless archived
 *   - HSET <prefix>:sensor-seq <sensor_id> <seq>, returns 1.
 *
 * Messages are pipelined: poll() sends up to batch_size script calls and then
 * reads their replies, one round trip per batch. Order matters (a later seq
 * would make an earlier one look like a duplicate), so each call also carries
 * the seq of the call before it in the same pipeline and the script refuses
 * (returns -1) when that one was not applied; the refused tail is sent again.
 *
 * Where a message waits: submit() puts it in a bounded in-memory queue. When
 * Redis is not connected, or the queue is full, the queue is written to the
 * spool (oldest first) and so is the new message. The spool therefore always
 * holds older messages than the queue, and poll() sends the spool first. A
 * message is lost only when it can neither be queued nor spooled (spool
 * unusable and queue full); that is counted and logged.
 *
 * Sequence numbers survive restarts: the spool's state file holds a reserved
 * ceiling, raised SEQ_BLOCK at a time, and a new run starts above it, above
 * the highest seq in the spool and above the mark in Redis when it can read
 * it at open. Without a usable spool the first seq is taken from the clock
 * (microseconds since the epoch), which is above any earlier run's unless it
 * delivered more than a million findings per second on average.
 *
 * sensor_id must be unique per sensor writing to the same Redis database.
 * The keys of one message are in different hash slots: a Redis Cluster needs
 * a {hash tag} in prefix and stream.
 *
 * Threading: one struct redis_out is used by one thread (the sensor's output
 * thread); nothing here takes a lock. poll() and close() do blocking network
 * I/O bounded by the configured timeouts; submit() does no network I/O (it may
 * write to the spool). SIGPIPE is blocked in the calling thread around network
 * I/O and a pending one is discarded, so a dead server cannot kill the process. */
#ifndef MG_REPORT_REDIS_H
#define MG_REPORT_REDIS_H

#include <stddef.h>
#include <stdint.h>

struct redis_out;

struct redis_out_cfg {
    /* redis://[user[:password]@]host[:port][/db]  (port 6379, db 0)
     * unix:///path/to/socket[?db=N]               rediss:// is refused. */
    const char *url;
    /* The secret, first found wins: password (already resolved by the
     * caller), then the first line of password_file, then the environment
     * variable named by password_env, then the URL. It is never printed nor
     * put in an error message. user overrides the URL's user; with a user the
     * login is AUTH user password (ACL), without one AUTH password. */
    const char *user, *password, *password_file, *password_env;
    const char *stream;             /* NULL/"" = "mirrorguard:findings" */
    const char *prefix;             /* NULL/"" = "mirrorguard" */
    const char *channel;            /* NULL = "mirrorguard:notify", "" = no PUBLISH */
    uint32_t stream_maxlen;         /* MAXLEN ~ n; 0 = no trimming */
    const char *spool_dir;          /* NULL/"" = no spool: memory only */
    const char *fsync;              /* "always" | "batch" (default) | "never" */
    uint32_t fsync_batch_ms;        /* batch: fsync at most this often, 0 = 200 */
    uint32_t connect_timeout_ms;    /* 0 = 2000 */
    uint32_t command_timeout_ms;    /* 0 = 5000 */
    uint32_t queue_size;            /* messages in memory, 0 = 10000 */
    uint32_t batch_size;            /* script calls per round trip, 0 = 512 */
    uint32_t poll_budget_ms;        /* time one poll() may spend sending, 0 = 50 */
    uint32_t backoff_min_ms;        /* reconnect backoff, 0 = 100 */
    uint32_t backoff_max_ms;        /* 0 = 30000 */
    const char *sensor_id;          /* NULL/"" = the host name */
    int connect_at_open;            /* 1: try to connect in open() (blocks up to
                                       connect_timeout_ms; failure is not fatal) */
    /* Warnings and errors, one line each without a trailing newline. NULL =
     * "mirrorguard: redis: <line>" on stderr. */
    void (*log)(void *arg, const char *line);
    void *log_arg;
};

struct redis_out_stats {
    uint64_t submitted;             /* submit() calls */
    uint64_t queued;                /* messages put in the memory queue */
    uint64_t spooled;               /* records written to the spool */
    uint64_t delivered;             /* applied by the script (returned 1) */
    uint64_t duplicates;            /* skipped by the script (returned 0) */
    uint64_t retried;               /* messages sent again after a failure */
    uint64_t reconnects;            /* successful connects after the first */
    uint64_t connect_failures;
    uint64_t lost;                  /* neither queued nor spooled: gone */
    uint64_t rejected;              /* refused by the script for good (the finding's
                                       own hash of the wrong type): in
                                       <spool_dir>/rejected.jsonl */
    uint64_t spool_errors;          /* spool writes that failed */
    uint64_t spool_bytes;           /* undelivered bytes in the spool now */
    uint64_t spool_records;         /* undelivered records in the spool now */
    uint64_t spool_skipped_bytes;   /* corrupt spool bytes skipped */
    uint64_t queue_depth;           /* messages in memory now */
    uint64_t handover;              /* filled by sensor/output.c, not here: publications
                                       handed to the Redis thread and not yet submitted */
    uint64_t next_seq;
    int connected;
    int spool_ok;                   /* 0: no spool or it could not be opened */
    char last_error[256];           /* "" when none */
};

/* Parse the configuration, open (or pick up) the spool and, when asked,
 * connect. NULL with a one-line message for a configuration error (bad URL,
 * rediss://, unreadable password file, ...). An unusable spool directory is
 * not fatal: it is logged, reported in last_error and retried later, and
 * messages wait in memory meanwhile. */
struct redis_out *redis_out_open(const struct redis_out_cfg *c,
                                 char *err, size_t errlen);

/* Hand over one finding. Strings are copied; instance_id may be NULL or "".
 * Never blocks on the network. 0: queued or spooled; -1: lost (counted and
 * logged; only when both the queue and the spool are unusable). */
int redis_out_submit(struct redis_out *o, const char *id, const char *type,
                     double severity, const char *updated_at_iso,
                     uint64_t updated_epoch, const char *instance_id,
                     int archived, uint64_t count, const char *json);

/* Do the work: connect when due (exponential backoff with jitter), send the
 * spool then the queue in pipelined batches for at most poll_budget_ms,
 * spool the queue while disconnected, fsync the spool in batch mode. Call it
 * from the output thread's loop, often (every few ms to a second). now_ms is
 * CLOCK_MONOTONIC in milliseconds (close() uses the same clock). */
void redis_out_poll(struct redis_out *o, uint64_t now_ms);

/* 1 when nothing waits (queue and spool empty). */
int redis_out_idle(const struct redis_out *o);

/* Deliver what can be delivered within flush_timeout_ms, spool the rest for
 * the next start, free everything. 0, or -1 with a message when something
 * was lost (during the whole run) or the spool could not take the rest. NULL
 * is fine. 'final' (NULL = not wanted) receives the figures after the last
 * flush, so it counts what was lost at close too. */
int redis_out_close(struct redis_out *o, int flush_timeout_ms,
                    char *err, size_t errlen, struct redis_out_stats *final);

void redis_out_stats(const struct redis_out *o, struct redis_out_stats *st);

/* The Lua script (for documentation and tests). */
extern const char redis_out_lua[];

#endif
