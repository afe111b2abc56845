/* sensor/main.c - the mirrorguard program: command line, configuration,
 * threads and lifecycle. The only place that exits.
 *
 * Exit status: 0 success, 1 runtime failure, 2 usage or configuration error;
 * every failure prints one line that names the file (and line) at fault. */
#define _GNU_SOURCE 1
#include "sensor.h"
#include "mono.h"
#include "lists.h"
#include "dga.h"
#include "domain.h"
#include "bigmem.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sched.h>
#include <unistd.h>

static struct cap_source *g_live[MG_MAX_WORKERS];
static volatile sig_atomic_t g_reload;     /* SIGHUP seen */

static void
on_sighup(int sig)
{
    (void)sig;
    g_reload = 1;
}
static unsigned g_n_live;

static void
on_signal(int sig)
{
    (void)sig;
    atomic_store(&g_stop, 1);
    for (unsigned i = 0; i < g_n_live; i++)
        if (g_live[i])
            cap_pcap_breakloop(g_live[i]);
}

static void
usage(FILE *f)
{
    fputs("usage: mirrorguard replay [-c CONFIG] [--set KEY=VALUE]... [--flows-out FILE]\n"
          "                          [--dns-out FILE] [--findings-out FILE] [--stats-json FILE]\n"
          "                          [--capture file|pcap|dpdk] PCAP...\n"
          "       mirrorguard run -c CONFIG [--set KEY=VALUE]... [same output options]\n"
          "       mirrorguard check-config CONFIG [--set KEY=VALUE]...\n"
          "       mirrorguard dga-score [-c CONFIG] [--set KEY=VALUE]... [--stats]  (names on stdin)\n"
          "       mirrorguard --version | --help\n"
          "\n"
          "replay        read pcap/pcapng files as fast as possible, then exit\n"
          "run           capture live until SIGINT/SIGTERM, then flush and exit\n"
          "check-config  report every error in CONFIG and exit (0 = valid)\n"
          "FILE '-' is standard output. --set overrides any configuration key by its\n"
          "dotted path, e.g. --set flows.active_timeout=10 --set decoder.vxlan_ports=[4789,8472]\n"
          "Exit status: 0 success, 1 runtime failure, 2 usage or configuration error.\n", f);
}

struct opts {
    const char *config;
    const char *sets[256];
    unsigned n_sets;
    const char *flows_out, *dns_out, *findings_out, *stats_json, *capture;
    char workers_set[48];           /* --workers N as "workers=N" */
    char **files;
    int n_files;
};

static int
parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        { "config", required_argument, 0, 'c' },
        { "set", required_argument, 0, 's' },
        { "flows-out", required_argument, 0, 'F' },
        { "dns-out", required_argument, 0, 'D' },
        { "findings-out", required_argument, 0, 'X' },
        { "stats-json", required_argument, 0, 'S' },
        { "capture", required_argument, 0, 'C' },
        { "workers", required_argument, 0, 'W' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:h", lo, NULL)) != -1) {
        switch (ch) {
        case 'c': o->config = optarg; break;
        case 's':
            if (o->n_sets >= sizeof(o->sets) / sizeof(o->sets[0])) {
                fprintf(stderr, "mirrorguard: too many --set options\n");
                return -1;
            }
            o->sets[o->n_sets++] = optarg;
            break;
        case 'F': o->flows_out = optarg; break;
        case 'D': o->dns_out = optarg; break;
        case 'X': o->findings_out = optarg; break;
        case 'S': o->stats_json = optarg; break;
        case 'C': o->capture = optarg; break;
        case 'W':
            /* --workers N is --set workers=N: the config key's check applies */
            if (o->n_sets >= sizeof(o->sets) / sizeof(o->sets[0])) {
                fprintf(stderr, "mirrorguard: too many options\n");
                return -1;
            }
            snprintf(o->workers_set, sizeof(o->workers_set), "workers=%s", optarg);
            o->sets[o->n_sets++] = o->workers_set;
            break;
        case 'h': usage(stdout); exit(0);
        default: return -1;
        }
    }
    o->files = argv + optind;
    o->n_files = argc - optind;
    return 0;
}

static int
load_config(struct cfg *c, const struct opts *o)
{
    char err[8192];
    if (cfg_load(c, o->config, o->sets, o->n_sets, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s", err);
        if (err[0] && err[strlen(err) - 1] != '\n')
            fputc('\n', stderr);
        return -1;
    }
    if (o->flows_out)
        cfg_set_string(c, &c->outputs.flows_path, o->flows_out);
    if (o->dns_out)
        cfg_set_string(c, &c->outputs.dns_path, o->dns_out);
    if (o->findings_out)
        cfg_set_string(c, &c->outputs.findings_path, o->findings_out);
    if (o->stats_json)
        cfg_set_string(c, &c->outputs.stats_json_path, o->stats_json);
    return 0;
}

/* Load the trusted and threat lists the configuration names. NULL and no
 * message when there are none; NULL and a message naming the file (and
 * line) when one cannot be used. Warnings about skipped lines go to stderr. */
/* A relative list path is relative to the configuration file's folder, so a
 * config and its lists can move together. Returns a malloc'd path. */
static char *
rel_to_config(const struct cfg *c, const char *path)
{
    const char *slash = c->path ? strrchr(c->path, '/') : NULL;
    if (!path || !*path || path[0] == '/' || !slash)
        return strdup(path ? path : "");
    size_t n = (size_t)(slash - c->path) + 1 + strlen(path) + 1;
    char *r = malloc(n);
    if (r)
        snprintf(r, n, "%.*s/%s", (int)(slash - c->path), c->path, path);
    return r;
}

static struct lists *
load_lists(const struct cfg *c, int *failed)
{
    char warn[4096], err[512];
    *failed = 0;
    if ((!c->lists.trusted || !*c->lists.trusted) && c->lists.n_threat == 0)
        return NULL;
    char *trusted = rel_to_config(c, c->lists.trusted);
    struct cfg_threat_list *tl = calloc(c->lists.n_threat + 1, sizeof(*tl));
    char **paths = calloc(c->lists.n_threat + 1, sizeof(*paths));
    if (!trusted || !tl || !paths) {
        fprintf(stderr, "mirrorguard: out of memory loading lists\n");
        *failed = 1;
        free(trusted), free(tl), free(paths);
        return NULL;
    }
    for (unsigned i = 0; i < c->lists.n_threat; i++) {
        tl[i] = c->lists.threat[i];
        paths[i] = rel_to_config(c, c->lists.threat[i].path);
        tl[i].path = paths[i] ? paths[i] : c->lists.threat[i].path;
    }
    struct lists *l = lists_load(trusted, tl, c->lists.n_threat,
                                 warn, sizeof(warn), err, sizeof(err));
    for (unsigned i = 0; i < c->lists.n_threat; i++)
        free(paths[i]);
    free(paths);
    free(tl);
    free(trusted);
    if (!l) {
        fprintf(stderr, "mirrorguard: %s\n", err);
        *failed = 1;
        return NULL;
    }
    if (warn[0])
        fprintf(stderr, "%s%s", warn, warn[strlen(warn) - 1] == '\n' ? "" : "\n");
    return l;
}

/* SIGHUP: read the configuration file again and put its lists and
 * suppression rules (and assets) in force, without stopping capture. Anything
 * that does not load keeps the previous version in force, and says why.
 * Other settings (capture, flows, outputs) need a restart and are ignored.
 *
 * The lists are swapped by pointer; the old set is freed once the detection
 * and output threads have each gone round their loop (they load the pointer
 * per record, so after that nobody holds the old one). The new rules go to
 * the output thread, which owns the aggregator, through out.pending_cfg. */
/* Configurations handed to the output thread by reloads. One may be read by
 * the aggregator (out.applied_cfg), one may wait to be taken
 * (out.pending_cfg); any other can be freed. The output thread may be slow
 * to take one (blocked writing), so nothing is freed on a timer. */
struct held_cfg { struct cfg *c; struct held_cfg *next; };
static struct held_cfg *g_held;

static void
free_cfg(struct cfg *c)
{
    cfg_free(c);
    free(c);
}

/* Free every held configuration the output thread cannot be using. With
 * all = 1 (the output thread has exited), free them all. */
static void
release_held(struct pipeline *p, int all)
{
    struct cfg *applied = atomic_load(&p->out.applied_cfg);
    struct cfg *pending = atomic_load(&p->out.pending_cfg);
    for (struct held_cfg **hp = &g_held; *hp;) {
        struct held_cfg *h = *hp;
        if (all || (h->c != applied && h->c != pending)) {
            *hp = h->next;
            free_cfg(h->c);
            free(h);
        } else {
            hp = &h->next;
        }
    }
}

static void
wait_quiescent(struct pipeline *p)
{
    uint64_t d0 = atomic_load(&p->det_epoch), o0 = atomic_load(&p->out_epoch);
    for (;;) {
        if (atomic_load(&p->det_epoch) != d0 && atomic_load(&p->out_epoch) != o0)
            return;
        if (atomic_load(&p->det_done))
            return;
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
}

static void
reload(struct pipeline *p, const struct opts *o)
{
    struct cfg *nc = calloc(1, sizeof(*nc));
    struct held_cfg *h = calloc(1, sizeof(*h));
    char err[8192];
    if (!nc || !h) {
        free(nc);
        free(h);
        fprintf(stderr, "mirrorguard: reload refused: out of memory\n");
        return;
    }
    if (cfg_load(nc, o->config, o->sets, o->n_sets, err, sizeof(err)) != 0) {
        fprintf(stderr, "mirrorguard: reload refused, previous lists and rules stay in force:\n%s%s",
                err, err[0] && err[strlen(err) - 1] == '\n' ? "" : "\n");
        free(nc);
        free(h);
        return;
    }
    int failed;
    struct lists *nl = load_lists(nc, &failed);
    if (failed) {
        fprintf(stderr, "mirrorguard: reload refused, previous lists and rules stay in force\n");
        free_cfg(nc);
        free(h);
        return;
    }
    /* Lists: swap, then free the old set once both reader threads have
     * gone round their loops (they load the pointer per record). */
    const struct lists *old = atomic_exchange(&p->lists, nl);
    wait_quiescent(p);
    lists_free((struct lists *)old);
    /* Rules: hand the new cfg over; a previous one never taken is replaced
     * (the aggregator never saw it) and freed by release_held(). */
    h->c = nc;
    h->next = g_held;
    g_held = h;
    atomic_store(&p->out.pending_cfg, nc);
    for (int i = 0; i < 500 && atomic_load(&p->out.pending_cfg) == nc; i++) {
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    release_held(p, 0);
    fprintf(stderr, "mirrorguard: reloaded lists and suppression rules from %s (%u threat lists, %u rules)%s\n",
            o->config, nc->lists.n_threat, nc->n_suppression_rules,
            atomic_load(&p->out.pending_cfg) == nc ? "; rules apply when the output thread takes them" : "");
}

/* With more CPUs than workers, give each worker a CPU of its own and put
 * the detection and output threads on the rest: they wake and sleep often,
 * and sharing a core with them cost the worker ~20% of its time (measured
 * on this 2-core machine). The CPUs are the ones the sensor may run on
 * (taskset, a cgroup's cpuset), in order: worker i takes the i-th of them.
 * Failure is harmless. Returns the number of those CPUs (0 if unknown). */
static int
pin_threads(struct pipeline *p)
{
    cpu_set_t allowed, cs;
    if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
        return 0;
    int cpus[CPU_SETSIZE], n = 0;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &allowed))
            cpus[n++] = c;
    if (n <= (int)p->n_workers)
        return n;
    for (unsigned i = 0; i < p->n_workers; i++) {
        CPU_ZERO(&cs);
        CPU_SET(cpus[i], &cs);
        pthread_setaffinity_np(p->workers[i].thread, sizeof(cs), &cs);
    }
    CPU_ZERO(&cs);
    for (int k = (int)p->n_workers; k < n; k++)
        CPU_SET(cpus[k], &cs);
    pthread_setaffinity_np(p->det_thread, sizeof(cs), &cs);
    pthread_setaffinity_np(p->out_thread, sizeof(cs), &cs);
    return n;
}

/* Start the pipeline, wait for the workers to finish (or a signal), print the
 * figures. Returns the exit status. */
static int
run_pipeline(struct pipeline *p, int live, const struct opts *o)
{
    char err[512];
    int rc = 0;
    if (detect_prepare(p, err, sizeof(err)) != 0) {
        fprintf(stderr, "mirrorguard: %s\n", err);
        return 2;
    }
    double t0 = mono_s(), next_stats = t0 + p->cfg->outputs.stats_interval;

    /* As the workers' rings: replay waits for room, so the detection-to-
     * output ring can be small enough to stay in the cache (and is not
     * faulted in anew: 16 MiB at ring_size's default); live, it absorbs the
     * output's stalls. */
    p->det_out = ring_new((size_t)(p->block ? p->cfg->replay_ring_size : p->cfg->ring_size) * 256);
    if (!p->det_out) {
        fprintf(stderr, "mirrorguard: out of memory for rings\n");
        det_set_fini(&p->ds);
        return 1;
    }
    p->out.lists = &p->lists;
    if (output_open(&p->out, p->cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "mirrorguard: %s\n", err);
        output_close(&p->out, err, sizeof(err));
        ring_free(p->det_out);
        det_set_fini(&p->ds);
        return 1;
    }
    pthread_create(&p->out_thread, NULL, output_main, p);
    pthread_setname_np(p->out_thread, "mg-output");
    pthread_create(&p->det_thread, NULL, detect_main, p);
    pthread_setname_np(p->det_thread, "mg-detect");
    for (unsigned i = 0; i < p->n_workers; i++) {
        char name[32];
        snprintf(name, sizeof(name), "mg-worker%u", i);
        pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]);
        pthread_setname_np(p->workers[i].thread, name);
    }
    int ncpu = pin_threads(p);
    if (live && p->n_workers > 1 && ncpu > 0 && ncpu <= (int)p->n_workers)
        /* measured: on 2 CPUs two workers ran slower than one in replay,
         * 1.28-1.34 times one live through DPDK (README, Configuration) */
        fprintf(stderr, "mirrorguard: note: %u workers on %d CPU%s: the detection and output "
                "threads share the workers' cores (fewer workers than CPUs is usually faster)\n",
                p->n_workers, ncpu, ncpu == 1 ? "" : "s");

    if (live) {
        /* The main thread only watches: periodic stats until every worker
         * has stopped (on a signal or a dead source). */
        for (;;) {
            unsigned done = 0;
            for (unsigned i = 0; i < p->n_workers; i++)
                done += atomic_load(&p->workers[i].done);
            if (done == p->n_workers)
                break;
            struct timespec ts = { 0, 100 * 1000 * 1000 };
            nanosleep(&ts, NULL);
            if (g_reload) {
                g_reload = 0;
                reload(p, o);
            }
            if (p->cfg->outputs.stats_interval && mono_s() >= next_stats) {
                stats_print(stderr, p, mono_s() - t0);
                next_stats += p->cfg->outputs.stats_interval;
            }
        }
    }
    for (unsigned i = 0; i < p->n_workers; i++) {
        pthread_join(p->workers[i].thread, NULL);
        if (p->workers[i].exit_code) {
            fprintf(stderr, "mirrorguard: worker %u: %s\n", i, p->workers[i].err);
            rc = 1;
        }
    }
    pthread_join(p->det_thread, NULL);
    pthread_join(p->out_thread, NULL);
    double wall = mono_s() - t0;
    if (output_close(&p->out, err, sizeof(err)) != 0) {
        fprintf(stderr, "mirrorguard: %s\n", err);
        rc = 1;
    }
    stats_print(stderr, p, wall);
    if (p->cfg->outputs.stats_json_path && *p->cfg->outputs.stats_json_path &&
        stats_write_json(p->cfg->outputs.stats_json_path, p, wall) != 0) {
        fprintf(stderr, "mirrorguard: %s: cannot write stats: %s\n",
                p->cfg->outputs.stats_json_path, strerror(errno));
        rc = 1;
    }
    ring_free(p->det_out);
    return rc;
}

static struct dec_cfg g_dec;

#ifdef HAVE_DPDK
/* Is EAL option 'name' among the configured arguments (as "name", "name=..."
 * or, for a short option, "-lVALUE")? */
static int
eal_has(const struct cfg *c, const char *name)
{
    size_t n = strlen(name);
    for (unsigned i = 0; i < c->capture.dpdk.n_eal_args; i++) {
        const char *a = c->capture.dpdk.eal_args[i];
        if (strncmp(a, name, n) == 0 && (a[n] == 0 || a[n] == '=' || (name[1] != '-' && name[2] == 0)))
            return 1;
    }
    return 0;
}

/* --capture dpdk: one net_pcap vdev per file (net_pcap0..N-1, one EAL for
 * the process), each its own port, read in order like the files. EAL gets
 * capture.dpdk.eal_args, then each default the configuration does not set. */
static int
replay_dpdk_open(const struct cfg *c, const struct opts *o, struct worker *ws, unsigned nw)
{
    char err[512];
    /* The files are checked first with libpcap (what net_pcap reads them
     * with), so a bad one is named exactly as the other readers name it. */
    for (int i = 0; i < o->n_files; i++) {
        const char *f = o->files[i];
        if (strchr(f, ',') || strchr(f, '=')) {
            fprintf(stderr, "mirrorguard: %s: the path has ',' or '=', which a DPDK --vdev argument "
                    "cannot carry; rename it or use --capture file\n", f);
            return 2;
        }
        struct cap_source *s = cap_pcap_open_file(f, err, sizeof(err));
        if (!s) {
            fprintf(stderr, "mirrorguard: %s\n", err);
            return 2;
        }
        s->ops->close(s);
    }
    static const char *const defs[][2] = {
        { "--no-huge", NULL }, { "--no-pci", NULL }, { "--no-shconf", NULL },
        { "--no-telemetry", NULL }, { "--log-level", "--log-level=error" }, { "-l", "-l" },
    };
    unsigned nd = sizeof(defs) / sizeof(defs[0]);
    /* Every worker reads every file (see worker.n_share): a port each. */
    int nv = o->n_files * (int)nw;
    size_t cap = 1 + c->capture.dpdk.n_eal_args + 2 * nd + (size_t)nv;
    char **av = calloc(cap + 1, sizeof(*av));
    char **vdevs = calloc((size_t)nv, sizeof(*vdevs));
    int ac = 0, rc = 0;
    if (!av || !vdevs) {
        fprintf(stderr, "mirrorguard: out of memory\n");
        free(av), free(vdevs);
        return 1;
    }
    av[ac++] = "mirrorguard";
    for (unsigned i = 0; i < c->capture.dpdk.n_eal_args; i++)
        av[ac++] = c->capture.dpdk.eal_args[i];
    int lcores_set = eal_has(c, "-l") || eal_has(c, "--lcores") || eal_has(c, "-c");
    for (unsigned i = 0; i < nd; i++) {
        if (!strcmp(defs[i][0], "-l")) {
            if (!lcores_set) {
                av[ac++] = "-l";
                av[ac++] = "0";
            }
        } else if (!eal_has(c, defs[i][0])) {
            av[ac++] = (char *)(defs[i][1] ? defs[i][1] : defs[i][0]);
        }
    }
    for (int i = 0; i < nv; i++) {
        if (asprintf(&vdevs[i], "--vdev=net_pcap%d,rx_pcap=%s", i, o->files[i % o->n_files]) < 0) {
            vdevs[i] = NULL;
            fprintf(stderr, "mirrorguard: out of memory\n");
            rc = 1;
            goto out;
        }
        av[ac++] = vdevs[i];
    }
    if (cap_dpdk_eal_init(ac, av, err, sizeof(err)) != 0) {
        fprintf(stderr, "mirrorguard: %s\n", err);
        rc = 1;
        goto out;
    }
    for (int i = 0; i < nv; i++) {
        char pname[32];
        snprintf(pname, sizeof(pname), "net_pcap%d", i);
        struct cap_dpdk_opts d = {
            .eal_argc = ac, .eal_argv = av, .port_name = pname, .queue = 0, .queues = 1,
            .mbufs = c->capture.dpdk.mbufs, .burst = CAP_BURST, .replay = 1,
            .pcap_file = o->files[i % o->n_files],
        };
        struct worker *w = &ws[i / o->n_files];
        struct cap_source *s = cap_dpdk_open(&d, err, sizeof(err));
        if (!s) {
            fprintf(stderr, "mirrorguard: %s\n", err);
            rc = 1;
            goto out;
        }
        w->srcs[w->n_srcs++] = s;
        struct cap_dpdk_info info;
        cap_dpdk_info(s, &info);
        if (!info.ts_exact && i < o->n_files)
            fprintf(stderr, "mirrorguard: %s: not a classic pcap file: through DPDK's net_pcap its "
                    "packet times have microsecond precision\n", o->files[i]);
    }
out:
    for (int i = 0; i < nv; i++)
        free(vdevs[i]);
    free(vdevs);
    free(av);
    return rc;
}
#endif

/* cfg.workers workers, or NULL with a message printed. */
static struct worker *
workers_new(const struct cfg *c, int block)
{
    char err[512];
    unsigned n = c->workers ? c->workers : 1;
    struct worker *ws = calloc(n, sizeof(*ws));
    if (!ws) {
        fprintf(stderr, "mirrorguard: out of memory\n");
        return NULL;
    }
    for (unsigned i = 0; i < n; i++) {
        if (worker_init(&ws[i], i, c, &g_dec, block, err, sizeof(err)) != 0) {
            fprintf(stderr, "mirrorguard: %s\n", err);
            while (i--)
                worker_fini(&ws[i]);
            free(ws);
            return NULL;
        }
    }
    return ws;
}

/* Hand-over rings between every two of n workers (see worker.n_fwd): 0,
 * or -1 without memory (workers_free() frees what was made). */
static int
workers_link(struct worker *ws, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        ws[i].fwd_out = calloc(n, sizeof(struct ring *));
        ws[i].fwd_in = calloc(n, sizeof(struct ring *));
        if (!ws[i].fwd_out || !ws[i].fwd_in)
            return -1;
        ws[i].n_fwd = n;
        ws[i].fwd_group = ws;
        /* At most this many of a worker's mbufs wait in the others' rings
         * (beyond it packets are copied): a slow worker must not drain the
         * pool every queue refills from. The workers share
         * capture.dpdk.handover_pool_percent of the pool (0: always copy). */
        ws[i].fwd_take_max = (uint32_t)((uint64_t)ws[i].cfg->capture.dpdk.mbufs *
                                        (unsigned)ws[i].cfg->capture.dpdk.handover_pool_percent /
                                        (100u * n));
    }
    for (unsigned i = 0; i < n; i++)
        for (unsigned j = 0; j < n; j++)
            if (i != j && !(ws[i].fwd_out[j] = ws[j].fwd_in[i] = ring_new((size_t)4 << 20)))
                return -1;
    return 0;
}

static void
workers_free(struct worker *ws, unsigned n)
{
    for (unsigned i = 0; ws && i < n; i++) {
        for (unsigned j = 0; ws[i].fwd_out && j < n; j++)
            ring_free(ws[i].fwd_out[j]);    /* each ring once: by its producer */
        free(ws[i].fwd_out);
        free(ws[i].fwd_in);
        for (unsigned j = 0; ws[i].ovf && j < n; j++)
            big_free(ws[i].ovf[j].buf, ws[i].ovf[j].cap);
        free(ws[i].ovf);
        struct parts_own *o = &ws[i].own;
        free(o->b), free(o->p), free(o->st), free(o->ix), free(o->ev);
    }
    if (ws && n && ws[0].baton) {
        free((void *)ws[0].n_parts);
        free(ws[0].baton);
    }
    for (unsigned i = 0; ws && i < n; i++)
        worker_fini(&ws[i]);
    free(ws);
}

/* Replay by several workers in parts (worker.c, parts_main) where every
 * file can be read so (classic pcap) and replay_part_kb is not 0; else each
 * worker reads every packet (n_share). 0 (either way), or -1 without memory. */
static int
replay_parts(const struct cfg *c, struct worker *ws, unsigned nw, int n_files)
{
    uint32_t bytes = c->replay_part_kb * 1024u;
    if (!bytes)
        return 0;
    uint64_t *np = calloc((size_t)n_files, sizeof(*np));
    struct parts_baton *bt = calloc(1, sizeof(*bt));
    if (!np || !bt) {
        free(np), free(bt);
        return -1;
    }
    for (int i = 0; i < n_files; i++) {
        if (!(np[i] = cap_file_parts(ws[0].srcs[i], bytes))) {
            free(np), free(bt);
            return 0;                   /* pcapng (or a source that cannot): all read all */
        }
    }
    bt->at.first = cap_file_part_first(ws[0].srcs[0]);
    for (unsigned k = 0; k < nw; k++) {
        for (int i = 0; i < n_files && k; i++)
            (void)cap_file_parts(ws[k].srcs[i], bytes);
        ws[k].n_share = 1;
        ws[k].baton = bt;
        ws[k].n_parts = np;
        if (!(ws[k].ovf = calloc(nw, sizeof(*ws[k].ovf))))
            return -1;                  /* workers_free() frees bt and np (ws[0]'s) */
    }
    return workers_link(ws, nw);
}

static int
cmd_replay(int argc, char **argv)
{
    struct opts o = { 0 };
    struct cfg c;
    struct pipeline p = { 0 };
    char err[512];
    int rc;

    if (parse_opts(argc, argv, &o) != 0) {
        usage(stderr);
        return 2;
    }
    if (o.n_files == 0) {
        fprintf(stderr, "mirrorguard replay: no capture file given\n");
        usage(stderr);
        return 2;
    }
    if (load_config(&c, &o) != 0)
        return 2;
    const char *how = o.capture ? o.capture : "file";
    int dpdk = strcmp(how, "dpdk") == 0;
    if (strcmp(how, "file") && strcmp(how, "pcap") && !dpdk) {
        fprintf(stderr, "mirrorguard replay: --capture %s: expected file, pcap or dpdk\n", how);
        cfg_free(&c);
        return 2;
    }
#ifndef HAVE_DPDK
    if (dpdk) {
        fprintf(stderr, "mirrorguard replay: --capture dpdk: this mirrorguard was built without DPDK "
                "(make DPDK=0, or libdpdk-dev missing at build time)\n");
        cfg_free(&c);
        return 2;
    }
#endif
    dec_cfg_init(&g_dec, c.decoder.vxlan_ports, c.decoder.n_vxlan_ports,
                 c.decoder.geneve_ports, c.decoder.n_geneve_ports, c.decoder.max_depth);
    /* Replay with N workers: each reads its parts of the files and hands
     * each packet to its flow's worker (replay_parts()), or, for pcapng or
     * replay_part_kb 0, each reads every file and keeps the flows that hash
     * to it (worker.n_share); the detection thread merges their records
     * back into stream order: any N gives the same records. */
    unsigned nw = c.workers ? c.workers : 1;
    struct worker *ws = workers_new(&c, c.ring_block);
    if (!ws) {
        cfg_free(&c);
        return 1;
    }
    for (unsigned k = 0; k < nw; k++) {
        ws[k].n_share = nw;
        ws[k].srcs = calloc((size_t)o.n_files, sizeof(*ws[k].srcs));
        if (!ws[k].srcs) {
            fprintf(stderr, "mirrorguard: out of memory\n");
            workers_free(ws, nw);
            cfg_free(&c);
            return 1;
        }
    }
#ifdef HAVE_DPDK
    if (dpdk) {
        rc = replay_dpdk_open(&c, &o, ws, nw);
        if (rc) {
            workers_free(ws, nw);
            cap_dpdk_cleanup();
            cfg_free(&c);
            return rc;
        }
    }
#endif
    /* Each worker opens each file itself (and reads every packet, or its
     * parts). (Reading a file once into chunks that all workers walk was
     * tried: no faster, as the second worker then takes every line of the
     * chunk from the other core's cache.) */
    for (int i = 0; i < o.n_files && !dpdk; i++) {
        struct cap_source *s[MG_MAX_WORKERS] = { 0 };
        int bad = 0;
        for (unsigned k = 0; k < nw && !bad; k++)
            bad = !(s[k] = strcmp(how, "pcap") == 0
                    ? cap_pcap_open_file(o.files[i], err, sizeof(err))
                    : cap_file_open(o.files[i], err, sizeof(err)));
        for (unsigned k = 0; k < nw; k++)
            if (s[k])
                ws[k].srcs[ws[k].n_srcs++] = s[k];
        if (bad) {
            fprintf(stderr, "mirrorguard: %s\n", err);
            workers_free(ws, nw);
            cfg_free(&c);
            return 2;
        }
    }
    if (!dpdk && !strcmp(how, "file") && nw > 1 && replay_parts(&c, ws, nw, o.n_files) < 0) {
        fprintf(stderr, "mirrorguard: out of memory\n");
        workers_free(ws, nw);
        cfg_free(&c);
        return 1;
    }
    p.cfg = &c;
    p.workers = ws;
    p.n_workers = nw;
    p.block = c.ring_block;
    p.merge = 1;
    int lists_failed;
    struct lists *lists = load_lists(&c, &lists_failed);
    if (lists_failed) {
        workers_free(ws, nw);
        cfg_free(&c);
        return 2;
    }
    atomic_store(&p.lists, lists);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    rc = run_pipeline(&p, 0, &o);
    workers_free(ws, nw);
#ifdef HAVE_DPDK
    if (dpdk)
        cap_dpdk_cleanup();
#endif
    lists_free(lists);
    cfg_free(&c);
    return rc;
}

#ifdef HAVE_DPDK
/* Live DPDK: EAL gets capture.dpdk.eal_args as they are (the NIC, or a vdev
 * such as net_af_packet0,iface=eth1, and the lcores are the operator's to
 * choose); worker k reads queue k of capture.dpdk.port (nq queues, spread by
 * the NIC's RSS where it has one). */
static struct cap_source *
run_dpdk_open(const struct cfg *c, unsigned queue, unsigned nq, char *err, size_t errlen)
{
    unsigned n = c->capture.dpdk.n_eal_args;
    char **av = calloc(n + 2, sizeof(*av));
    if (!av) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    av[0] = "mirrorguard";
    for (unsigned i = 0; i < n; i++)
        av[1 + i] = c->capture.dpdk.eal_args[i];
    struct cap_dpdk_opts d = {
        .eal_argc = (int)n + 1, .eal_argv = av, .port = c->capture.dpdk.port, .queue = (int)queue,
        .queues = (int)nq, .mbufs = c->capture.dpdk.mbufs, .burst = CAP_BURST,
        .attach = queue > 0,            /* queue 0's source configures and starts the port */
    };
    struct cap_source *s = cap_dpdk_open(&d, err, errlen);
    free(av);
    return s;
}
#endif

static int
cmd_run(int argc, char **argv)
{
    struct opts o = { 0 };
    struct cfg c;
    struct pipeline p = { 0 };
    char err[512];

    if (parse_opts(argc, argv, &o) != 0 || o.n_files != 0) {
        usage(stderr);
        return 2;
    }
    if (!o.config) {
        fprintf(stderr, "mirrorguard run: -c CONFIG is required\n");
        return 2;
    }
    if (load_config(&c, &o) != 0)
        return 2;
    if ((!c.capture.interface || !*c.capture.interface) &&
        !(c.capture.source && strcmp(c.capture.source, "dpdk") == 0)) {
        fprintf(stderr, "%s: capture.interface: required for 'run'\n", o.config);
        cfg_free(&c);
        return 2;
    }
    int dpdk = c.capture.source && strcmp(c.capture.source, "dpdk") == 0;
    unsigned nw = c.workers ? c.workers : 1;
#ifndef HAVE_DPDK
    if (dpdk) {
        fprintf(stderr, "%s: capture.source: dpdk: this mirrorguard was built without DPDK\n",
                o.config);
        cfg_free(&c);
        return 2;
    }
#endif
    if (dpdk && c.capture.dpdk.queues > 1 && (unsigned)c.capture.dpdk.queues != nw) {
        fprintf(stderr, "%s: capture.dpdk.queues: live DPDK capture reads one queue per worker "
                "(%u workers, %d queues)\n", o.config, nw, c.capture.dpdk.queues);
        cfg_free(&c);
        return 2;
    }
    dec_cfg_init(&g_dec, c.decoder.vxlan_ports, c.decoder.n_vxlan_ports,
                 c.decoder.geneve_ports, c.decoder.n_geneve_ports, c.decoder.max_depth);
    /* N workers: N sockets in one PACKET_FANOUT group whose BPF program
     * hashes the inner flow symmetrically (capture/fanout.c). */
    struct worker *ws = workers_new(&c, 0);
    if (!ws) {
        cfg_free(&c);
        return 1;
    }
    struct cap_pcap_opts po = {
        .iface = c.capture.interface,
        .snaplen = c.capture.snaplen,
        .buffer_mb = c.capture.buffer_mb,
        .promiscuous = c.capture.promiscuous,
        .immediate = c.capture.immediate,
        .timeout_ms = c.capture.timeout_ms,
        .bpf = c.capture.bpf,
        .fanout_group = nw > 1 ? (c.capture.fanout_group ? c.capture.fanout_group
                                                         : (int)(getpid() % 65535) + 1) : 0,
        .vxlan_ports = c.decoder.vxlan_ports,
        .n_vxlan_ports = c.decoder.n_vxlan_ports,
        .geneve_ports = c.decoder.geneve_ports,
        .n_geneve_ports = c.decoder.n_geneve_ports,
    };
    for (unsigned k = 0; k < nw; k++) {
        ws[k].srcs = calloc(1, sizeof(*ws[k].srcs));
#ifdef HAVE_DPDK
        if (ws[k].srcs && dpdk)
            ws[k].srcs[0] = run_dpdk_open(&c, k, nw, err, sizeof(err));
        else
#endif
        if (ws[k].srcs)
            ws[k].srcs[0] = cap_pcap_open_live(&po, err, sizeof(err));
        if (!ws[k].srcs || !ws[k].srcs[0]) {
            fprintf(stderr, "mirrorguard: %s\n", ws[k].srcs ? err : "out of memory");
            workers_free(ws, nw);
            cfg_free(&c);
            return 1;
        }
        ws[k].n_srcs = 1;
        ws[k].live = 1;
        if (dpdk)
            ws[k].idle_sleep_us = (uint32_t)c.capture.dpdk.idle_sleep_us;
        g_live[k] = ws[k].srcs[0];
    }
    if (dpdk && nw > 1 && workers_link(ws, nw) != 0) {
        fprintf(stderr, "mirrorguard: out of memory for the hand-over rings\n");
        workers_free(ws, nw);
        cfg_free(&c);
        return 1;
    }
    g_n_live = nw;
    p.cfg = &c;
    p.workers = ws;
    p.n_workers = nw;
    p.block = 0;
    int lists_failed;
    struct lists *lists = load_lists(&c, &lists_failed);
    if (lists_failed) {
        g_n_live = 0;
        workers_free(ws, nw);
        cfg_free(&c);
        return 2;
    }
    atomic_store(&p.lists, lists);
    struct sigaction sa = { 0 };
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_sighup;
    sigaction(SIGHUP, &sa, NULL);
    if (dpdk)
        fprintf(stderr, "mirrorguard: capturing on DPDK port %d with %u worker%s (SIGINT/SIGTERM "
                "to stop)\n", c.capture.dpdk.port, nw, nw > 1 ? "s, one queue each" : "");
    else if (nw > 1)
        fprintf(stderr, "mirrorguard: capturing on %s with %u workers (fanout group %d; "
                "SIGINT/SIGTERM to stop)\n", c.capture.interface, nw, po.fanout_group);
    else
        fprintf(stderr, "mirrorguard: capturing on %s (SIGINT/SIGTERM to stop)\n",
                c.capture.interface);
    int rc = run_pipeline(&p, 1, &o);
    g_n_live = 0;
    workers_free(ws, nw);
#ifdef HAVE_DPDK
    if (dpdk)
        cap_dpdk_cleanup();
#endif
    lists_free((struct lists *)atomic_load(&p.lists));
    release_held(&p, 1);
    cfg_free(&c);
    return rc;
}

static int
cmd_check_config(int argc, char **argv)
{
    struct opts o = { 0 };
    struct cfg c;
    if (parse_opts(argc, argv, &o) != 0) {
        usage(stderr);
        return 2;
    }
    if (!o.config && o.n_files == 1)
        o.config = o.files[0];
    else if (o.n_files != 0 || !o.config) {
        fprintf(stderr, "mirrorguard check-config: expected one CONFIG file\n");
        return 2;
    }
    if (load_config(&c, &o) != 0)
        return 2;
    int lists_failed;
    struct lists *l = load_lists(&c, &lists_failed);
    lists_free(l);
    if (lists_failed) {
        cfg_free(&c);
        return 2;
    }
    printf("%s: ok\n", o.config);
    cfg_free(&c);
    return 0;
}

/* dga-score: one name a line on stdin -> "name score verdict" (score -1 and
 * verdict "-" when the name is not scored: see detect/dga.h). --stats prints
 * the classifier's own time per name to stderr. */
static int
cmd_dga_score(int argc, char **argv)
{
    struct opts o = { 0 };
    struct cfg c;
    int stats = 0;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--stats")) {
            stats = 1;
            memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof(*argv));
            argc--;
            break;
        }
    if (parse_opts(argc, argv, &o) != 0 || o.n_files != 0) {
        usage(stderr);
        return 2;
    }
    if (load_config(&c, &o) != 0)
        return 2;
    char path[4096], err[512];
    if (dga_model_path(c.path, c.detect.dga.model, path, sizeof(path)) != 0) {
        fprintf(stderr, "mirrorguard: detect.dga.model: %s\n", path);
        cfg_free(&c);
        return 2;
    }
    (void)domain_init();            /* the Public Suffix List, before any timing */
    struct dga_model *m = dga_model_load(path, err, sizeof(err));
    if (!m) {
        fprintf(stderr, "mirrorguard: %s\n", err);
        cfg_free(&c);
        return 2;
    }
    double thr = c.detect.dga.threshold > 0 ? c.detect.dga.threshold : dga_model_threshold(m);
    /* With --stats, a batch of names at a time: finding the registrable
     * domains (libpsl) and scoring them are timed as two loops, so the
     * timer's own cost stays out of the figures. Without it, one name at a
     * time, so an analyst typing names sees each answer at once. */
    enum { BATCH = 1024 };
    struct item { char name[256], reg[256]; size_t ll; double sc; };
    struct item *it = malloc(BATCH * sizeof(*it));
    if (!it) {
        fprintf(stderr, "mirrorguard: dga-score: out of memory\n");
        dga_model_free(m);
        cfg_free(&c);
        return 1;
    }
    char line[1024];
    unsigned long n = 0;
    double spent = 0, spent_psl = 0;
    for (int eof = 0; !eof;) {
        unsigned k = 0, kmax = stats ? BATCH : 1;
        while (k < kmax) {
            if (!fgets(line, sizeof(line), stdin)) {
                eof = 1;
                break;
            }
            line[strcspn(line, "\r\n")] = '\0';
            char *name = line + strspn(line, " \t");
            name[strcspn(name, " \t,")] = '\0';
            if (*name)
                snprintf(it[k++].name, sizeof(it->name), "%s", name);
        }
        double t0 = stats ? mono_s() : 0;
        for (unsigned i = 0; i < k; i++)
            it[i].ll = dga_split(it[i].name, it[i].reg, sizeof(it->reg));
        double t1 = stats ? mono_s() : 0;
        for (unsigned i = 0; i < k; i++)
            it[i].sc = it[i].ll ? dga_score_label(m, it[i].reg, it[i].ll,
                                                  it[i].reg + it[i].ll + 1) : -1.0;
        if (stats) {
            double t2 = mono_s();
            spent_psl += t1 - t0;
            spent += t2 - t1;
        }
        for (unsigned i = 0; i < k; i++) {
            if (it[i].sc < 0)
                printf("%s -1 -\n", it[i].name);
            else
                printf("%s %.6f %s\n", it[i].name, it[i].sc, it[i].sc > thr ? "dga" : "benign");
        }
        n += k;
    }
    free(it);
    if (stats)
        fprintf(stderr, "dga-score: %lu names, %.0f ns per name in the classifier "
                "(%.0f names/s) after %.0f ns finding its registrable "
                "domain (libpsl, %s), threshold %.6f\n",
                n, n ? spent * 1e9 / n : 0, spent > 0 ? n / spent : 0,
                n ? spent_psl * 1e9 / n : 0, domain_source(), thr);
    dga_model_free(m);
    cfg_free(&c);
    return fflush(stdout) == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
#ifdef HAVE_DPDK
        printf("mirrorguard %s (capture: file pcap dpdk)\n", MG_VERSION);
#else
        printf("mirrorguard %s (capture: file pcap)\n", MG_VERSION);
#endif
        return 0;
    }
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "replay"))
        return cmd_replay(argc - 1, argv + 1);
    if (!strcmp(cmd, "run"))
        return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "check-config"))
        return cmd_check_config(argc - 1, argv + 1);
    if (!strcmp(cmd, "dga-score"))
        return cmd_dga_score(argc - 1, argv + 1);
    fprintf(stderr, "mirrorguard: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
