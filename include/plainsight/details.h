/*
 * Details: an event's key fields on one short line, "name: value ¦ name:
 * value", as a hunt's timeline shows them beside each detection.
 *
 * Which fields, in which order, is looked up by the event's channel and
 * event ID in a table (data/details.yml, built in; another can be read from
 * a file). An event the table does not list, or that has none of the fields
 * it lists, shows every EventData/UserData field of its own, in order.
 *
 * A table is read-only once made and may be shared by threads; each thread
 * formats through its own ps_details_scratch, which remembers the fields'
 * places per event layout (see ps_event.layout), so that the events of one
 * layout are not searched field by field again.
 */
#ifndef PLAINSIGHT_DETAILS_H
#define PLAINSIGHT_DETAILS_H

#include <stddef.h>

#include "plainsight/common.h"
#include "plainsight/event.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ps_details ps_details;
typedef struct ps_details_scratch ps_details_scratch;

/* The table in the YAML file at `path`, or the built-in one when path is
 * NULL. PS_OK, or a status with "FILE:LINE: reason" in err[0..errlen). */
int ps_details_load(const char *path, ps_details **out, char *err, size_t errlen);
/* The same from len bytes of YAML text; `name` names it in errors. */
int ps_details_load_text(const char *text, size_t len, const char *name, ps_details **out,
                         char *err, size_t errlen);
void ps_details_free(ps_details *d);

ps_details_scratch *ps_details_scratch_new(void);
void ps_details_scratch_free(ps_details_scratch *s);

/* The Details of `ev` in buf[0..size) (size >= 1), NUL-terminated; returns
 * the length. `lead`, when not NULL, is one of ev's fields, shown first
 * whatever the table says (the field an indicator was found in). The text is
 * cut to fit without splitting a UTF-8 sequence, and kept on one line:
 * control bytes, NUL among them, become spaces. Deferred values are settled
 * as they are read (ps_event_settle_field). */
size_t ps_details_format(const ps_details *d, ps_details_scratch *s, const ps_event *ev,
                         const ps_field *lead, char *buf, size_t size);

/* buf[0..n) as a Details line, in place, for Details made by other means
 * (n may exceed size when the text was cut short, as snprintf counts): cut
 * to fit buf[0..size) and kept on one line as above. Returns the length. */
size_t ps_details_finish(char *buf, size_t n, size_t size);

#ifdef __cplusplus
}
#endif

#endif
