/*
 * The event model: one event (an EVTX record or one line of a JSON export)
 * as a flat list of typed fields. It is what the Sigma matcher reads, so the
 * decoder fills it straight from the record bytes, with no JSON round trip.
 *
 * Field paths follow the JSON layout of evtx_dump, joined with '.':
 *   Event.System.EventID                      -> "4688"   (PS_KIND_INT)
 *   Event.System.Provider.#attributes.Name    -> "Microsoft-Windows-Security-Auditing"
 *   Event.System.TimeCreated.#attributes.SystemTime
 *   Event.EventData.CommandLine               -> "cmd.exe /c ..."
 *   Event.UserData.LogFileCleared.SubjectUserName
 * An element with both attributes and text holds its text at "<path>.#text".
 * A list (unnamed <Data> items, string arrays) gives one field per item, all
 * with the same path, in order.
 */
#ifndef PLAINSIGHT_EVENT_H
#define PLAINSIGHT_EVENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* How a value prints in JSON: bare number/bool, string or null. */
typedef enum ps_kind {
    PS_KIND_NULL = 0,   /* element with no content: JSON null, text "" */
    PS_KIND_STRING = 1, /* text (also GUIDs, SIDs, hex ints, times, floats) */
    PS_KIND_INT = 2,    /* signed or unsigned integer, text in decimal */
    PS_KIND_BOOL = 3    /* text "true" or "false" */
} ps_kind;

typedef struct ps_field {
    const char *path;   /* full dotted path, NUL-terminated */
    const char *name;   /* last component of path (points into path) */
    /* UTF-8 text of the value, unescaped, NUL-terminated. NULL (and
     * value_len 0) while deferred: see ps_event.lazy. */
    const char *value;
    uint32_t path_len;
    uint32_t name_len;
    uint32_t value_len;
    uint8_t kind;       /* ps_kind */
    /* 1: the text of a binary value that is not a string (an integer, hex
     * number, GUID, SID, time or bytes), so made only of digits, the
     * letters a-f, A-F, x, S, T and Z, and - { } : . , -- whatever the
     * bytes were. 0: any text (strings, template text, JSON input). */
    uint8_t typed;
} ps_field;

typedef struct ps_event {
    const ps_field *fields;
    uint32_t nfields;

    /* Quick access to what every consumer needs (copies of field values;
     * empty strings, never NULL, when the event lacks them). */
    uint32_t event_id;
    uint64_t record_id;
    uint64_t time_filetime;   /* System/TimeCreated, 100 ns ticks since 1601 */
    const char *channel;
    const char *computer;
    const char *provider;

    /* Where it came from. */
    const char *source;       /* input file path */
    uint64_t offset;          /* byte offset of the record in the file */
    int recovered;            /* 1 if carved from chunk slack (--recover) */

    /* Events of one nonzero layout have the same nfields and, at every
     * index, the same path, name and their lengths, pointers included,
     * valid for the whole run of ps_evtx_events: a consumer can work out
     * once per layout what it needs of the fields' names. Layouts of
     * different runs differ too (a random tag of the run in the high half).
     * 0: no such promise (JSON input, unusual records). */
    uint64_t layout;

    /* NULL: every field has its value. Otherwise the decoder deferred the
     * text of some typed values (only when asked to: see
     * ps_evtx_options.defer_values), to be made when first wanted: a reader
     * of f->value calls ps_event_settle_field or ps_event_settle first (the
     * library's own consumers do). Text made so stays where it is until the
     * callback returns, like every other value. */
    struct ps_event_lazy *lazy;
} ps_event;

/* What a decoder that defers values provides. */
typedef struct ps_event_lazy {
    /* Give fields[i] its text; 0, or -1 when memory ran out (the value is
     * then "": a field's value is never NULL after the call). */
    int (*settle)(struct ps_event_lazy *lazy, uint32_t i);
} ps_event_lazy;

/* Make sure fields[i] has its value text (see ps_event.lazy). */
static inline int ps_event_settle_field(const ps_event *ev, uint32_t i)
{
    if (ev->fields[i].value)
        return 0;
    return ev->lazy ? ev->lazy->settle(ev->lazy, i) : -1;
}

/* The same for every field of the event. */
int ps_event_settle(const ps_event *ev);

/* The first field with exactly this path, or NULL; settled. */
const ps_field *ps_event_field(const ps_event *ev, const char *path);

#ifdef __cplusplus
}
#endif
#endif
