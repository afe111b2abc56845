/* sensor/pipeline.c - the detection thread and the output thread.
 *
 * The detection thread drains every worker ring, hands each record to the
 * detectors and forwards it to the output ring; the output thread owns all
 * I/O. Both poll their rings and sleep while a ring is empty, for longer
 * when the records come as a trickle (see struct backoff), so an idle sensor
 * costs nothing and a busy one never blocks in the kernel. */
#include "sensor.h"
#include "det.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

/* An empty ring: sleep, for a time that adapts to how many records the
 * consumer found since it last slept. Producers publish in batches, so
 * records arrive in bursts; every wake-up costs a context switch, and on a
 * two-core machine that is taken from a worker. A fixed 50 us sleep woke
 * the detection and output threads ~34,000 times a second during a replay
 * that gave them a few records each time (0.15 s of CPU in a 0.6 s run).
 * So: fewer than BACKOFF_FEW records since the last sleep, sleep twice as
 * long next time (up to BACKOFF_MAX_US: live latency stays under 1 ms, and
 * the smallest ring, replay's 8192 records, takes far longer than that to
 * fill); more than BACKOFF_MANY, back to BACKOFF_MIN_US. */
#define BACKOFF_MIN_US  50
#define BACKOFF_MAX_US  1000
#define BACKOFF_FEW     256
#define BACKOFF_MANY    2048

struct backoff {
    unsigned sleep_us;      /* the next sleep */
    unsigned got;           /* records since the last sleep */
};

static void
backoff_got(struct backoff *b, unsigned n)
{
    b->got += n;
}

static void
idle_backoff(struct backoff *b)
{
    if (b->sleep_us < BACKOFF_MIN_US || b->got >= BACKOFF_MANY)
        b->sleep_us = BACKOFF_MIN_US;
    else if (b->got < BACKOFF_FEW)
        b->sleep_us = b->sleep_us * 2 > BACKOFF_MAX_US ? BACKOFF_MAX_US : b->sleep_us * 2;
    b->got = 0;
    struct timespec ts = { 0, (long)b->sleep_us * 1000 };
    nanosleep(&ts, NULL);
}

static int
forward(struct pipeline *p, uint32_t kind, const void *rec, uint32_t len)
{
    for (;;) {
        void *d = ring_reserve(p->det_out, len, kind);
        if (d) {
            memcpy(d, rec, len);
            ring_commit(p->det_out);
            return 0;
        }
        /* Live, a full ring drops records rather than stall the
         * detectors: flow and DNS records, counted. Never a finding (nor
         * the end mark): those wait for room, and while they wait the
         * workers' rings fill and drop packets' records instead, counted
         * there. So a stalled Redis or disk costs flow records, loudly,
         * not findings. */
        if (!p->block && kind != REC_END && kind != REC_FINDING) {
            STAT_INC(p->det_drops);
            return -1;
        }
        struct timespec ts = { 0, 20000 };
        nanosleep(&ts, NULL);
    }
}

static const struct lists *
env_lists(void *arg)
{
    struct pipeline *p = arg;
    return atomic_load_explicit(&p->lists, memory_order_acquire);
}

/* A detector's verdict goes to the output thread like any record. */
static void
env_emit(void *arg, const struct finding_cand *fc)
{
    struct pipeline *p = arg;
    STAT_INC(p->det_findings);
    forward(p, REC_FINDING, fc, sizeof(*fc));
}

int
detect_prepare(struct pipeline *p, char *err, size_t errlen)
{
    p->det_env = (struct det_env){ .cfg = p->cfg, .lists = env_lists, .emit = env_emit, .arg = p };
    return det_set_init(&p->ds, &p->det_env, err, (unsigned)errlen);
}

/* One record from a worker: to the detectors, and on to the output. */
static void
detect_record(struct pipeline *p, struct det_set *ds, const struct mg_rec *m, uint32_t kind,
              uint32_t len)
{
    switch (kind) {
    case REC_FLOW:
        det_set_flow(ds, &m->u.flow);
        forward(p, kind, m, len);
        break;
    case REC_DNS:
        det_set_dns(ds, &m->u.dns);
        forward(p, kind, m, len);
        break;
    case REC_CONN:
        det_set_conn(ds, &m->u.conn);
        break;
    case REC_TICK:
        /* Every worker ticks: in replay all at the same packets (the merge
         * brings their copies together), live each on its own clock. Only a
         * tick later than the last goes on: time moves forward only. */
        if (m->ts_ns <= p->det_last_tick)
            break;
        p->det_last_tick = m->ts_ns;
        det_set_tick(ds, m->ts_ns);
        forward(p, kind, m, len);       /* findings age on packet time */
        break;
    }
}

/* Live: every ring in turn, up to 256 records each. */
static void
detect_live(struct pipeline *p, struct det_set *ds)
{
    unsigned ended = 0;
    struct backoff bo = { 0, 0 };
    int ended_w[MG_MAX_WORKERS] = { 0 };

    while (ended < p->n_workers) {
        atomic_fetch_add_explicit(&p->det_epoch, 1, memory_order_release);
        unsigned got = 0;
        for (unsigned i = 0; i < p->n_workers; i++) {
            struct ring *r = p->workers[i].out;
            uint32_t kind, len;
            const struct mg_rec *m;
            for (unsigned k = 0; k < 256 && (m = ring_peek(r, &kind, &len)); k++) {
                if (kind == REC_END) {
                    if (!ended_w[i]) {
                        ended_w[i] = 1;
                        ended++;
                    }
                } else {
                    detect_record(p, ds, m, kind, len);
                }
                ring_release(r);
                got++;
            }
        }
        if (got) {
            backoff_got(&bo, got);
            ring_flush(p->det_out);
        } else {
            idle_backoff(&bo);
        }
    }
}

/* Replay with several workers: a k-way merge of the rings by mg_rec.order
 * (each ring is in that order already). The smallest head can be taken only
 * when every worker that has not ended shows its head, since the one that
 * shows nothing yet may still send a smaller one. Every worker sends the
 * same ticks: detect_record() keeps the first of each. */
static void
detect_merge(struct pipeline *p, struct det_set *ds)
{
    unsigned n = p->n_workers, ended = 0, since_flush = 0;
    struct backoff bo = { 0, 0 };
    int ended_w[MG_MAX_WORKERS] = { 0 };

    while (ended < n) {
        atomic_fetch_add_explicit(&p->det_epoch, 1, memory_order_release);
        const struct mg_rec *best = NULL;
        uint32_t bkind = 0, blen = 0;
        unsigned bi = 0, waiting = 0;
        for (unsigned i = 0; i < n; i++) {
            if (ended_w[i])
                continue;
            uint32_t kind, len;
            const struct mg_rec *m = ring_peek(p->workers[i].out, &kind, &len);
            if (!m) {
                waiting = 1;
                break;
            }
            if (!best || m->order < best->order ||
                (m->order == best->order && rec_order_cmp(m, best) < 0)) {
                best = m;
                bkind = kind;
                blen = len;
                bi = i;
            }
        }
        if (waiting) {
            if (since_flush) {
                ring_flush(p->det_out);
                since_flush = 0;
            }
            idle_backoff(&bo);
            continue;
        }
        backoff_got(&bo, 1);
        if (bkind == REC_END) {
            ended_w[bi] = 1;
            ended++;
        } else {
            detect_record(p, ds, best, bkind, blen);
        }
        ring_release(p->workers[bi].out);
        if (++since_flush >= 256) {
            ring_flush(p->det_out);
            since_flush = 0;
        }
    }
}

void *
detect_main(void *arg)
{
    struct pipeline *p = arg;
    struct det_set ds = p->ds;      /* loaded by detect_prepare() before capture */

    if (p->merge && p->n_workers > 1)
        detect_merge(p, &ds);
    else
        detect_live(p, &ds);
    det_set_fini(&ds);
    struct mg_rec end = { .kind = REC_END };
    forward(p, REC_END, &end, offsetof(struct mg_rec, u));
    ring_flush(p->det_out);
    atomic_store(&p->det_done, 1);
    return NULL;
}

void *
output_main(void *arg)
{
    struct pipeline *p = arg;
    unsigned n = 0;
    struct backoff bo = { 0, 0 };
    for (;;) {
        uint32_t kind, len;
        atomic_fetch_add_explicit(&p->out_epoch, 1, memory_order_release);
        const struct mg_rec *m = ring_peek(p->det_out, &kind, &len);
        if (!m) {
            output_poll(&p->out);       /* Redis retries go on when idle */
            idle_backoff(&bo);
            continue;
        }
        backoff_got(&bo, 1);
        if (kind == REC_END) {
            ring_release(p->det_out);
            break;
        }
        switch (kind) {
        case REC_FLOW: output_flow(&p->out, &m->u.flow); break;
        case REC_DNS: output_dns(&p->out, &m->u.dns); break;
        case REC_FINDING: output_candidate(&p->out, (const struct finding_cand *)m); break;
        case REC_TICK: output_tick(&p->out, m->ts_ns); break;
        }
        ring_release(p->det_out);
        if (++n % 1024 == 0)
            output_poll(&p->out);
    }
    return NULL;
}
