/* Collecting and compiling YARA rule files. All files go into one compiler
 * and one (default) namespace, as Loki and the yara command line do, so the
 * same rules give the same matches. A file that does not compile is reported
 * and left out. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scan/scan_internal.h"
#include "util/buf.h"

typedef struct compile_report {
    ps_diag_fn diag;
    void *ctx;
    int errors;
    int report_errors;   /* pass errors to diag */
    int report_warnings; /* pass warnings to diag */
} compile_report;

static int add_file_name(ps_rule_set *rs, const char *path)
{
    if (ps_grow_array((void **)&rs->files, &rs->capfiles, rs->nfiles, sizeof *rs->files) != 0)
        return PS_ERR_NOMEM;
    rs->files[rs->nfiles] = strdup(path);
    if (!rs->files[rs->nfiles])
        return PS_ERR_NOMEM;
    rs->nfiles++;
    rs->compiled = 0;
    return PS_OK;
}

static int is_rule_file(const char *name)
{
    size_t n = strlen(name);
    if (name[0] == '.' || name[0] == '~' || name[0] == '_')
        return 0; /* hidden, editor backups, disabled (Loki skips these too) */
    return (n > 4 && !strcmp(name + n - 4, ".yar")) || (n > 5 && !strcmp(name + n - 5, ".yara"));
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Rule directories are walked in sorted order so rule order, and with it the
 * order of reasons, does not depend on the file system. */
static int add_dir(ps_rule_set *rs, const char *dir, int depth, ps_diag_fn diag, void *ctx)
{
    if (depth > 32)
        return PS_OK;
    DIR *d = opendir(dir);
    if (!d)
        return PS_ERR_IO;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **p = realloc(names, cap * sizeof *p);
            if (!p)
                break;
            names = p;
        }
        if ((names[n] = strdup(e->d_name)) != NULL)
            n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_cstr);
    int rc = PS_OK;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, names[i]) < sizeof path &&
            lstat(path, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                add_dir(rs, path, depth + 1, diag, ctx);
            else if (S_ISREG(st.st_mode) && is_rule_file(names[i]) && rc == PS_OK)
                rc = add_file_name(rs, path);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int ps_rules_add_path(ps_rule_set *rs, const char *path, ps_diag_fn diag, void *ctx)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return PS_ERR_IO;
    if (S_ISDIR(st.st_mode))
        return add_dir(rs, path, 0, diag, ctx);
    if (!S_ISREG(st.st_mode))
        return PS_ERR_ARG;
    return add_file_name(rs, path);
}

static void on_compile_message(int level, const char *file, int line, const YR_RULE *rule,
                               const char *message, void *user)
{
    (void)rule;
    compile_report *rep = user;
    if (level == YARA_ERROR_LEVEL_ERROR)
        rep->errors++;
    int wanted = level == YARA_ERROR_LEVEL_ERROR ? rep->report_errors : rep->report_warnings;
    if (!rep->diag || !wanted)
        return;
    ps_diag d = {level == YARA_ERROR_LEVEL_ERROR ? PS_DIAG_ERROR : PS_DIAG_NOTE,
                 file ? file : "(rules)", line > 0 ? (uint64_t)line : 0, 1, message};
    rep->diag(rep->ctx, &d);
}

static YR_COMPILER *new_compiler(compile_report *rep)
{
    YR_COMPILER *c = NULL;
    if (yr_compiler_create(&c) != ERROR_SUCCESS)
        return NULL;
    for (size_t i = 0; i < sizeof ps_yara_externals / sizeof ps_yara_externals[0]; i++) {
        if (yr_compiler_define_string_variable(c, ps_yara_externals[i], "") != ERROR_SUCCESS) {
            yr_compiler_destroy(c);
            return NULL;
        }
    }
    /* A rule file must not pull in arbitrary files from the machine. */
    yr_compiler_set_include_callback(c, NULL, NULL, NULL);
    yr_compiler_set_callback(c, on_compile_message, rep);
    return c;
}

/* Compile the files whose `use` flag is set into one rule set. */
static int compile_files(ps_rule_set *rs, const unsigned char *use, compile_report *rep,
                         YR_RULES **out)
{
    YR_COMPILER *c = new_compiler(rep);
    if (!c)
        return PS_ERR_NOMEM;
    int rc = PS_OK;
    for (size_t i = 0; i < rs->nfiles && rc == PS_OK; i++) {
        if (!use[i])
            continue;
        int fd = open(rs->files[i], O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0) {
            rc = PS_ERR_IO;
            break;
        }
        if (yr_compiler_add_fd(c, fd, NULL, rs->files[i]) != 0)
            rc = PS_ERR_FORMAT;
        close(fd);
    }
    if (rc == PS_OK && yr_compiler_get_rules(c, out) != ERROR_SUCCESS)
        rc = PS_ERR_NOMEM;
    yr_compiler_destroy(c);
    return rc;
}

static size_t count_rules(YR_RULES *rules)
{
    size_t n = 0;
    const YR_RULE *r;
    yr_rules_foreach(rules, r) n++;
    return n;
}

int ps_rules_compile(ps_rule_set *rs, ps_diag_fn diag, void *ctx)
{
    if (rs->compiled)
        return PS_OK;
    if (rs->rules) {
        yr_rules_destroy(rs->rules);
        rs->rules = NULL;
    }
    rs->nrules = 0;
    rs->compiled = 1;
    if (!rs->nfiles)
        return PS_OK;
    unsigned char *use = malloc(rs->nfiles);
    if (!use)
        return PS_ERR_NOMEM;
    memset(use, 1, rs->nfiles);
    /* Usual case first: everything compiles together (warnings reported). */
    compile_report first = {diag, ctx, 0, 0, 1};
    int rc = compile_files(rs, use, &first, &rs->rules);
    if (rc == PS_ERR_FORMAT || rc == PS_ERR_IO) {
        /* libyara cannot go on after an error, so find the bad files one by
         * one (reporting their errors), then compile the rest together. */
        size_t good = 0;
        for (size_t i = 0; i < rs->nfiles; i++) {
            unsigned char *one = calloc(rs->nfiles, 1);
            if (!one)
                break;
            one[i] = 1;
            compile_report rep = {diag, ctx, 0, 1, 0};
            YR_RULES *test = NULL;
            int r = compile_files(rs, one, &rep, &test);
            if (test)
                yr_rules_destroy(test);
            if (r == PS_ERR_IO && diag) {
                ps_diag d = {PS_DIAG_ERROR, rs->files[i], 0, 0, "cannot open YARA rule file"};
                diag(ctx, &d);
            }
            use[i] = r == PS_OK;
            good += use[i];
            free(one);
        }
        compile_report none = {NULL, NULL, 0, 0, 0};
        rc = good ? compile_files(rs, use, &none, &rs->rules) : PS_ERR_FORMAT;
        if (rc != PS_OK && good && diag) {
            ps_diag d = {PS_DIAG_ERROR, NULL, 0, 0,
                         "YARA rule files compile alone but not together (duplicate rule names?)"};
            diag(ctx, &d);
        }
    }
    free(use);
    if (rs->rules)
        rs->nrules = count_rules(rs->rules);
    return rc;
}

void ps_rules_free(ps_rule_set *rs)
{
    if (rs->rules)
        yr_rules_destroy(rs->rules);
    for (size_t i = 0; i < rs->nfiles; i++)
        free(rs->files[i]);
    free(rs->files);
    memset(rs, 0, sizeof *rs);
}
