/* The prefilter's database cache (cache_dir) must never change results:
 * loaded cold, warm, after the rules changed, with damaged or hostile files,
 * or with a directory it must not use, a set matches exactly what a set
 * without a cache (and one without a prefilter) matches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plainsight/sigma.h"

/* Literals in several fields and a keyword search, so that the set has
 * several databases. */
static const char rules_v1[] =
    "title: cmd\nid: r-cmd\nlogsource: {product: windows, category: process_creation}\n"
    "detection:\n  sel: {CommandLine|contains: ['mimikatz', 'sekurlsa::']}\n  condition: sel\n---\n"
    "title: image\nid: r-image\nlogsource: {product: windows, category: process_creation}\n"
    "detection:\n  sel: {Image|endswith: ['\\procdump.exe', '\\procdump64.exe']}\n"
    "  condition: sel\n---\n"
    "title: parent\nid: r-parent\nlogsource: {product: windows, category: process_creation}\n"
    "detection:\n  sel: {ParentImage|endswith: '\\wmiprvse.exe'}\n"
    "  filter: {CommandLine|contains: 'harmless'}\n  condition: sel and not filter\n---\n"
    "title: keyword\nid: r-kw\nlogsource: {product: windows, category: process_creation}\n"
    "detection:\n  kw: ['EvilKeyword', 'OtherWord']\n  condition: kw\n";

/* r-cmd looks for another word: only the CommandLine database changes. */
static const char rules_v2[] =
    "title: cmd\nid: r-cmd\nlogsource: {product: windows, category: process_creation}\n"
    "detection:\n  sel: {CommandLine|contains: ['lazagne', 'sekurlsa::']}\n  condition: sel\n---\n"
    "title: image\nid: r-image\nlogsource: {product: windows, category: process_creation}\n"
    "detection:\n  sel: {Image|endswith: ['\\procdump.exe', '\\procdump64.exe']}\n"
    "  condition: sel\n---\n"
    "title: parent\nid: r-parent\nlogsource: {product: windows, category: process_creation}\n"
    "detection:\n  sel: {ParentImage|endswith: '\\wmiprvse.exe'}\n"
    "  filter: {CommandLine|contains: 'harmless'}\n  condition: sel and not filter\n---\n"
    "title: keyword\nid: r-kw\nlogsource: {product: windows, category: process_creation}\n"
    "detection:\n  kw: ['EvilKeyword', 'OtherWord']\n  condition: kw\n";

typedef struct probe {
    const char *image, *parent, *cmdline;
} probe;

static const probe probes[] = {
    {"C:\\x\\cmd.exe", "C:\\x\\explorer.exe", "mimikatz.exe privilege::debug"},
    {"C:\\x\\cmd.exe", "C:\\x\\explorer.exe", "LaZagne.exe all"},
    {"C:\\t\\PROCDUMP64.EXE", "C:\\x\\explorer.exe", "-ma lsass.exe"},
    {"C:\\x\\cmd.exe", "C:\\w\\WmiPrvSE.exe", "whoami"},
    {"C:\\x\\cmd.exe", "C:\\w\\WmiPrvSE.exe", "harmless whoami"},
    {"C:\\x\\cmd.exe", "C:\\x\\explorer.exe", "echo evilkeyword"},
    {"C:\\x\\cmd.exe", "C:\\x\\explorer.exe", "nothing to see"},
    {"", "", ""},
};
#define NPROBES (sizeof probes / sizeof probes[0])

static int record(void *ctx, const ps_sigma_rule_info *rule, size_t index, const ps_event *ev)
{
    (void)rule;
    (void)ev;
    *(unsigned *)ctx |= 1u << index;
    return 0;
}

/* Per probe, the set of rules (bit per index) that matched. */
static void hits(const ps_sigma_set *set, unsigned out[NPROBES])
{
    ps_sigma_scratch *s = ps_sigma_scratch_new(set);
    assert_non_null(s);
    for (size_t i = 0; i < NPROBES; i++) {
        static char paths[3][64];
        const char *names[3] = {"Image", "ParentImage", "CommandLine"};
        const char *values[3] = {probes[i].image, probes[i].parent, probes[i].cmdline};
        ps_field f[3];
        for (int k = 0; k < 3; k++) {
            snprintf(paths[k], sizeof paths[k], "Event.EventData.%s", names[k]);
            f[k] = (ps_field){.path = paths[k], .name = paths[k] + 16, .value = values[k],
                              .path_len = (uint32_t)strlen(paths[k]),
                              .name_len = (uint32_t)strlen(names[k]),
                              .value_len = (uint32_t)strlen(values[k]),
                              .kind = PS_KIND_STRING};
        }
        ps_event ev = {.fields = f, .nfields = 3, .event_id = 1,
                       .channel = "Microsoft-Windows-Sysmon/Operational", .computer = "",
                       .provider = "", .source = ""};
        out[i] = 0;
        assert_true(ps_sigma_match(set, s, &ev, record, &out[i]) >= 0);
    }
    ps_sigma_scratch_free(s);
}

typedef struct loaded {
    ps_sigma_stats st;
    unsigned hits[NPROBES];
} loaded;

static void load_threads(const char *rules, const char *cache_dir, int no_prefilter,
                         unsigned threads, loaded *out)
{
    ps_sigma_options o = {.cache_dir = cache_dir, .no_prefilter = no_prefilter,
                          .threads = threads};
    ps_sigma_set *set = NULL;
    assert_int_equal(ps_sigma_load_text(rules, strlen(rules), "t.yml", &o, &set, &out->st), PS_OK);
    assert_int_equal(out->st.rules_loaded, 4);
    hits(set, out->hits);
    ps_sigma_free(set);
}

static void load(const char *rules, const char *cache_dir, int no_prefilter, loaded *out)
{
    load_threads(rules, cache_dir, no_prefilter, 0, out);
}

/* The same rules without any cache, and without the prefilter at all. */
static void assert_same_as_uncached(const char *rules, const loaded *got)
{
    loaded plain, none;
    load(rules, NULL, 0, &plain);
    load(rules, NULL, 1, &none);
    assert_memory_equal(plain.hits, none.hits, sizeof plain.hits);
    assert_memory_equal(got->hits, plain.hits, sizeof plain.hits);
    assert_int_equal(got->st.prefilter_databases, plain.st.prefilter_databases);
    assert_int_equal(got->st.prefilter_literals, plain.st.prefilter_literals);
}

typedef struct tmpdir {
    char path[256];
} tmpdir;

static void tmpdir_make(tmpdir *t)
{
    snprintf(t->path, sizeof t->path, "/tmp/ps-cache-test-XXXXXX");
    assert_non_null(mkdtemp(t->path));
}

static void tmpdir_remove(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char child[512];
            snprintf(child, sizeof child, "%s/%s", path, e->d_name);
            struct stat st;
            if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode))
                tmpdir_remove(child);
            else
                unlink(child);
        }
        closedir(d);
    }
    rmdir(path);
}

/* The cache files of a directory (*.hsdb), up to `cap`. */
static size_t cache_files(const char *dir, char names[][512], size_t cap)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len > 5 && !strcmp(e->d_name + len - 5, ".hsdb") && n < cap)
            snprintf(names[n++], 512, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    return n;
}

static void test_cold_then_warm(void **state)
{
    (void)state;
    tmpdir t;
    tmpdir_make(&t);
    char sub[300];
    snprintf(sub, sizeof sub, "%s/a/b", t.path); /* missing directories are made */
    loaded cold, warm;
    load(rules_v1, sub, 0, &cold);
    assert_true(cold.st.prefilter_databases >= 4); /* CommandLine, Image, ParentImage, keywords */
    /* Databases with the same literals (Image in Sysmon events and its
     * Security 4688 name NewProcessName) are one file: the second is read. */
    char names[64][512];
    size_t files = cache_files(sub, names, 64);
    assert_true(files >= 4);
    assert_int_equal(cold.st.prefilter_cached, cold.st.prefilter_databases - files);
    struct stat st;
    assert_int_equal(stat(sub, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    load(rules_v1, sub, 0, &warm);
    assert_int_equal(warm.st.prefilter_cached, warm.st.prefilter_databases);
    assert_same_as_uncached(rules_v1, &cold);
    assert_same_as_uncached(rules_v1, &warm);
    /* the probes do exercise every rule */
    unsigned any = 0;
    for (size_t i = 0; i < NPROBES; i++)
        any |= warm.hits[i];
    assert_int_equal(any, 0xf);
    tmpdir_remove(t.path);
}

/* Changed rules: the databases of the changed field are compiled, the
 * others still come from the cache, and results follow the new rules. */
/* rules_v1 with thousands more literals in CommandLine and Image: databases
 * larger than the loader compiles side by side, and many small ones. */
static char *rules_big(void)
{
    size_t cap = 1u << 20, n = 0;
    char *r = malloc(cap);
    assert_non_null(r);
    n += (size_t)snprintf(r + n, cap - n, "title: cmd\nid: r-cmd\nlogsource: {product: windows, "
                          "category: process_creation}\ndetection:\n  sel:\n    CommandLine|contains:\n"
                          "      - 'mimikatz'\n");
    for (int i = 0; i < 9000; i++)
        n += (size_t)snprintf(r + n, cap - n, "      - 'tok%05dx'\n", i);
    n += (size_t)snprintf(r + n, cap - n, "  condition: sel\n---\ntitle: image\nid: r-image\n"
                          "logsource: {product: windows, category: process_creation}\n"
                          "detection:\n  sel:\n    Image|endswith:\n      - '\\procdump64.exe'\n");
    for (int i = 0; i < 9000; i++)
        n += (size_t)snprintf(r + n, cap - n, "      - '\\bin%05d.exe'\n", i);
    n += (size_t)snprintf(r + n, cap - n, "  condition: sel\n---\n%s",
                          strstr(rules_v1, "title: parent"));
    assert_true(n < cap);
    return r;
}

/* Compiling the databases on several threads changes nothing: the same
 * databases, literals and matches for any number, with and without a cache
 * (cold and warm). */
static void test_threads(void **state)
{
    (void)state;
    char *big = rules_big();
    const char *sets[2] = {rules_v1, big};
    for (int k = 0; k < 2; k++) {
        loaded one;
        load_threads(sets[k], NULL, 0, 1, &one);
        assert_same_as_uncached(sets[k], &one);
        if (k == 1) /* two databases of 9,000 literals: never compiled side by side */
            assert_true(one.st.prefilter_literals > 18000);
        static const unsigned counts[] = {2, 3, 8, 64};
        for (size_t c = 0; c < sizeof counts / sizeof *counts; c++) {
            tmpdir t;
            tmpdir_make(&t);
            loaded got, cold, warm;
            load_threads(sets[k], NULL, 0, counts[c], &got);
            load_threads(sets[k], t.path, 0, counts[c], &cold);
            load_threads(sets[k], t.path, 0, counts[c], &warm);
            assert_int_equal(warm.st.prefilter_cached, warm.st.prefilter_databases);
            const loaded *all[3] = {&got, &cold, &warm};
            for (int i = 0; i < 3; i++) {
                assert_memory_equal(all[i]->hits, one.hits, sizeof one.hits);
                assert_int_equal(all[i]->st.prefilter_databases, one.st.prefilter_databases);
                assert_int_equal(all[i]->st.prefilter_literals, one.st.prefilter_literals);
                assert_int_equal(all[i]->st.prefilter_gated, one.st.prefilter_gated);
            }
            tmpdir_remove(t.path);
        }
    }
    free(big);
}

static void test_rules_change(void **state)
{
    (void)state;
    tmpdir t;
    tmpdir_make(&t);
    loaded v1, v2;
    load(rules_v1, t.path, 0, &v1);
    load(rules_v2, t.path, 0, &v2);
    assert_int_equal(v2.st.prefilter_cached, v2.st.prefilter_databases - 1);
    assert_same_as_uncached(rules_v2, &v2);
    assert_true(v1.hits[0] & 1);    /* mimikatz: r-cmd in v1 only */
    assert_false(v2.hits[0] & 1);
    assert_false(v1.hits[1] & 1);   /* lazagne: r-cmd in v2 only */
    assert_true(v2.hits[1] & 1);
    tmpdir_remove(t.path);
}

static void write_file(const char *path, const void *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
}

static size_t read_file(const char *path, unsigned char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    ssize_t n = read(fd, buf, cap);
    close(fd);
    assert_true(n > 0 && (size_t)n < cap);
    return (size_t)n;
}

enum { DAMAGE_TRUNCATE, DAMAGE_PAYLOAD_BYTE, DAMAGE_HEADER_KEY, DAMAGE_GARBAGE_SIGNED,
       DAMAGE_EMPTY, DAMAGE__COUNT };

/* Damage every cache file one way: each is ignored (and written anew). */
static void damage(const char *path, int how)
{
    static unsigned char buf[8 << 20];
    size_t n = read_file(path, buf, sizeof buf);
    const size_t head = 8 + 32 + 8 + 32; /* magic, name, length, SHA-256 of the payload */
    switch (how) {
    case DAMAGE_TRUNCATE: write_file(path, buf, n / 2); break;
    case DAMAGE_PAYLOAD_BYTE: buf[head + (n - head) / 2] ^= 0x40; write_file(path, buf, n); break;
    case DAMAGE_HEADER_KEY: buf[8] ^= 1; write_file(path, buf, n); break;
    case DAMAGE_GARBAGE_SIGNED: {
        /* A payload Hyperscan must refuse, with a checksum that matches it:
         * what a file written by someone who knows the format could hold. */
        for (size_t i = head; i < n; i++)
            buf[i] = (unsigned char)(i * 37 + 11);
        unsigned len = 0;
        assert_true(EVP_Digest(buf + head, n - head, buf + 48, &len, EVP_sha256(), NULL));
        write_file(path, buf, n);
        break;
    }
    default: write_file(path, buf, 0); break;
    }
}

static void test_damaged_files(void **state)
{
    (void)state;
    for (int how = 0; how < DAMAGE__COUNT; how++) {
        tmpdir t;
        tmpdir_make(&t);
        loaded first, damaged, again;
        load(rules_v1, t.path, 0, &first);
        char names[64][512];
        size_t n = cache_files(t.path, names, 64);
        assert_true(n > 0);
        for (size_t i = 0; i < n; i++)
            damage(names[i], how);
        load(rules_v1, t.path, 0, &damaged);
        assert_int_equal(damaged.st.prefilter_cached, first.st.prefilter_cached);
        assert_same_as_uncached(rules_v1, &damaged);
        load(rules_v1, t.path, 0, &again); /* rewritten */
        assert_int_equal(again.st.prefilter_cached, again.st.prefilter_databases);
        tmpdir_remove(t.path);
    }
}

/* A cache file that is a symbolic link is not followed. */
static void test_symlinked_file(void **state)
{
    (void)state;
    tmpdir t;
    tmpdir_make(&t);
    loaded first, linked;
    load(rules_v1, t.path, 0, &first);
    char names[64][512], moved[600];
    size_t n = cache_files(t.path, names, 64);
    for (size_t i = 0; i < n; i++) {
        snprintf(moved, sizeof moved, "%s.real", names[i]);
        assert_int_equal(rename(names[i], moved), 0);
        assert_int_equal(symlink(moved, names[i]), 0);
    }
    load(rules_v1, t.path, 0, &linked);
    /* only the duplicates' reads of files written anew (over the links,
     * never through them) */
    assert_int_equal(linked.st.prefilter_cached, first.st.prefilter_cached);
    assert_same_as_uncached(rules_v1, &linked);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        assert_int_equal(lstat(names[i], &st), 0);
        assert_true(S_ISREG(st.st_mode));
    }
    tmpdir_remove(t.path);
}

/* Directories the cache must not or cannot use: loading works as without. */
static void test_unusable_dirs(void **state)
{
    (void)state;
    tmpdir t;
    tmpdir_make(&t);
    char file[300], below_file[320], open_dir[300];
    snprintf(file, sizeof file, "%s/file", t.path);
    write_file(file, "x", 1);
    snprintf(below_file, sizeof below_file, "%s/cache", file); /* cannot be made */
    loaded l;
    load(rules_v1, below_file, 0, &l);
    assert_int_equal(l.st.prefilter_cached, 0);
    assert_same_as_uncached(rules_v1, &l);
    load(rules_v1, file, 0, &l); /* a regular file */
    assert_same_as_uncached(rules_v1, &l);
    /* writable by others: neither read nor written */
    snprintf(open_dir, sizeof open_dir, "%s/open", t.path);
    assert_int_equal(mkdir(open_dir, 0700), 0);
    load(rules_v1, open_dir, 0, &l); /* fills it */
    uint32_t dups = l.st.prefilter_cached;
    assert_int_equal(chmod(open_dir, 0777), 0);
    load(rules_v1, open_dir, 0, &l);
    assert_int_equal(l.st.prefilter_cached, 0);
    assert_same_as_uncached(rules_v1, &l);
    /* files others may write are not read either */
    assert_int_equal(chmod(open_dir, 0700), 0);
    char names[64][512];
    size_t n = cache_files(open_dir, names, 64);
    assert_true(n > 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(chmod(names[i], 0666), 0);
    load(rules_v1, open_dir, 0, &l);
    assert_int_equal(l.st.prefilter_cached, dups); /* only files written anew are read */
    assert_same_as_uncached(rules_v1, &l);
    if (geteuid() == 0) { /* a directory of another user (only root can make one) */
        char other[300];
        snprintf(other, sizeof other, "%s/other", t.path);
        assert_int_equal(mkdir(other, 0700), 0);
        assert_int_equal(chown(other, 65534, 65534), 0);
        load(rules_v1, other, 0, &l);
        assert_int_equal(cache_files(other, names, 64), 0);
        assert_same_as_uncached(rules_v1, &l);
    }
    /* an empty name is no cache */
    load(rules_v1, "", 0, &l);
    assert_int_equal(l.st.prefilter_cached, 0);
    tmpdir_remove(t.path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cold_then_warm),
        cmocka_unit_test(test_rules_change),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_damaged_files),
        cmocka_unit_test(test_symlinked_file),
        cmocka_unit_test(test_unusable_dirs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
