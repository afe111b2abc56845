/* tests/test_main.c - CUnit registry: one suite per module. Each
 * tests/test_<module>.c exports test_<module>_register(), which adds its
 * suite. Run from tests/ (fixtures are found relative to it). */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

int test_ring_register(void);
int test_bigmem_register(void);
int test_dec_register(void);
int test_flow_register(void);
int test_dns_register(void);
int test_cap_register(void);
int test_cfg_register(void);
int test_redis_register(void);
int test_lists_register(void);
int test_findings_register(void);
int test_det_scan_register(void);
int test_det_brute_register(void);
int test_det_threat_register(void);
int test_det_dnsmisc_register(void);
int test_det_mining_register(void);
int test_det_exfil_register(void);
int test_det_dga_register(void);
int test_det_beacon_register(void);
int test_det_dos_register(void);
int test_det_baseline_register(void);

static const struct { const char *name; int (*reg)(void); } suites[] = {
    { "ring", test_ring_register },
    { "bigmem", test_bigmem_register },
    { "dec",  test_dec_register },
    { "flow", test_flow_register },
    { "dns",  test_dns_register },
    { "cap",  test_cap_register },
    { "cfg",  test_cfg_register },
    { "redis", test_redis_register },
    { "lists", test_lists_register },
    { "findings", test_findings_register },
    { "det_scan", test_det_scan_register },
    { "det_brute", test_det_brute_register },
    { "det_threat", test_det_threat_register },
    { "det_dnsmisc", test_det_dnsmisc_register },
    { "det_mining", test_det_mining_register },
    { "det_exfil", test_det_exfil_register },
    { "det_dga", test_det_dga_register },
    { "det_beacon", test_det_beacon_register },
    { "det_dos", test_det_dos_register },
    { "det_baseline", test_det_baseline_register },
};

int main(int argc, char **argv)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
        if (argc > 1 && strcmp(argv[1], suites[i].name) != 0)
            continue;           /* ./unit-tests dns: one suite only */
        if (suites[i].reg() != 0) {
            fprintf(stderr, "cannot register suite %s\n", suites[i].name);
            CU_cleanup_registry();
            return 2;
        }
    }
    CU_basic_set_mode(CU_BRM_NORMAL);
    CU_basic_run_tests();
    /* Read the counts before the cleanup resets them. */
    unsigned failed = CU_get_number_of_failures();
    unsigned ran = CU_get_number_of_tests_run();
    unsigned tests_failed = CU_get_number_of_tests_failed();
    /* A suite whose set-up fails runs none of its tests, and CUnit counts
     * that apart from failed assertions: it must fail the run too. */
    unsigned suites_failed = CU_get_number_of_suites_failed();
    if (suites_failed)
        printf("%u suite(s) could not be set up: their tests did not run\n", suites_failed);
    CU_cleanup_registry();
    printf("%u passed, %u failed\n", ran - tests_failed, tests_failed);
    return failed || suites_failed ? 1 : 0;
}
