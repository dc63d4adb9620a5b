/* The built-in rule pack: Sigma rules the project writes itself for the
 * Cloud Hopper techniques (the YAML files under rules/builtin, built into the library). */
#ifndef PS_SIGMA_BUILTIN_H
#define PS_SIGMA_BUILTIN_H

#include "plainsight/sigma.h"

/* Name the built-in rules carry as their file in diagnostics and rule info. */
#define PS_SIGMA_BUILTIN_NAME "<built-in rules>"

/* Load the built-in rule pack, as ps_sigma_load_text would load it, after
 * the rules under `paths` (npaths may be 0). */
int ps_sigma_load_builtin(const char *const *paths, size_t npaths, const ps_sigma_options *opt,
                          ps_sigma_set **out, ps_sigma_stats *stats);

/* The pack's YAML text (several documents), NUL-terminated. */
const char *ps_sigma_builtin_text(size_t *len);

#endif
