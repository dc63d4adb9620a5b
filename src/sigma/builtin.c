/* The built-in rule pack, embedded by data/embed.cmake from rules/builtin. */
#include "sigma/builtin.h"

extern const char ps_sigma_builtin_rules[];
extern const size_t ps_sigma_builtin_rules_len;

const char *ps_sigma_builtin_text(size_t *len)
{
    if (len)
        *len = ps_sigma_builtin_rules_len;
    return ps_sigma_builtin_rules;
}

int ps_sigma_load_builtin(const char *const *paths, size_t npaths, const ps_sigma_options *opt,
                          ps_sigma_set **out, ps_sigma_stats *stats)
{
    return ps_sigma_load_paths_and_text(paths, npaths, ps_sigma_builtin_rules,
                                        ps_sigma_builtin_rules_len, PS_SIGMA_BUILTIN_NAME, opt,
                                        out, stats);
}
