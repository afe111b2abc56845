/* tests/test_det_mining.c - decoders/app.c's mining sub-kinds from real
 * first messages, and detect/det_mining.c's candidates (any port, method
 * in additionalInfo, direction, disabled). */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "cfg.h"
#include "det.h"

#define DH_OPS det_mining_ops
#define DH_MAXGOT 16
#include "det_harness.h"

static uint8_t cls(const char *s)
{
    return app_classify((const uint8_t *)s, strlen(s));
}

static void test_classify(void)
{
    /* peafowl stratum.pcap's first message */
    CU_ASSERT_EQUAL(cls("{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"EWBF 0.3.4b\",null,"
                        "\"eu1-zcash.flypool.org\",\"3333\"]}\n"), APP_STRATUM);
    CU_ASSERT_EQUAL(cls("{\"params\": [\"w.1\", \"x\"], \"id\": 2, \"method\" : \"mining.authorize\"}"),
                    APP_STRATUM_AUTHORIZE);
    CU_ASSERT_EQUAL(cls("{\"id\":1,\"method\":\"mining.configure\",\"params\":[]}"), APP_STRATUM_MINING);
    CU_ASSERT_EQUAL(cls("{\"id\":1,\"jsonrpc\":\"2.0\",\"method\":\"login\",\"params\":{\"login\":"
                        "\"4A...\",\"pass\":\"x\",\"agent\":\"XMRig/6.21.0\"}}"), APP_STRATUM_XMRIG);
    CU_ASSERT_EQUAL(cls("{\"worker\":\"\",\"jsonrpc\":\"2.0\",\"params\":[\"0xabc\",\"x\"],\"id\":2,"
                        "\"method\":\"eth_submitLogin\"}"), APP_STRATUM_ETH);
    CU_ASSERT_EQUAL(cls("{\"id\":1,\"method\":\"getblock\",\"params\":[]}"), APP_NONE);
    CU_ASSERT_EQUAL(cls("{\"user\":\"bob\",\"msg\":\"hello\"}"), APP_NONE);
    static const uint8_t levin[] = { 1, 0x21, 1, 1, 1, 1, 1, 1, 0xe2, 0, 0, 0, 0, 0, 0, 0 };
    CU_ASSERT_EQUAL(app_classify(levin, sizeof(levin)), APP_MONERO_P2P);
    static const uint8_t btc[] = { 0xf9, 0xbe, 0xb4, 0xd9, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0, 0, 0,
                                   0, 0, 0x66, 0, 0, 0 };
    CU_ASSERT_EQUAL(app_classify(btc, sizeof(btc)), APP_BITCOIN_P2P);
    CU_ASSERT_EQUAL(cls("GET / HTTP/1.1\r\n"), APP_HTTP);
}

static void flow(const char *src, const char *dst, uint16_t dport, uint8_t app)
{
    struct flow_rec f;
    memset(&f, 0, sizeof(f));
    inet_pton(AF_INET, src, f.src.b);
    inet_pton(AF_INET, dst, f.dst.b);
    f.family = 4;
    f.proto = 6;
    f.sport = 45000;
    f.dport = dport;
    f.app = app;
    f.dir[0].pkts = f.dir[1].pkts = 4;
    f.dir[0].last_ns = 1700000000000000000ull;
    det_mining_ops.on_flow(st, &f);
}

static void test_detect(void)
{
    CU_ASSERT_FATAL(start(NULL, 0) == 0);
    flow("10.0.0.5", "203.0.113.9", 443, APP_STRATUM);
    CU_ASSERT_EQUAL_FATAL(n_got, 1);
    CU_ASSERT_STRING_EQUAL(got[0].type, "CryptoCurrency:EC2/BitcoinTool.B");
    CU_ASSERT_EQUAL(got[0].severity, 8.0);
    CU_ASSERT_EQUAL(got[0].role, FC_ACTOR);
    CU_ASSERT_EQUAL(got[0].remote_port, 443);
    CU_ASSERT_PTR_NOT_NULL(strstr(got[0].info, "\"method\":\"mining.subscribe\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(got[0].info, "\"port\":443"));
    flow("10.0.0.5", "203.0.113.9", 8080, APP_STRATUM_XMRIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(got[1].info, "\"method\":\"login\""));
    flow("10.0.0.5", "203.0.113.9", 4444, APP_STRATUM_ETH);
    CU_ASSERT_PTR_NOT_NULL(strstr(got[2].info, "eth_submitLogin"));
    flow("198.51.100.7", "10.0.0.8", 3333, APP_STRATUM);          /* a pool on the instance */
    CU_ASSERT_EQUAL(got[3].role, FC_TARGET);
    CU_ASSERT_EQUAL(got[3].direction, FC_INBOUND);
    n_got = 0;
    flow("10.0.0.5", "203.0.113.9", 443, APP_TLS);
    flow("10.0.0.5", "203.0.113.9", 3333, APP_NONE);
    flow("10.0.0.5", "203.0.113.9", 8333, APP_BITCOIN_P2P);     /* a node: off by default */
    CU_ASSERT_EQUAL(n_got, 0);
    stop();
    const char *p2p[] = { "detect.mining.p2p=true" };
    CU_ASSERT_FATAL(start(p2p, 1) == 0);
    flow("10.0.0.5", "203.0.113.9", 18080, APP_MONERO_P2P);
    CU_ASSERT_EQUAL(n_got, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(got[0].info, "monero-p2p"));
    stop();
    const char *off[] = { "detect.mining.enabled=false" };
    CU_ASSERT_FATAL(start(off, 1) == 0);
    flow("10.0.0.5", "203.0.113.9", 3333, APP_STRATUM);
    CU_ASSERT_EQUAL(n_got, 0);
    stop();
}

int test_det_mining_register(void)
{
    CU_pSuite s = CU_add_suite("det_mining", NULL, NULL);
    if (!s)
        return -1;
    if (!CU_add_test(s, "first-bytes mining sub-kinds", test_classify) ||
        !CU_add_test(s, "mining candidates", test_detect))
        return -1;
    return 0;
}
