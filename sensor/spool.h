/* sensor/spool.h - the on-disk spool of the Redis output: an append-only
 * file of checksummed records plus a tiny state file, both in one directory.
 *
 *   <dir>/spool.dat   records, appended in sequence order
 *   <dir>/state       "reserved <n>\ndelivered <n>\n" (replaced atomically)
 *
 * Record layout (all integers little-endian, 20 byte header):
 *
 *   offset 0   u32 magic  0x5053474d ("MGSP" on disk)
 *   offset 4   u32 len    payload length (at most SPOOL_MAX_RECORD)
 *   offset 8   u64 seq    the message's per-sensor sequence number
 *   offset 16  u32 crc    CRC32C of bytes 4..15 followed by the payload
 *   offset 20  len bytes of payload (opaque to the spool)
 *
 * The spool is a FIFO with a committed read position. spool_next() hands
 * out records from a cursor; spool_commit() declares everything up to a
 * record delivered, and spool_rewind() moves the cursor back to the last
 * commit (the delivery failed and will be retried). When everything written
 * has been committed the file is truncated to zero. The state file keeps the
 * highest delivered seq (so a crash in the middle of a replay does not send
 * the replayed prefix again) and a reserved seq ceiling for the caller's
 * sequence numbers, so they survive restarts without a write per message.
 *
 * Damage is never fatal. A record whose header or checksum is wrong is
 * skipped by scanning forward for the next magic that starts a valid record;
 * each skipped region is reported through the log callback with the file
 * name and offset and counted. A torn tail found at open is cut off.
 *
 * Threading: a spool belongs to one thread (the output thread); there are no
 * locks. */
#ifndef MG_SPOOL_H
#define MG_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#define SPOOL_MAX_RECORD (16u << 20)   /* larger lengths mean corruption */
#define SPOOL_HDR 20u

enum spool_fsync {
    SPOOL_FSYNC_NEVER = 0,      /* leave it to the kernel */
    SPOOL_FSYNC_BATCH,          /* at most every batch_ms, and on spool_tick() */
    SPOOL_FSYNC_ALWAYS,         /* fdatasync after every record */
};

typedef void (*spool_log_fn)(void *arg, const char *line);

struct spool;

struct spool_info {
    uint64_t pending_bytes;     /* written and not yet committed */
    uint64_t pending_records;   /* idem, records (exact after open, then kept up to date) */
    uint64_t file_bytes;        /* current size of spool.dat */
    uint64_t skipped_bytes;     /* corrupt bytes skipped, since open */
    uint64_t skipped_regions;   /* corrupt regions skipped, since open */
    uint64_t max_seq;           /* highest seq ever seen or written, 0 = none */
    uint64_t reserved;          /* seq ceiling from the state file */
    uint64_t delivered;         /* delivered-up-to seq from the state file */
};

/* Parse "always" | "batch" | "never" (NULL or "" = batch). -1 if unknown. */
int spool_fsync_parse(const char *s);

/* Open (creating the directory and files as needed) and scan the spool.
 * Records whose seq is not above the state's delivered mark are treated as
 * delivered. Returns NULL with a one-line message naming the path and the
 * errno text when the directory or file cannot be used. */
struct spool *spool_open(const char *dir, int fsync_mode, uint32_t batch_ms,
                         spool_log_fn log, void *log_arg,
                         char *err, size_t errlen);

/* fsync what is pending and close. NULL is fine. */
void spool_close(struct spool *s);

/* Append one record. 0, or -1 with a message (path, errno text) when it
 * could not be written completely; a partial record is cut off again, so the
 * file stays valid. */
int spool_append(struct spool *s, uint64_t seq, const void *payload,
                 uint32_t len, char *err, size_t errlen);

/* Batch mode: fsync if anything was written since the last sync and
 * batch_ms have passed (or always when force). Cheap when nothing is due. */
void spool_tick(struct spool *s, int force);

/* Next record from the cursor: 1 with *payload malloc()ed (caller frees) and
 * *end set to the token to pass to spool_commit(); 0 when the cursor is at
 * the end; -1 on a read error (message in err). */
int spool_next(struct spool *s, uint64_t *seq, void **payload, uint32_t *len,
               uint64_t *end, char *err, size_t errlen);

/* Records handed out so far are not delivered: the cursor goes back to the
 * committed position. */
void spool_rewind(struct spool *s);

/* The nrec records handed out up to end (a token from spool_next()) were
 * delivered, the last of them with sequence number seq. Records are
 * committed in the order spool_next() returned them. Truncates the file when
 * nothing is left. 0 or -1 with a message (the records are then still
 * delivered; at worst they are replayed after a restart and the receiver
 * drops the duplicates). */
int spool_commit(struct spool *s, uint64_t end, uint32_t nrec, uint64_t seq,
                 char *err, size_t errlen);

/* Persist a new seq ceiling: every seq handed out before a crash is below
 * it, so the next run starts from it. 0 or -1 with a message. */
int spool_reserve(struct spool *s, uint64_t reserved, char *err, size_t errlen);

/* 1 when there are records not yet handed out by spool_next(). */
int spool_unread(const struct spool *s);
/* 1 when every record written has been committed. */
int spool_empty(const struct spool *s);

void spool_get_info(const struct spool *s, struct spool_info *out);

/* The data file's path (for messages). */
const char *spool_path(const struct spool *s);

/* CRC32C (Castagnoli), exported for the tests. */
uint32_t spool_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
