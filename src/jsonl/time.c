/* ISO-8601 times to and from FILETIME (100 ns ticks since 1601-01-01 UTC). */
#include <stdio.h>
#include <string.h>

#include "jsonl/jsonl_internal.h"
#include "plainsight/jsonl.h"

#define TICKS_PER_SECOND 10000000ull
#define SECONDS_1601_TO_1970 11644473600ll

/* Days since 1970-01-01 of a proleptic Gregorian date (400-year eras, so
 * no table and no loop). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* Read exactly `n` digits. */
static int digits(const char **s, int n, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*s)[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (unsigned)(c - '0');
    }
    *s += n;
    *out = v;
    return 0;
}

static int parse_zone(const char *s, int64_t *offset_seconds)
{
    *offset_seconds = 0;
    if (*s == 0 || ((*s == 'Z' || *s == 'z') && s[1] == 0))
        return 0;
    if (*s != '+' && *s != '-')
        return -1;
    int sign = *s++ == '-' ? -1 : 1;
    unsigned hh, mm = 0;
    if (digits(&s, 2, &hh))
        return -1;
    if (*s == ':')
        s++;
    if (*s && digits(&s, 2, &mm))
        return -1;
    if (*s || hh > 23 || mm > 59)
        return -1;
    *offset_seconds = sign * (int64_t)(hh * 3600 + mm * 60);
    return 0;
}

int ps_time_parse(const char *text, uint64_t *filetime, int *date_only)
{
    const char *s = text;
    unsigned y, mo, d, h = 0, mi = 0, sec = 0;
    uint64_t frac_ticks = 0;
    if (!s || digits(&s, 4, &y) || *s++ != '-' || digits(&s, 2, &mo) || *s++ != '-' ||
        digits(&s, 2, &d) || mo < 1 || mo > 12 || d < 1 || d > 31)
        return -1;
    int only_date = *s == 0;
    if (!only_date) {
        if (*s != 'T' && *s != 't' && *s != ' ')
            return -1;
        s++;
        if (digits(&s, 2, &h) || *s++ != ':' || digits(&s, 2, &mi))
            return -1;
        if (*s == ':' && (s++, digits(&s, 2, &sec)))
            return -1;
        if (*s == '.' || *s == ',') {
            s++;
            uint64_t scale = TICKS_PER_SECOND / 10;
            if (*s < '0' || *s > '9')
                return -1;
            for (; *s >= '0' && *s <= '9'; s++, scale /= 10)
                frac_ticks += (uint64_t)(*s - '0') * scale; /* digits past 100 ns add 0 */
        }
        if (h > 23 || mi > 59 || sec > 60)
            return -1;
    }
    int64_t zone;
    if (parse_zone(s, &zone))
        return -1;
    int64_t unix_seconds = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - zone;
    if (unix_seconds < -SECONDS_1601_TO_1970)
        return -1;
    *filetime = (uint64_t)(unix_seconds + SECONDS_1601_TO_1970) * TICKS_PER_SECOND + frac_ticks;
    if (date_only)
        *date_only = only_date;
    return 0;
}

void jl_format_systemtime(uint64_t filetime, char out[48])
{
    int64_t unix_seconds = (int64_t)(filetime / TICKS_PER_SECOND) - SECONDS_1601_TO_1970;
    int64_t days = unix_seconds >= 0 ? unix_seconds / 86400 : (unix_seconds - 86399) / 86400;
    int64_t rem = unix_seconds - days * 86400;
    /* civil from days */
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    unsigned doe = (unsigned)(days - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    snprintf(out, 48, "%04lld-%02u-%02uT%02u:%02u:%02u.%06uZ", (long long)y, m, d,
             (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60), (unsigned)(rem % 60),
             (unsigned)(filetime % TICKS_PER_SECOND / 10));
}
