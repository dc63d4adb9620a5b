/* Opening evidence: files of a case, read and never changed. */
#ifndef PS_UTIL_EVIDENCE_H
#define PS_UTIL_EVIDENCE_H

#include <errno.h>
#include <fcntl.h> /* O_NOATIME: the build defines _GNU_SOURCE */

/* open(path) read-only, for reading from start to end:
 * - O_NOATIME, so that reading does not write the access time to the
 *   evidence's file system (it needs the file's owner or CAP_FOWNER; without
 *   them the file is opened as it would be otherwise);
 * - POSIX_FADV_SEQUENTIAL, so that the kernel reads ahead further: evidence
 *   is mostly read once, from disk, and a bigger read-ahead keeps the
 *   decoding threads from waiting on it.
 * `flags` are added (O_NONBLOCK, say). The descriptor, or -1 with errno. */
static inline int ps_open_evidence(const char *path, int flags)
{
    flags |= O_RDONLY | O_CLOEXEC | O_NOCTTY;
    int fd = open(path, flags | O_NOATIME);
    if (fd < 0 && errno == EPERM)
        fd = open(path, flags);
    if (fd >= 0)
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL); /* advice only */
    return fd;
}

#endif
