/* What a regular expression needs in its subject: the literal runs of its
 * top-level sequence of atoms. `a\.exe.*-enc\s` can only match a text that
 * holds "a.exe" and, after it, "-enc"; a text without them is no match, so
 * the matcher need not run PCRE2 on it (which matters for patterns such as
 * `\+.*\+.*\+...`, whose failing searches backtrack for millions of steps
 * on a long command line), and the prefilter can gate a rule on the longest
 * run.
 *
 * Only what is certain is kept. The top level of the pattern is read as a
 * sequence of atoms, each consuming its own part of the subject, so the
 * literal ones appear in the subject in order and apart. Any atom that is
 * not a plain literal character (a class, a group, `.`, an escape such as
 * `\d`, an assertion) ends the current run and gives nothing; a literal
 * with a quantifier of minimum zero gives nothing. A pattern with a
 * top-level alternation needs nothing; one with syntax this reader does
 * not follow (quoting with \Q...\E, backtracking verbs, extended mode,
 * comments, numbered or named escapes, a brace that is not a quantifier)
 * is given up on: no runs, and the regex always runs.
 *
 * Case: in a caseless pattern (the `i` modifier, or any (?i) anywhere) the
 * runs are lower-cased and compared with ASCII case folded. PCRE2's caseless
 * matching in UTF mode also lets K match U+212A (Kelvin sign) and S match
 * U+017F (long s), so those letters, and every non-ASCII character, end a
 * run there instead. */
#include <string.h>

#include "sigma/sigma_internal.h"

#define NEED_MAX_RUN 4096

typedef struct reader {
    const char *p;
    size_t n;
    int caseless;
    char run[NEED_MAX_RUN];
    uint32_t run_len;
    sg_need *out;
    uint32_t nout, max;
    ps_arena *arena;
    int nomem;
} reader;

static int is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_option_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '^';
}

/* The index after the class starting at p[i] == '[', or 0 when it does not
 * end. A ']' right after '[' or '[^' is a member; so are [:name:] forms. */
static size_t skip_class(const char *p, size_t n, size_t i)
{
    size_t j = i + 1;
    if (j < n && p[j] == '^')
        j++;
    if (j < n && p[j] == ']')
        j++;
    while (j < n) {
        if (p[j] == '\\') {
            j += 2;
        } else if (p[j] == '[' && j + 1 < n && p[j + 1] == ':') {
            const char *end = NULL;
            for (size_t k = j + 2; k + 1 < n; k++)
                if (p[k] == ':' && p[k + 1] == ']') {
                    end = p + k;
                    break;
                }
            if (!end)
                return 0;
            j = (size_t)(end - p) + 2;
        } else if (p[j] == ']') {
            return j + 1;
        } else {
            j++;
        }
    }
    return 0;
}

/* The index after the group starting at p[i] == '(', or 0 when it does not
 * close. (Comments, whose text is not syntax, were refused before.) */
static size_t skip_group(const char *p, size_t n, size_t i)
{
    size_t j = i + 1;
    unsigned depth = 1;
    while (j < n) {
        if (p[j] == '\\') {
            j += 2;
        } else if (p[j] == '[') {
            j = skip_class(p, n, j);
            if (!j)
                return 0;
        } else if (p[j] == '(') {
            depth++;
            j++;
        } else if (p[j] == ')') {
            j++;
            if (--depth == 0)
                return j;
        } else {
            j++;
        }
    }
    return 0;
}

/* An option setting `(?letters)` or `(?letters:` at p[i]: the index of its
 * ')' or ':', else 0. */
static size_t option_end(const char *p, size_t n, size_t i)
{
    if (i + 2 >= n || p[i] != '(' || p[i + 1] != '?')
        return 0;
    size_t k = i + 2;
    while (k < n && is_option_char((unsigned char)p[k]))
        k++;
    return k < n && (p[k] == ')' || p[k] == ':') ? k : 0;
}

/* Whole-pattern checks: 0 when the pattern uses syntax the reader does not
 * follow; sets r->caseless when any option group names i. */
static int prescan(reader *r)
{
    const char *p = r->p;
    size_t n = r->n;
    for (size_t i = 0; i < n;) {
        if (p[i] == '\\') {
            if (i + 1 >= n || p[i + 1] == 'Q' || p[i + 1] == 'E')
                return 0;
            i += 2;
        } else if (p[i] == '[') {
            i = skip_class(p, n, i);
            if (!i)
                return 0;
        } else if (p[i] == '(') {
            if (i + 1 < n && p[i + 1] == '*')
                return 0; /* (*VERB), (*UTF)... */
            if (i + 2 < n && p[i + 1] == '?' && p[i + 2] == '#')
                return 0; /* a comment */
            size_t k = option_end(p, n, i);
            for (size_t j = i + 2; k && j < k; j++) {
                if (p[j] == 'x')
                    return 0; /* extended: white space and # mean other things */
                if (p[j] == 'i')
                    r->caseless = 1; /* set or unset: compare caselessly throughout */
            }
            i++;
        } else {
            i++;
        }
    }
    return 1;
}

static void end_run(reader *r)
{
    if (!r->run_len)
        return;
    if (r->nout < r->max) {
        char *b = ps_arena_strndup(r->arena, r->run, r->run_len);
        uint32_t letters = 0;
        for (uint32_t i = 0; i < r->run_len; i++)
            letters |= (r->run[i] | 0x20) >= 'a' && (r->run[i] | 0x20) <= 'z';
        if (!b)
            r->nomem = 1;
        else
            r->out[r->nout++] = (sg_need){b, r->run_len, letters};
    }
    r->run_len = 0;
}

static void add_bytes(reader *r, const char *b, size_t len)
{
    if (r->run_len + len > NEED_MAX_RUN)
        end_run(r); /* a shorter run is still needed: cut it here */
    memcpy(r->run + r->run_len, b, len);
    r->run_len += (uint32_t)len;
}

/* A quantifier at p[*i]: its minimum (1 when there is none), *i moved past
 * it and its lazy or possessive mark; -1 for a brace that is not one. */
static long quantifier(const char *p, size_t n, size_t *i)
{
    size_t j = *i;
    long min = 1;
    if (j >= n)
        return 1;
    if (p[j] == '*' || p[j] == '?') {
        min = 0;
        j++;
    } else if (p[j] == '+') {
        j++;
    } else if (p[j] == '{') {
        size_t k = j + 1;
        long v = 0;
        if (k >= n || p[k] < '0' || p[k] > '9')
            return -1;
        for (; k < n && p[k] >= '0' && p[k] <= '9'; k++)
            v = v < 100000 ? v * 10 + (p[k] - '0') : v;
        if (k < n && p[k] == ',')
            for (k++; k < n && p[k] >= '0' && p[k] <= '9'; k++)
                continue;
        if (k >= n || p[k] != '}')
            return -1;
        min = v;
        j = k + 1;
    } else {
        return 1;
    }
    if (j < n && (p[j] == '?' || p[j] == '+'))
        j++;
    *i = j;
    return min;
}

/* The length of the UTF-8 sequence led by c, or 0 for a byte that leads
 * none. */
static size_t utf8_len(unsigned char c)
{
    return c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
         : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
}

/* Read the top level. 1: the runs found are certain; 0: give up. */
static int read_top(reader *r)
{
    const char *p = r->p;
    size_t n = r->n;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)p[i];
        char lit[4];
        size_t lit_len = 0; /* 0: the atom is not a literal */
        int zero_width = 0;
        if (c == '\\') {
            unsigned char e = (unsigned char)p[i + 1]; /* prescan: there is one */
            if (e >= 0x80)
                return 0;
            if (!is_alnum(e)) {
                lit[0] = (char)e;
                lit_len = 1;
            } else if (strchr("bBAzZGK", e)) {
                zero_width = 1;
            } else if (!strchr("dDwWsShHvVRNXnrtfea", e) ||
                       (e == 'N' && i + 2 < n && p[i + 2] == '{')) {
                return 0; /* backreferences, \x.., \p{..}, \c.., \N{U+..}... */
            }
            i += 2;
        } else if (c == '.') {
            i++;
        } else if (c == '^' || c == '$') {
            zero_width = 1;
            i++;
        } else if (c == '[') {
            i = skip_class(p, n, i);
            if (!i)
                return 0;
        } else if (c == '(') {
            size_t k = option_end(p, n, i);
            if (k && p[k] == ')') { /* an option setting: no atom */
                end_run(r);
                i = k + 1;
                continue;
            }
            i = skip_group(p, n, i);
            if (!i)
                return 0;
        } else if (c == '|') {
            return -1; /* an alternation at the top: nothing is needed */
        } else if (c == ')' || c == '*' || c == '+' || c == '?' || c == '{') {
            return 0;
        } else if (c >= 0x80) {
            size_t len = utf8_len(c);
            if (!len || i + len > n)
                return 0;
            for (size_t k = 1; k < len; k++)
                if (((unsigned char)p[i + k] & 0xC0) != 0x80)
                    return 0;
            if (!r->caseless) {
                memcpy(lit, p + i, len);
                lit_len = len;
            }
            i += len;
        } else {
            lit[0] = (char)c;
            lit_len = 1;
            i++;
        }
        if (lit_len == 1 && r->caseless) {
            unsigned char l = (unsigned char)lit[0];
            if (l >= 'A' && l <= 'Z')
                l = (unsigned char)(l - 'A' + 'a');
            if (l == 'k' || l == 's')
                lit_len = 0; /* also U+212A, U+017F */
            lit[0] = (char)l;
        }
        size_t before = i;
        long min = quantifier(p, n, &i);
        if (min < 0)
            return 0;
        if (!lit_len || min == 0 || zero_width) {
            end_run(r); /* an atom that is not a literal, or an optional one */
            continue;
        }
        for (long k = 0; k < min && k < 16; k++)
            add_bytes(r, lit, lit_len);
        if (i != before)
            end_run(r); /* a repeated literal: what follows is not next to its copies */
    }
    end_run(r);
    return 1;
}

int sg_regex_needs(const char *re, size_t len, int caseless, ps_arena *arena, sg_need *out,
                   uint32_t max, int *out_caseless)
{
    reader r = {.p = re, .n = len, .caseless = caseless, .out = out, .max = max,
                .arena = arena};
    *out_caseless = 0;
    if (!prescan(&r))
        return 0;
    int rc = read_top(&r);
    if (r.nomem)
        return -1;
    if (rc != 1)
        return 0;
    *out_caseless = r.caseless;
    return (int)r.nout;
}

/* One literal ASCII character at re[i]: a printable non-metacharacter, or a
 * backslash before punctuation. Its length (1 or 2), 0 when not one. */
static size_t literal_char(const char *re, size_t len, size_t i, uint8_t *c)
{
    static const char meta[] = "\\^$.|?*+()[]{}";
    unsigned char x = (unsigned char)re[i];
    if (x == '\\') {
        if (i + 1 >= len)
            return 0;
        unsigned char y = (unsigned char)re[i + 1];
        /* \ before a letter or digit is a class, an assertion or a
         * reference, not the character itself */
        if (y < 0x21 || y > 0x7E || is_alnum(y))
            return 0;
        *c = y;
        return 2;
    }
    if (x < 0x20 || x > 0x7E || x == ' ' || strchr(meta, x))
        return 0;
    *c = x;
    return 1;
}

int sg_regex_repeat(const char *re, size_t len, uint8_t *c, uint32_t *count)
{
    size_t i = 0;
    uint8_t first = 0, next;
    size_t l = literal_char(re, len, 0, &first);
    if (!l)
        return 0;
    uint32_t n = 1;
    for (i = l; i < len; i += l, n++) {
        if (len - i < 3 || re[i] != '.' || re[i + 1] != '*')
            return 0;
        i += 2;
        if (!(l = literal_char(re, len, i, &next)) || next != first)
            return 0;
    }
    if (n < 2)
        return 0;
    *c = first;
    *count = n;
    return 1;
}
