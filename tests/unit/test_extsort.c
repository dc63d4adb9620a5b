/* The external sorter must give what sorting everything in memory gives,
 * with any number of runs (one, many, more than one merge pass can read),
 * alone or several sorters finished together, leave no file behind, and
 * keep working in memory when its directory cannot be written. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "plainsight/common.h"
#include "util/extsort.h"

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

/* Records compare by their bytes, then by length. */
static int bytes_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
    int d = memcmp(a, b, alen < blen ? alen : blen);
    return d ? d : (alen > blen) - (alen < blen);
}

static int cmp_cb(void *ctx, const void *a, size_t alen, const void *b, size_t blen)
{
    (*(long *)ctx)++;
    return bytes_cmp(a, alen, b, blen);
}

typedef struct rec {
    char *p;
    size_t n;
} rec;

static int rec_cmp(const void *x, const void *y)
{
    const rec *a = x, *b = y;
    return bytes_cmp(a->p, a->n, b->p, b->n);
}

typedef struct checker {
    const rec *want;
    size_t n, at;
    int bad;
    size_t stop_after; /* 0: never */
} checker;

static int check_out(void *ctx, const void *p, size_t n)
{
    checker *c = ctx;
    if (c->at >= c->n || c->want[c->at].n != n || memcmp(c->want[c->at].p, p, n) != 0)
        c->bad = 1;
    c->at++;
    return c->stop_after && c->at == c->stop_after;
}

/* Finish s and check it gave `want` (n records, any order) sorted; frees
 * both. */
static void finish_and_check(ps_extsort *s, rec *want, size_t n)
{
    qsort(want, n, sizeof *want, rec_cmp);
    checker c = {want, n, 0, 0, 0};
    assert_int_equal(ps_extsort_finish(s, check_out, &c), PS_OK);
    assert_int_equal(c.at, n);
    assert_false(c.bad);
    ps_extsort_free(s);
    for (size_t i = 0; i < n; i++)
        free(want[i].p);
    free(want);
}

/* n records of random lengths over a small alphabet (ties and shared
 * prefixes), sorted with the given budget and directory. */
static void run_case(size_t n, size_t maxlen, size_t budget, const char *dir, uint32_t *runs,
                     int *spill_errno)
{
    rec *r = calloc(n, sizeof *r);
    assert_non_null(r);
    long cmps = 0;
    ps_extsort *s = ps_extsort_new(budget, dir, cmp_cb, &cmps);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++) {
        r[i].n = rnd(4) == 0 ? rnd((uint32_t)maxlen + 1) : rnd(12);
        r[i].p = malloc(r[i].n + 1);
        for (size_t k = 0; k < r[i].n; k++)
            r[i].p[k] = "abc\0"[rnd(4)];
        assert_int_equal(ps_extsort_add(s, r[i].p, r[i].n), PS_OK);
    }
    assert_int_equal(ps_extsort_count(s), n);
    *runs = ps_extsort_runs(s);
    *spill_errno = ps_extsort_spill_errno(s);
    finish_and_check(s, r, n);
}

/* Records given as `copies` ascending sequences one after the other (the
 * order detections of copied chunks come in), or descending: the output is
 * sorted either way, and the ascending stretches are merged as they are
 * (fewer comparisons than the fixed-width merge sort makes). Returns the
 * comparisons made. */
static long ordered_case(size_t n, size_t copies, int descending)
{
    long cmps = 0;
    ps_extsort *s = ps_extsort_new(64u << 20, NULL, cmp_cb, &cmps);
    assert_non_null(s);
    size_t per = n / copies;
    rec *want = calloc(n, sizeof *want);
    assert_non_null(want);
    for (size_t i = 0; i < n; i++) {
        want[i].p = malloc(16);
        snprintf(want[i].p, 16, "%08zu", descending ? n - i : i % per);
        want[i].n = 8;
        assert_int_equal(ps_extsort_add(s, want[i].p, 8), PS_OK);
    }
    finish_and_check(s, want, n);
    return cmps;
}

static void test_nearly_sorted(void **state)
{
    (void)state;
    enum { N = 20000 };
    long sorted = ordered_case(N, 1, 0), five = ordered_case(N, 5, 0);
    long reversed = ordered_case(N, 1, 1), many = ordered_case(N, N / 4, 0);
    assert_true(sorted < 2 * N);             /* one look at each neighbour */
    assert_true(five < 5 * N);               /* three merge passes and the look */
    assert_true(reversed > 5 * N);           /* the fixed-width sort (ends of stretches too many) */
    assert_true(many > 5 * N);
}

static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static void test_in_memory(void **state)
{
    (void)state;
    uint32_t runs;
    int err;
    run_case(5000, 200, 64u << 20, "/nonexistent", &runs, &err);
    assert_int_equal(runs, 0);
    assert_int_equal(err, 0); /* never needed the file */
    run_case(0, 10, 1 << 20, NULL, &runs, &err);
    run_case(1, 10, 1 << 20, NULL, &runs, &err);
}

static void test_spilled_runs(void **state)
{
    (void)state;
    char dir[] = "/tmp/ps-extsort-XXXXXX";
    assert_non_null(mkdtemp(dir));
    uint32_t runs;
    int err;
    /* a few runs, one merge */
    run_case(20000, 300, 64u << 10, dir, &runs, &err);
    assert_true(runs > 2 && runs <= PS_EXTSORT_FAN_IN);
    assert_int_equal(err, 0);
    /* more runs than one merge reads: merged in passes */
    run_case(60000, 3000, 64u << 10, dir, &runs, &err);
    assert_true(runs > PS_EXTSORT_FAN_IN);
    /* records as large as the read buffer and larger */
    run_case(300, 200000, 64u << 10, dir, &runs, &err);
    assert_true(runs > 1);
    assert_int_equal(dir_entries(dir), 0); /* the file never had a name left behind */
    rmdir(dir);
}

static void test_unwritable_directory(void **state)
{
    (void)state;
    uint32_t runs;
    int err;
    run_case(20000, 300, 64u << 10, "/nonexistent/dir", &runs, &err);
    assert_int_equal(runs, 0);
    assert_true(err != 0); /* said so, and sorted in memory */
}

/* Several sorters (one per thread in hunt) finished together: one order over
 * all their records, whether a sorter kept everything in memory, wrote a few
 * runs, or so many that together they are more than one merge reads; an
 * empty sorter adds nothing. */
/* Free the sorters and the records, and check the sorters' directory is
 * left empty (their temporary files had no names). */
static void free_all(ps_extsort **sorts, size_t nsorts, rec *r, size_t n, const char *dir)
{
    for (size_t k = 0; k < nsorts; k++)
        ps_extsort_free(sorts[k]);
    for (size_t i = 0; i < n; i++)
        free(r[i].p);
    free(r);
    assert_int_equal(dir_entries(dir), 0);
    rmdir(dir);
}

/* Records that lead with a uint64_t key (ps_extsort_set_key64), compared
 * by it as a number, then by the rest of their bytes. */
static int key_then_bytes(const void *a, size_t alen, const void *b, size_t blen)
{
    uint64_t ka, kb;
    memcpy(&ka, a, 8);
    memcpy(&kb, b, 8);
    if (ka != kb)
        return ka < kb ? -1 : 1;
    return bytes_cmp((const char *)a + 8, alen - 8, (const char *)b + 8, blen - 8);
}

static int key_cb(void *ctx, const void *a, size_t alen, const void *b, size_t blen)
{
    (*(long *)ctx)++;
    return key_then_bytes(a, alen, b, blen);
}

static int key_rec_cmp(const void *x, const void *y)
{
    const rec *a = x, *b = y;
    return key_then_bytes(a->p, a->n, b->p, b->n);
}

/* With leading keys the order is the same as cmp's alone, through runs on
 * disk and several sorters, and cmp is asked only about records of equal
 * keys; keys past 2^63 sort as unsigned numbers; a record shorter than its
 * key is refused. */
static void test_leading_key(void **state)
{
    (void)state;
    char dir[] = "/tmp/ps-extsort-XXXXXX";
    assert_non_null(mkdtemp(dir));
    enum { NSORT = 2, N = 40000 };
    long cmps = 0;
    ps_extsort *sorts[NSORT];
    for (int k = 0; k < NSORT; k++) {
        assert_non_null(sorts[k] = ps_extsort_new(64u << 10, dir, key_cb, &cmps));
        ps_extsort_set_key64(sorts[k]);
    }
    assert_int_equal(ps_extsort_add(sorts[0], "short", 5), PS_ERR_ARG);
    rec *r = calloc(N, sizeof *r);
    assert_non_null(r);
    size_t ties = 0;
    for (size_t i = 0; i < N; i++) {
        uint64_t key = (uint64_t)rnd(30000) << 40 | rnd(2); /* ties, and high bits set */
        r[i].n = 8 + rnd(20);
        r[i].p = malloc(r[i].n);
        memcpy(r[i].p, &key, 8);
        for (size_t k = 8; k < r[i].n; k++)
            r[i].p[k] = "ab"[rnd(2)];
        assert_int_equal(ps_extsort_add(sorts[i % NSORT], r[i].p, r[i].n), PS_OK);
    }
    assert_true(ps_extsort_runs(sorts[0]) > 1);
    qsort(r, N, sizeof *r, key_rec_cmp);
    for (size_t i = 1; i < N; i++)
        ties += memcmp(r[i - 1].p, r[i].p, 8) == 0;
    cmps = 0;
    checker c = {r, N, 0, 0, 0};
    assert_int_equal(ps_extsort_finish_all(sorts, NSORT, check_out, &c), PS_OK);
    assert_int_equal(c.at, N);
    assert_false(c.bad);
    /* the final merge asks cmp about equal keys only: about as often as
     * there are ties, not about every record */
    assert_true(cmps < (long)(4 * ties + 64));
    free_all(sorts, NSORT, r, N, dir);
}

static void test_several_sorters(void **state)
{
    (void)state;
    char dir[] = "/tmp/ps-extsort-XXXXXX";
    assert_non_null(mkdtemp(dir));
    enum { NSORT = 4, N = 90000 };
    const size_t budget[NSORT] = {64u << 20, 64u << 10, 64u << 10, 64u << 10};
    const unsigned share[NSORT] = {1, 4, 6, 0}; /* out of 11 records */
    long cmps = 0;
    ps_extsort *sorts[NSORT];
    for (int k = 0; k < NSORT; k++)
        assert_non_null(sorts[k] = ps_extsort_new(budget[k], dir, cmp_cb, &cmps));
    rec *r = calloc(N, sizeof *r);
    assert_non_null(r);
    for (size_t i = 0; i < N; i++) {
        r[i].n = rnd(4) == 0 ? rnd(300) : rnd(12);
        r[i].p = malloc(r[i].n + 1);
        for (size_t k = 0; k < r[i].n; k++)
            r[i].p[k] = "abc\0"[rnd(4)];
        unsigned pick = rnd(11), k = 0;
        while (pick >= share[k])
            pick -= share[k++];
        assert_int_equal(ps_extsort_add(sorts[k], r[i].p, r[i].n), PS_OK);
    }
    assert_int_equal(ps_extsort_runs(sorts[0]), 0);
    assert_int_equal(ps_extsort_runs(sorts[3]), 0);
    assert_true(ps_extsort_runs(sorts[1]) + ps_extsort_runs(sorts[2]) > PS_EXTSORT_FAN_IN);
    qsort(r, N, sizeof *r, rec_cmp);
    checker c = {r, N, 0, 0, 0};
    assert_int_equal(ps_extsort_finish_all(sorts, NSORT, check_out, &c), PS_OK);
    assert_int_equal(c.at, N);
    assert_false(c.bad);
    assert_int_equal(ps_extsort_finish_all(sorts, NSORT, check_out, &c), PS_ERR_ARG);
    free_all(sorts, NSORT, r, N, dir);
}

static void test_stop_and_limits(void **state)
{
    (void)state;
    long cmps = 0;
    char dir[] = "/tmp/ps-extsort-XXXXXX";
    assert_non_null(mkdtemp(dir));
    ps_extsort *s = ps_extsort_new(0, dir, cmp_cb, &cmps);
    assert_non_null(s);
    static char big[PS_EXTSORT_MAX_RECORD + 1];
    assert_int_equal(ps_extsort_add(s, big, sizeof big), PS_ERR_ARG);
    rec want[3000];
    char text[3000][8];
    for (int i = 0; i < 3000; i++) {
        snprintf(text[i], sizeof text[i], "%07d", i);
        want[i] = (rec){text[i], 7};
    }
    for (int i = 0; i < 3000; i++) /* backwards, over two runs */
        assert_int_equal(ps_extsort_add(s, text[2999 - i], 7), PS_OK);
    assert_int_equal(ps_extsort_runs(s), 1);
    checker c = {want, 3000, 0, 0, 10};
    assert_int_equal(ps_extsort_finish(s, check_out, &c), PS_ERR_STOP);
    assert_int_equal(c.at, 10);
    assert_false(c.bad);
    assert_int_equal(ps_extsort_finish(s, check_out, &c), PS_ERR_ARG); /* once only */
    ps_extsort_free(s);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_memory),
        cmocka_unit_test(test_nearly_sorted),
        cmocka_unit_test(test_spilled_runs),
        cmocka_unit_test(test_unwritable_directory),
        cmocka_unit_test(test_stop_and_limits),
        cmocka_unit_test(test_several_sorters),
        cmocka_unit_test(test_leading_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
