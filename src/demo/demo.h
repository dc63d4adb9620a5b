/*
 * The demo case: event logs of a fictional customer network ("Northwind")
 * that tell a Cloud Hopper story, written with the project's own EVTX writer
 * (src/evtxgen) for `plainsight demo` and its tests.
 *
 * A service provider's admin account (NORTHWIND\msp-admin, from the
 * provider's host MSP-JUMP01 at 203.0.113.45) logs on to the customer's jump
 * host over RDP, downloads a tool with certutil, plants a scheduled task and
 * a service on the domain controller, dumps lsass twice, stages the dump with
 * rar, moves to the file server with PsExec and WMI, and clears the file
 * server's Security log. Ordinary activity of the same hosts runs beside it.
 *
 * Records look as Windows writes them: the same element names, Data Names,
 * value types, providers, tasks and keywords as real events of each ID.
 */
#ifndef PS_DEMO_H
#define PS_DEMO_H

#include <stddef.h>
#include <stdint.h>

/* How a field's value is typed in the record, as Windows types it. */
typedef enum ps_demo_type {
    PS_DEMO_STRING = 0,
    PS_DEMO_UINT16,
    PS_DEMO_UINT32,
    PS_DEMO_HEX32,     /* "0x10" */
    PS_DEMO_HEX64,     /* "0x3e7" */
    PS_DEMO_SID,       /* "S-1-5-18" */
    PS_DEMO_GUID,      /* "{...}" */
    PS_DEMO_UTCTIME    /* Sysmon's UtcTime text, made from the event's time */
} ps_demo_type;

/* Which kind of event (provider, channel, event ID and layout). */
typedef enum ps_demo_kind {
    PS_DEMO_SEC_4624 = 0,   /* Security: logon */
    PS_DEMO_SEC_4648,       /* Security: logon with explicit credentials */
    PS_DEMO_SEC_4688,       /* Security: process creation */
    PS_DEMO_SEC_4697,       /* Security: service installed */
    PS_DEMO_SEC_4698,       /* Security: scheduled task registered */
    PS_DEMO_SEC_1102,       /* Security: log cleared */
    PS_DEMO_SYS_7045,       /* System: service installed */
    PS_DEMO_SYS_104,        /* System: a log was cleared */
    PS_DEMO_SYSMON_1,       /* Sysmon: process creation */
    PS_DEMO_SYSMON_10,      /* Sysmon: process access */
    PS_DEMO_SYSMON_17,      /* Sysmon: pipe created */
    PS_DEMO_LSM_21,         /* TerminalServices-LocalSessionManager: session logon */
    PS_DEMO_RCM_1149,       /* TerminalServices-RemoteConnectionManager: user authenticated */
    PS_DEMO_KIND__COUNT
} ps_demo_kind;

typedef struct ps_demo_field {
    const char *name;       /* Data Name, or element name under UserData */
    uint8_t type;           /* ps_demo_type */
    const char *value;
} ps_demo_field;

#define PS_DEMO_MAX_FIELDS 28

typedef struct ps_demo_event {
    uint32_t at;            /* seconds after the story's start */
    const char *host;       /* short host name, e.g. "CORP-JUMP01" */
    uint8_t kind;           /* ps_demo_kind */
    const char *step;       /* story step id (ps_demo_step.id); NULL: ordinary activity */
    ps_demo_field data[PS_DEMO_MAX_FIELDS]; /* ends at the first entry without a name */
} ps_demo_event;

typedef struct ps_demo_step {
    const char *id;         /* e.g. "rdp-logon" */
    const char *summary;    /* one line for the story's telling */
} ps_demo_step;

/* The story, in time order. */
const ps_demo_event *ps_demo_events(size_t *count);
const ps_demo_step *ps_demo_steps(size_t *count);
/* The hosts, short names (each one directory of logs). */
const char *const *ps_demo_hosts(size_t *count);

/* What each event becomes in its record. */
uint16_t ps_demo_event_id(const ps_demo_event *ev);
const char *ps_demo_event_channel(const ps_demo_event *ev);
uint64_t ps_demo_event_time(const ps_demo_event *ev, size_t index); /* FILETIME */
/* Fully qualified name written as Computer ("CORP-JUMP01.northwind.local"). */
void ps_demo_computer(const char *host, char *out, size_t len);

typedef struct ps_demo_result {
    uint32_t files;         /* EVTX files written */
    uint32_t events;        /* records written */
    char failed_path[512];  /* on failure: the file or directory that failed */
} ps_demo_result;

/* Write the story's logs under `dir` as DIR/HOST/CHANNEL.evtx (channel names
 * with '/' written as "%4", as Windows names its log files). Directories are
 * created as needed; existing files are replaced. Returns PS_OK, PS_ERR_IO
 * or PS_ERR_NOMEM; `result` may be NULL. */
int ps_demo_write(const char *dir, ps_demo_result *result);

#endif
