/* Per-file values handed to YARA as external variables. */
#include <ctype.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

#include "scan/scan_internal.h"

const char *const ps_yara_externals[6] = {"filename", "filepath", "extension",
                                          "filetype", "md5", "owner"};

void ps_file_extension(const char *name, char *out, size_t outsz)
{
    out[0] = 0;
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    const char *first = base;
    while (*first == '.')
        first++;
    const char *dot = strrchr(first, '.');
    if (!dot || dot == first)
        return;
    size_t i = 0;
    for (; dot[i] && i + 1 < outsz; i++)
        out[i] = (char)tolower((unsigned char)dot[i]);
    out[i] = 0;
}

void ps_owner_name(uid_t uid, char *out, size_t outsz)
{
    struct passwd pw, *res = NULL;
    char buf[1024];
    if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res && res->pw_name)
        snprintf(out, outsz, "%s", res->pw_name);
    else
        snprintf(out, outsz, "%lu", (unsigned long)uid);
}
