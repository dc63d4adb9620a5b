/*
 * Compiled Hyperscan databases kept between runs, in a cache directory.
 *
 * hunt's prefilter and scan's file-name IOCs both compile many patterns
 * into Hyperscan databases: hundreds of milliseconds, against under a
 * millisecond to read a database back. A cached database is named by a
 * key: the SHA-256 of everything that decides its bytes (the caller's kind
 * and version, Hyperscan's version, the CPU it compiles for, and the
 * patterns). Changed inputs give another name, so nothing is ever
 * invalidated in place.
 *
 * The cache must never change results or stop a run, and its files are
 * trusted only as far as they are checked, since Hyperscan trusts the
 * bytecode it deserialises: the directory and the file must belong to the
 * user running us and not be writable by anyone else, the file must not be
 * a symbolic link, it must carry its own key, length and SHA-256, and
 * Hyperscan must accept it. Anything else is reported as unusable (the
 * caller compiles and stores a fresh one). Files are written to a temporary
 * name and renamed, so a reader never sees half a file.
 *
 *   file: magic "PSHSDB2\n" | key (32) | payload length (u64 LE)
 *         | SHA-256 of the payload (32) | payload
 *   payload: extra length (u64 LE) | extra (the caller's) | serialised db
 */
#ifndef PS_UTIL_HS_CACHE_H
#define PS_UTIL_HS_CACHE_H

#include <hs/hs.h>
#include <stddef.h>
#include <stdint.h>

#define PS_HS_KEY_LEN 32
#define PS_HS_CACHE_MAX_DIR 4000   /* longer directory names are not used */

/* The key of a database: SHA-256 over `format` (the caller's kind and
 * version), Hyperscan's version and target platform, and `material` (the
 * caller's patterns, laid out so that no two inputs run together). */
int ps_hs_key(const char *format, const void *material, size_t n, uint8_t key[PS_HS_KEY_LEN]);

/* Make `dir` (and missing parents, mode 0700); 0 when it is a directory of
 * ours alone, else -1 (the cache is then not used). */
int ps_hs_cache_dir_ready(const char *dir);

/* The database stored under `prefix` + key in `dir`: 1 with *db and the
 * extra bytes (*extra malloc'd, NULL when none), 0 when there is no such
 * file, -1 when there is one that cannot be used. */
int ps_hs_cache_load(const char *dir, const char *prefix, const uint8_t key[PS_HS_KEY_LEN],
                     hs_database_t **db, uint8_t **extra, size_t *extra_len);

/* Store db (and `extra`, which load gives back) under the key; 0 when
 * written. */
int ps_hs_cache_store(const char *dir, const char *prefix, const uint8_t key[PS_HS_KEY_LEN],
                      const hs_database_t *db, const void *extra, size_t extra_len);

/* Remove the other files of `prefix` in `dir` (a kind that keeps only its
 * latest database). */
void ps_hs_cache_prune(const char *dir, const char *prefix, const uint8_t keep[PS_HS_KEY_LEN]);

#endif
