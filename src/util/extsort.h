/* Sorting more records than memory should hold: records (byte strings of any
 * length up to PS_EXTSORT_MAX_RECORD) are kept in a buffer of a fixed
 * budget; when it is full they are sorted and written as a run to a
 * temporary file, and at the end the runs are merged (several passes when
 * there are more runs than PS_EXTSORT_FAN_IN), so memory stays bounded
 * whatever the number of records. With no spill, everything is sorted in
 * memory as before; what is still in memory at the end is merged from there,
 * not written first.
 *
 * The temporary file is made in the given directory with O_TMPFILE, or
 * created and unlinked at once, mode 0600: it has no name while in use and
 * vanishes with the process. When it cannot be made, the sorter keeps every
 * record in memory instead (results are the same) and says so through
 * ps_extsort_spill_errno.
 *
 * Equal records (cmp 0) come out in no particular order. Not thread-safe:
 * one caller at a time. */
#ifndef PS_UTIL_EXTSORT_H
#define PS_UTIL_EXTSORT_H

#include <stddef.h>
#include <stdint.h>

#define PS_EXTSORT_MAX_RECORD (1u << 20)
#define PS_EXTSORT_FAN_IN 64

typedef struct ps_extsort ps_extsort;

/* <0, 0, >0 as a is before, equal to or after b. */
typedef int (*ps_extsort_cmp)(void *ctx, const void *a, size_t alen, const void *b, size_t blen);
/* Receives the records in order; non-zero stops. */
typedef int (*ps_extsort_out)(void *ctx, const void *rec, size_t len);

/* budget: bytes of records (and their index) kept in memory before a run is
 * written (at least 64 KiB is used); tmpdir: where the temporary file goes.
 * NULL when out of memory. */
ps_extsort *ps_extsort_new(size_t budget, const char *tmpdir, ps_extsort_cmp cmp, void *cmp_ctx);

/* Records begin with a uint64_t in the machine's byte order, and cmp orders
 * records by it first (as unsigned numbers): records of different keys are
 * then ordered by their keys without a call to cmp. Every record must be at
 * least 8 bytes long (PS_ERR_ARG otherwise). Call before the first add; all
 * sorters finished together must agree. */
void ps_extsort_set_key64(ps_extsort *s);

/* Add a record (copied). PS_OK, PS_ERR_ARG for one over the maximum size,
 * PS_ERR_NOMEM, or PS_ERR_IO when a run could not be written (the records
 * are lost then: stop). */
int ps_extsort_add(ps_extsort *s, const void *rec, size_t len);

/* Every record in order, once; call once. PS_OK, PS_ERR_STOP when `out`
 * stopped, PS_ERR_IO or PS_ERR_NOMEM. */
int ps_extsort_finish(ps_extsort *s, ps_extsort_out out, void *out_ctx);

/* The same over several sorters made with the same cmp and cmp_ctx (one per
 * thread, say, so that no thread waits while another writes a run): every
 * record of all of them in one order, once. Each sorter is finished by it. */
int ps_extsort_finish_all(ps_extsort *const *sorts, size_t n, ps_extsort_out out,
                          void *out_ctx);

uint64_t ps_extsort_count(const ps_extsort *s);
/* Runs written to the temporary file so far. */
uint32_t ps_extsort_runs(const ps_extsort *s);
/* The errno of a temporary file that could not be made (the sorter went on
 * in memory), or 0. */
int ps_extsort_spill_errno(const ps_extsort *s);

void ps_extsort_free(ps_extsort *s);

#endif
