/* detect/det_mining.c - crypto-currency mining protocols on any port, no
 * list needed (beyond GuardDuty, which relies on lists of pools).
 *
 *   CryptoCurrency:EC2/BitcoinTool.B  (High, 8.0)
 *       a TCP flow whose first payload bytes (either side) were a Stratum
 *       JSON-RPC mining message ("mining.subscribe", "mining.authorize",
 *       another "mining.*" method, XMRig "login", EthProxy
 *       "eth_submitLogin"), and with detect.mining.p2p a Monero levin
 *       handshake or a Bitcoin P2P "version" message (a node, which need
 *       not mine: off by default): decoders/app.c sets flow_rec.app.
 *
 * additionalInfo: "protocol" (stratum, monero-p2p, bitcoin-p2p), "method"
 * (the first JSON-RPC method for Stratum), "variant" and "port" (the
 * server's port). The instance is the home_net side: the client (ACTOR,
 * OUTBOUND) normally, the server (TARGET, INBOUND) when only the responder
 * is in home_net (a pool or proxy run on the instance). One candidate per
 * flow record (long sessions: one per active timeout); the aggregator
 * merges repeats of (instance, remote). Stratum inside TLS is not seen. */
#include "det.h"
#include "cfg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T_MINING "CryptoCurrency:EC2/BitcoinTool.B"

struct mining {
    struct det_env env;
    int enabled, p2p;
    struct finding_cand fc;
};

static int
mining_init(void **state, const struct det_env *env, char *err, unsigned errlen)
{
    struct mining *m = calloc(1, sizeof(*m));
    if (!m) {
        snprintf(err, errlen, "mining detector: out of memory");
        return -1;
    }
    m->env = *env;
    m->enabled = env->cfg->detect.mining.enabled;
    m->p2p = env->cfg->detect.mining.p2p;
    *state = m;
    return 0;
}

static void
mining_fini(void *state)
{
    free(state);
}

/* protocol, method, variant of an app hint; NULL protocol: not mining. */
static const char *
describe(uint8_t app, const char **method, const char **variant)
{
    *method = *variant = "";
    switch (app) {
    case APP_STRATUM:           *method = "mining.subscribe"; *variant = "stratum-v1"; return "stratum";
    case APP_STRATUM_AUTHORIZE: *method = "mining.authorize"; *variant = "stratum-v1"; return "stratum";
    case APP_STRATUM_MINING:    *method = "mining.*"; *variant = "stratum-v1"; return "stratum";
    case APP_STRATUM_XMRIG:     *method = "login"; *variant = "xmrig"; return "stratum";
    case APP_STRATUM_ETH:       *method = "eth_submitLogin"; *variant = "ethproxy"; return "stratum";
    case APP_MONERO_P2P:        *variant = "levin"; return "monero-p2p";
    case APP_BITCOIN_P2P:       *variant = "bitcoin"; return "bitcoin-p2p";
    default:                    return NULL;
    }
}

static void
mining_flow(void *state, const struct flow_rec *f)
{
    struct mining *m = state;
    if (!m->enabled || f->proto != 6 || !f->app)
        return;
    const char *method, *variant;
    const char *proto = describe(f->app, &method, &variant);
    if (!proto || (!m->p2p && (f->app == APP_MONERO_P2P || f->app == APP_BITCOIN_P2P)))
        return;
    const struct cfg *c = m->env.cfg;
    int src_home = det_in_home_net(c, &f->src, f->family);
    int dst_home = det_in_home_net(c, &f->dst, f->family);
    int inbound = dst_home && !src_home;        /* the instance is the server */
    struct finding_cand *fc = &m->fc;
    memset(fc, 0, sizeof(*fc));
    snprintf(fc->type, sizeof(fc->type), "%s", T_MINING);
    fc->severity = 8.0;
    fc->ts_ns = f->dir[0].last_ns > f->dir[1].last_ns ? f->dir[0].last_ns : f->dir[1].last_ns;
    const struct flow_dir *ld = &f->dir[inbound ? 1 : 0];
    fc->vni = ld->pkts ? ld->vni : f->vni;
    fc->action = FC_NETWORK_CONNECTION;
    fc->direction = inbound ? FC_INBOUND : FC_OUTBOUND;
    fc->role = inbound ? FC_TARGET : FC_ACTOR;
    fc->family = f->family;
    fc->proto = f->proto;
    fc->local = inbound ? f->dst : f->src;
    fc->remote = inbound ? f->src : f->dst;
    fc->local_port = inbound ? f->dport : f->sport;
    fc->remote_port = inbound ? f->sport : f->dport;
    fc->count = 1;
    int o = snprintf(fc->info, sizeof(fc->info), "\"protocol\":\"%s\"", proto);
    if (*method)
        o += snprintf(fc->info + o, sizeof(fc->info) - (size_t)o, ",\"method\":\"%s\"", method);
    snprintf(fc->info + o, sizeof(fc->info) - (size_t)o, ",\"variant\":\"%s\",\"port\":%u",
             variant, (unsigned)f->dport);
    m->env.emit(m->env.arg, fc);
}

const struct det_ops det_mining_ops = {
    .name = "mining",
    .init = mining_init,
    .on_flow = mining_flow,
    .fini = mining_fini,
};
