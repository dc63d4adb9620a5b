/* The batched MD5 (src/scan/md5_lanes.c) against OpenSSL's, on every length
 * around the block and padding edges, lanes of unequal lengths and every
 * lane count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "scan/scan_internal.h"

static void openssl_md5(const uint8_t *p, size_t len, uint8_t out[16])
{
    unsigned int n = 0;
    assert_true(EVP_Digest(p, len, out, &n, EVP_md5(), NULL));
    assert_int_equal(n, 16);
}

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void test_one_lane_every_length(void **state)
{
    (void)state;
    uint8_t buf[1200], a[16], b[16];
    uint64_t s = 42;
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)next(&s);
    for (size_t len = 0; len <= sizeof buf; len++) {
        ps_md5_one(buf, len, a);
        openssl_md5(buf, len, b);
        if (memcmp(a, b, 16))
            fail_msg("length %zu differs", len);
    }
    /* RFC 1321's test suite value for "abc". */
    ps_md5_one((const uint8_t *)"abc", 3, a);
    static const uint8_t abc[16] = {0x90, 0x01, 0x50, 0x98, 0x3c, 0xd2, 0x4f, 0xb0,
                                    0xd6, 0x96, 0x3f, 0x7d, 0x28, 0xe1, 0x7f, 0x72};
    assert_memory_equal(a, abc, 16);
}

static void test_lanes_equal_openssl(void **state)
{
    (void)state;
    print_message("many-lane code on this CPU: %s\n", ps_md5_lanes_available() ? "yes" : "no");
    size_t cap = 4 << 20;
    uint8_t *base = malloc(cap);
    assert_non_null(base);
    uint64_t s = 7;
    for (size_t i = 0; i < cap; i++)
        base[i] = (uint8_t)next(&s);
    for (int round = 0; round < 400; round++) {
        size_t n = 1 + (size_t)(next(&s) % 20); /* past 16: the rest one by one */
        uint32_t offs[20];
        size_t lens[20];
        uint8_t got[20][16], want[16];
        for (size_t l = 0; l < n; l++) {
            uint64_t kind = next(&s) % 4;
            /* Short, block-edged, long and very unequal lengths. */
            lens[l] = kind == 0 ? next(&s) % 130 : kind == 1 ? 64 * (next(&s) % 40) + (next(&s) % 3)
                    : kind == 2 ? next(&s) % 20000 : next(&s) % 300000;
            offs[l] = (uint32_t)(next(&s) % (cap - lens[l]));
        }
        ps_md5_lanes(base, offs, lens, n, got);
        for (size_t l = 0; l < n; l++) {
            openssl_md5(base + offs[l], lens[l], want);
            if (memcmp(got[l], want, 16))
                fail_msg("round %d lane %zu of %zu (length %zu) differs", round, l, n, lens[l]);
        }
    }
    free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_lane_every_length),
        cmocka_unit_test(test_lanes_equal_openssl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
