/* MD5 of up to 16 files at once, one per 32-bit lane of an AVX-512 register.
 *
 * MD5 is the slowest of the three digests a scan computes (about 1.35 ms
 * per MB with OpenSSL's assembly, against 0.5 for SHA1 and SHA256 with the
 * SHA instructions) and cannot be sped up for one message: each of its 64
 * steps per block waits for the one before. Sixteen independent messages,
 * though, go through the same steps side by side in one register. The
 * scanner hands a worker's small files over in batches (scan_file.c), so the
 * lanes are usually full.
 *
 * The algorithm is RFC 1321's: the 64 sine-derived constants, the four
 * round functions, the per-round rotations and message word orders, the
 * padding (0x80, zeros, the bit length as 64 little-endian bits). Lanes run
 * full 64-byte blocks while at least two of them have one left; what
 * remains of each message (the end of the longest ones, the last partial
 * block and the padding) goes through the one-lane code below, which starts
 * from that lane's state. */
#include <string.h>

#include "scan/scan_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PS_HAVE_AVX512_MD5 1
#include <immintrin.h>
#endif

static const uint32_t K[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

static const uint32_t INIT[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};

/* ------------------------------------------------------------ one lane */

static uint32_t rotl(uint32_t x, unsigned s) { return (x << s) | (x >> (32 - s)); }

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The steps written out (constant indexes and rotations), which the
 * compiler turns into straight-line code as fast as OpenSSL's assembly. */
#define STEP1(f, a, b, c, d, g, i, s) a = b + rotl(a + (f) + K[i] + m[g], s)
#define F1(a, b, c, d, g, i, s) STEP1((b & c) | (~b & d), a, b, c, d, g, i, s)
#define G1(a, b, c, d, g, i, s) STEP1((d & b) | (~d & c), a, b, c, d, g, i, s)
#define H1(a, b, c, d, g, i, s) STEP1(b ^ c ^ d, a, b, c, d, g, i, s)
#define I1(a, b, c, d, g, i, s) STEP1(c ^ (b | ~d), a, b, c, d, g, i, s)

static void block1(uint32_t st[4], const uint8_t *p)
{
    uint32_t m[16];
    for (int j = 0; j < 16; j++)
        m[j] = le32(p + 4 * j);
    uint32_t a = st[0], b = st[1], c = st[2], d = st[3];
    F1(a, b, c, d, 0, 0, 7);   F1(d, a, b, c, 1, 1, 12);  F1(c, d, a, b, 2, 2, 17);  F1(b, c, d, a, 3, 3, 22);
    F1(a, b, c, d, 4, 4, 7);   F1(d, a, b, c, 5, 5, 12);  F1(c, d, a, b, 6, 6, 17);  F1(b, c, d, a, 7, 7, 22);
    F1(a, b, c, d, 8, 8, 7);   F1(d, a, b, c, 9, 9, 12);  F1(c, d, a, b, 10, 10, 17); F1(b, c, d, a, 11, 11, 22);
    F1(a, b, c, d, 12, 12, 7); F1(d, a, b, c, 13, 13, 12); F1(c, d, a, b, 14, 14, 17); F1(b, c, d, a, 15, 15, 22);
    G1(a, b, c, d, 1, 16, 5);  G1(d, a, b, c, 6, 17, 9);  G1(c, d, a, b, 11, 18, 14); G1(b, c, d, a, 0, 19, 20);
    G1(a, b, c, d, 5, 20, 5);  G1(d, a, b, c, 10, 21, 9); G1(c, d, a, b, 15, 22, 14); G1(b, c, d, a, 4, 23, 20);
    G1(a, b, c, d, 9, 24, 5);  G1(d, a, b, c, 14, 25, 9); G1(c, d, a, b, 3, 26, 14);  G1(b, c, d, a, 8, 27, 20);
    G1(a, b, c, d, 13, 28, 5); G1(d, a, b, c, 2, 29, 9);  G1(c, d, a, b, 7, 30, 14);  G1(b, c, d, a, 12, 31, 20);
    H1(a, b, c, d, 5, 32, 4);  H1(d, a, b, c, 8, 33, 11); H1(c, d, a, b, 11, 34, 16); H1(b, c, d, a, 14, 35, 23);
    H1(a, b, c, d, 1, 36, 4);  H1(d, a, b, c, 4, 37, 11); H1(c, d, a, b, 7, 38, 16);  H1(b, c, d, a, 10, 39, 23);
    H1(a, b, c, d, 13, 40, 4); H1(d, a, b, c, 0, 41, 11); H1(c, d, a, b, 3, 42, 16);  H1(b, c, d, a, 6, 43, 23);
    H1(a, b, c, d, 9, 44, 4);  H1(d, a, b, c, 12, 45, 11); H1(c, d, a, b, 15, 46, 16); H1(b, c, d, a, 2, 47, 23);
    I1(a, b, c, d, 0, 48, 6);  I1(d, a, b, c, 7, 49, 10); I1(c, d, a, b, 14, 50, 15); I1(b, c, d, a, 5, 51, 21);
    I1(a, b, c, d, 12, 52, 6); I1(d, a, b, c, 3, 53, 10); I1(c, d, a, b, 10, 54, 15); I1(b, c, d, a, 1, 55, 21);
    I1(a, b, c, d, 8, 56, 6);  I1(d, a, b, c, 15, 57, 10); I1(c, d, a, b, 6, 58, 15); I1(b, c, d, a, 13, 59, 21);
    I1(a, b, c, d, 4, 60, 6);  I1(d, a, b, c, 11, 61, 10); I1(c, d, a, b, 2, 62, 15); I1(b, c, d, a, 9, 63, 21);
    st[0] += a;
    st[1] += b;
    st[2] += c;
    st[3] += d;
}

/* Finishes a message whose first `done` bytes are in `st`. */
static void finish1(uint32_t st[4], const uint8_t *p, size_t len, size_t done, uint8_t out[16])
{
    for (; len - done >= 64; done += 64)
        block1(st, p + done);
    uint8_t tail[128];
    size_t rest = len - done;
    memcpy(tail, p + done, rest);
    tail[rest] = 0x80;
    size_t total = rest + 1 + 8 <= 64 ? 64 : 128;
    memset(tail + rest + 1, 0, total - rest - 1);
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++)
        tail[total - 8 + (size_t)i] = (uint8_t)(bits >> (8 * i));
    block1(st, tail);
    if (total == 128)
        block1(st, tail + 64);
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 4; k++)
            out[4 * i + k] = (uint8_t)(st[i] >> (8 * k));
}

void ps_md5_one(const uint8_t *p, size_t len, uint8_t out[16])
{
    uint32_t st[4];
    memcpy(st, INIT, sizeof st);
    finish1(st, p, len, 0, out);
}

/* ------------------------------------------------------------- 16 lanes */

#ifdef PS_HAVE_AVX512_MD5

#define TGT __attribute__((target("avx512f")))

/* One step: a = b + rotl(a + f(b, c, d) + K[i] + m, s), with f one of the
 * round functions as a three-input truth table (vpternlogd): 0xCA is
 * "x ? y : z", 0x96 is x ^ y ^ z, 0x39 is y ^ (x | ~z). */
#define STEP(imm, x, y, z, a, b, m, i, s)                                                       \
    do {                                                                                        \
        __m512i f_ = _mm512_ternarylogic_epi32(x, y, z, imm);                                   \
        a = _mm512_add_epi32(a, _mm512_add_epi32(f_, _mm512_add_epi32(m, _mm512_set1_epi32((int)K[i])))); \
        a = _mm512_add_epi32(b, _mm512_rol_epi32(a, s));                                        \
    } while (0)

#define F(a, b, c, d, g, i, s) STEP(0xCA, b, c, d, a, b, M[g], i, s)
#define G(a, b, c, d, g, i, s) STEP(0xCA, d, b, c, a, b, M[g], i, s)
#define H(a, b, c, d, g, i, s) STEP(0x96, b, c, d, a, b, M[g], i, s)
#define I(a, b, c, d, g, i, s) STEP(0x39, b, c, d, a, b, M[g], i, s)

TGT static void md5_x16(const uint8_t *base, uint32_t off[16], uint32_t left[16],
                        uint32_t st[4][16])
{
    __m512i voff = _mm512_loadu_si512(off), vleft = _mm512_loadu_si512(left);
    __m512i A = _mm512_loadu_si512(st[0]), B = _mm512_loadu_si512(st[1]);
    __m512i C = _mm512_loadu_si512(st[2]), D = _mm512_loadu_si512(st[3]);
    const __m512i zero = _mm512_setzero_si512();
    for (;;) {
        __mmask16 act = _mm512_cmpgt_epu32_mask(vleft, zero);
        if (__builtin_popcount((unsigned)act) < 2)
            break; /* one lane left: the one-lane code is as fast */
        __m512i M[16];
        for (int j = 0; j < 16; j++)
            M[j] = _mm512_mask_i32gather_epi32(zero, act, _mm512_add_epi32(voff, _mm512_set1_epi32(4 * j)),
                                               base, 1);
        __m512i a = A, b = B, c = C, d = D;
        F(a, b, c, d, 0, 0, 7);   F(d, a, b, c, 1, 1, 12);  F(c, d, a, b, 2, 2, 17);  F(b, c, d, a, 3, 3, 22);
        F(a, b, c, d, 4, 4, 7);   F(d, a, b, c, 5, 5, 12);  F(c, d, a, b, 6, 6, 17);  F(b, c, d, a, 7, 7, 22);
        F(a, b, c, d, 8, 8, 7);   F(d, a, b, c, 9, 9, 12);  F(c, d, a, b, 10, 10, 17); F(b, c, d, a, 11, 11, 22);
        F(a, b, c, d, 12, 12, 7); F(d, a, b, c, 13, 13, 12); F(c, d, a, b, 14, 14, 17); F(b, c, d, a, 15, 15, 22);
        G(a, b, c, d, 1, 16, 5);  G(d, a, b, c, 6, 17, 9);  G(c, d, a, b, 11, 18, 14); G(b, c, d, a, 0, 19, 20);
        G(a, b, c, d, 5, 20, 5);  G(d, a, b, c, 10, 21, 9); G(c, d, a, b, 15, 22, 14); G(b, c, d, a, 4, 23, 20);
        G(a, b, c, d, 9, 24, 5);  G(d, a, b, c, 14, 25, 9); G(c, d, a, b, 3, 26, 14);  G(b, c, d, a, 8, 27, 20);
        G(a, b, c, d, 13, 28, 5); G(d, a, b, c, 2, 29, 9);  G(c, d, a, b, 7, 30, 14);  G(b, c, d, a, 12, 31, 20);
        H(a, b, c, d, 5, 32, 4);  H(d, a, b, c, 8, 33, 11); H(c, d, a, b, 11, 34, 16); H(b, c, d, a, 14, 35, 23);
        H(a, b, c, d, 1, 36, 4);  H(d, a, b, c, 4, 37, 11); H(c, d, a, b, 7, 38, 16);  H(b, c, d, a, 10, 39, 23);
        H(a, b, c, d, 13, 40, 4); H(d, a, b, c, 0, 41, 11); H(c, d, a, b, 3, 42, 16);  H(b, c, d, a, 6, 43, 23);
        H(a, b, c, d, 9, 44, 4);  H(d, a, b, c, 12, 45, 11); H(c, d, a, b, 15, 46, 16); H(b, c, d, a, 2, 47, 23);
        I(a, b, c, d, 0, 48, 6);  I(d, a, b, c, 7, 49, 10); I(c, d, a, b, 14, 50, 15); I(b, c, d, a, 5, 51, 21);
        I(a, b, c, d, 12, 52, 6); I(d, a, b, c, 3, 53, 10); I(c, d, a, b, 10, 54, 15); I(b, c, d, a, 1, 55, 21);
        I(a, b, c, d, 8, 56, 6);  I(d, a, b, c, 15, 57, 10); I(c, d, a, b, 6, 58, 15); I(b, c, d, a, 13, 59, 21);
        I(a, b, c, d, 4, 60, 6);  I(d, a, b, c, 11, 61, 10); I(c, d, a, b, 2, 62, 15); I(b, c, d, a, 9, 63, 21);
        A = _mm512_mask_add_epi32(A, act, A, a);
        B = _mm512_mask_add_epi32(B, act, B, b);
        C = _mm512_mask_add_epi32(C, act, C, c);
        D = _mm512_mask_add_epi32(D, act, D, d);
        voff = _mm512_mask_add_epi32(voff, act, voff, _mm512_set1_epi32(64));
        vleft = _mm512_mask_sub_epi32(vleft, act, vleft, _mm512_set1_epi32(1));
    }
    _mm512_storeu_si512(off, voff);
    _mm512_storeu_si512(left, vleft);
    _mm512_storeu_si512(st[0], A);
    _mm512_storeu_si512(st[1], B);
    _mm512_storeu_si512(st[2], C);
    _mm512_storeu_si512(st[3], D);
}

int ps_md5_lanes_available(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}

#else

int ps_md5_lanes_available(void) { return 0; }

#endif

void ps_md5_lanes(const uint8_t *base, const uint32_t *offs, const size_t *lens, size_t n,
                  uint8_t (*out)[16])
{
    uint32_t st[4][16], off[16], left[16];
    size_t lanes = n < 16 ? n : 16;
    for (size_t l = 0; l < 16; l++) {
        for (int i = 0; i < 4; i++)
            st[i][l] = INIT[i];
        off[l] = l < lanes ? offs[l] : 0;
        /* Whole blocks only; the last partial block is padded below. */
        left[l] = l < lanes ? (uint32_t)(lens[l] / 64) : 0;
    }
#ifdef PS_HAVE_AVX512_MD5
    if (lanes > 1 && ps_md5_lanes_available())
        md5_x16(base, off, left, st);
#endif
    for (size_t l = 0; l < lanes; l++) {
        uint32_t s1[4] = {st[0][l], st[1][l], st[2][l], st[3][l]};
        size_t done = (size_t)(off[l] - offs[l]);
        finish1(s1, base + offs[l], lens[l], done, out[l]);
    }
    for (size_t l = lanes; l < n; l++)
        ps_md5_one(base + offs[l], lens[l], out[l]);
}
