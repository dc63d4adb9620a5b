/* ps_crc32 (carry-less folding where the CPU has it) against zlib's crc32,
 * and its folding constants derived again from the CRC-32 polynomial. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <zlib.h>

#include <cmocka.h>

#include "util/crc32.h"

/* x^n mod P, P = x^32 + 0x04C11DB7, bit d holding the coefficient of x^d. */
static uint64_t xpow_mod(unsigned n)
{
    uint64_t r = 1;
    while (n--) {
        r <<= 1;
        if (r >> 32)
            r ^= 0x104C11DB7ull;
    }
    return r;
}

static uint64_t reflect64_of_poly(uint64_t q)
{
    uint64_t r = 0;
    for (unsigned d = 0; d < 32; d++)
        if (q >> d & 1)
            r |= 1ull << (63 - d);
    return r;
}

static void test_constants(void **state)
{
    (void)state;
    static const unsigned exponents[4] = {512 + 63, 512 - 1, 128 + 63, 128 - 1};
    for (int i = 0; i < 4; i++)
        assert_int_equal(ps_crc32_fold_constants[i], reflect64_of_poly(xpow_mod(exponents[i])));
}

static uint32_t next_random(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

/* Every length around the 16- and 64-byte steps, odd alignments, any seed. */
static void test_equals_zlib(void **state)
{
    (void)state;
    enum { MAX = 70000 };
    uint8_t *buf = malloc(MAX + 16);
    assert_non_null(buf);
    uint32_t seed = 7;
    for (size_t i = 0; i < MAX + 16; i++)
        buf[i] = (uint8_t)next_random(&seed);
    for (size_t n = 0; n < 600; n++)
        for (size_t align = 0; align < 3; align++) {
            uint32_t init = next_random(&seed) * 2654435761u;
            uint32_t want = (uint32_t)crc32(init, buf + align, (uInt)n);
            assert_int_equal(ps_crc32(init, buf + align, n), want);
        }
    assert_int_equal(ps_crc32(0, buf, MAX), (uint32_t)crc32(0, buf, MAX));
    assert_int_equal(ps_crc32(0, buf + 1, 65024), (uint32_t)crc32(0, buf + 1, 65024));
    /* As EVTX uses it: the chunk header in two pieces. */
    uint32_t a = ps_crc32(ps_crc32(0, buf, 120), buf + 128, 384);
    assert_int_equal(a, (uint32_t)crc32(crc32(0, buf, 120), buf + 128, 384));
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constants),
        cmocka_unit_test(test_equals_zlib),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
