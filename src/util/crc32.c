/*
 * CRC-32 by carry-less multiplication (PCLMULQDQ) where the CPU has it.
 *
 * Every chunk's record area (up to 64 KiB) is checked, and zlib's table
 * code costs about 3.8 instructions per byte there: a tenth of the whole
 * decoder. Folding 64 bytes at a time with carry-less products is the
 * technique Intel described for generic CRCs ("Fast CRC Computation Using
 * PCLMULQDQ", 2009); the derivation below is ours.
 *
 * In the bit-reflected convention of this CRC, 16 message bytes loaded
 * little-endian are reflect128(A) for the block's polynomial A (bit i holds
 * the coefficient of x^(127-i)), and for polynomials a, b below degree 64,
 * clmul(reflect64(a), reflect64(b)) = reflect128(a * b * x). Folding an
 * accumulator A over a distance of D bits, A * x^D + B, therefore splits A
 * into halves and multiplies the high half by reflect64(x^(D+63) mod P) and
 * the low half by reflect64(x^(D-1) mod P); the sum stays below degree 128
 * and congruent to the message so far. The CRC depends on the message only
 * modulo P, so zlib's CRC of the final 16 accumulator bytes, seeded so that
 * the initial value was folded in up front, is the CRC of the message.
 */
#include "util/crc32.h"

#include <zlib.h>

/* reflect64(x^n mod P) for n = 575, 511 (64-byte folds) and 191, 127
 * (16-byte folds); the unit test recomputes them. */
const uint64_t ps_crc32_fold_constants[4] = {
    0x653d982200000000ull, 0xcad38e8f00000000ull,
    0x65673b4600000000ull, 0x9ba54c6f00000000ull};

static uint32_t crc32_zlib(uint32_t crc, const uint8_t *p, size_t n)
{
    /* zlib takes a uInt length: feed it in pieces. */
    while (n) {
        uInt piece = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = (uint32_t)crc32(crc, p, piece);
        p += piece;
        n -= piece;
    }
    return crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define CLMUL_TARGET __attribute__((target("pclmul,sse2")))

CLMUL_TARGET static inline __m128i fold(__m128i acc, __m128i k, __m128i next)
{
    __m128i hi_part = _mm_clmulepi64_si128(acc, k, 0x00); /* acc.lo (A's high half) * k.lo */
    __m128i lo_part = _mm_clmulepi64_si128(acc, k, 0x11); /* acc.hi (A's low half) * k.hi */
    return _mm_xor_si128(_mm_xor_si128(hi_part, lo_part), next);
}

CLMUL_TARGET static inline __m128i load16(const uint8_t *p)
{
    return _mm_loadu_si128((const __m128i *)(const void *)p);
}

/* n >= 64. */
CLMUL_TARGET static uint32_t crc32_clmul(uint32_t crc, const uint8_t *p, size_t n)
{
    const uint64_t *k = ps_crc32_fold_constants;
    const __m128i k64 = _mm_set_epi64x((long long)k[1], (long long)k[0]);
    const __m128i k16 = _mm_set_epi64x((long long)k[3], (long long)k[2]);
    __m128i a0 = _mm_xor_si128(load16(p), _mm_cvtsi32_si128((int)~crc));
    __m128i a1 = load16(p + 16), a2 = load16(p + 32), a3 = load16(p + 48);
    for (p += 64, n -= 64; n >= 64; p += 64, n -= 64) {
        a0 = fold(a0, k64, load16(p));
        a1 = fold(a1, k64, load16(p + 16));
        a2 = fold(a2, k64, load16(p + 32));
        a3 = fold(a3, k64, load16(p + 48));
    }
    __m128i acc = fold(fold(fold(a0, k16, a1), k16, a2), k16, a3);
    for (; n >= 16; p += 16, n -= 16)
        acc = fold(acc, k16, load16(p));
    uint8_t bytes[16];
    _mm_storeu_si128((__m128i *)(void *)bytes, acc);
    /* zlib with 0xFFFFFFFF starts from a zero register: the raw CRC. */
    return crc32_zlib(crc32_zlib(0xFFFFFFFFu, bytes, 16), p, n);
}

static int have_clmul(void)
{
    return __builtin_cpu_supports("pclmul");
}
#else
static uint32_t crc32_clmul(uint32_t crc, const uint8_t *p, size_t n)
{
    return crc32_zlib(crc, p, n);
}
static int have_clmul(void) { return 0; }
#endif

uint32_t ps_crc32(uint32_t crc, const void *buf, size_t n)
{
    if (n >= 64 && have_clmul())
        return crc32_clmul(crc, buf, n);
    return crc32_zlib(crc, buf, n);
}
