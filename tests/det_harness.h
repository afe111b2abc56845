/* tests/det_harness.h - the scaffolding every detector suite shares: load a
 * configuration (the defaults plus --set style overrides), start one
 * detector whose findings are collected into got[0..n_got), stop it. The
 * detector sees dh_lists as the lists in force (NULL: none).
 *
 * Include once per test file after defining DH_OPS (the detector's det_ops)
 * and DH_MAXGOT (how many candidates to keep; n_got counts them all). */
#ifndef MG_TEST_DET_HARNESS_H
#define MG_TEST_DET_HARNESS_H

#include <stdio.h>
#include <string.h>

#include "cfg.h"
#include "det.h"

static struct finding_cand got[DH_MAXGOT];
static unsigned n_got;
static struct cfg cfg;
static void *st;
static char err[4096];

static void collect(void *arg, const struct finding_cand *fc)
{
    (void)arg;
    if (n_got < DH_MAXGOT)
        got[n_got] = *fc;
    n_got++;
}

static struct lists *dh_lists;

static const struct lists *get_lists(void *arg)
{
    (void)arg;
    return dh_lists;
}

/* Load the defaults plus 'sets' overrides and start the detector. */
static int start(const char *const *sets, unsigned n)
{
    memset(&cfg, 0, sizeof(cfg));
    if (cfg_load(&cfg, NULL, sets, n, err, sizeof(err)) != 0) {
        fprintf(stderr, "\ncfg: %s\n", err);
        return -1;
    }
    static struct det_env env;
    env.cfg = &cfg;
    env.lists = get_lists;
    env.emit = collect;
    env.arg = NULL;
    n_got = 0;
    st = NULL;
    return DH_OPS.init(&st, &env, err, sizeof(err));
}

static void stop(void)
{
    DH_OPS.fini(st);
    st = NULL;
    cfg_free(&cfg);
}

#endif /* MG_TEST_DET_HARNESS_H */
