/* Logon events for the report's graph: who came from where to which host.
 * Read straight from the event model, for every event of a hunt, whether a
 * rule matched it or not (a quiet RDP logon from a provider's machine is
 * exactly what the graph is for). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "report/report_internal.h"

#define SECURITY "Security"
#define RDP_CONNECTIONS "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational"
#define RDP_SESSIONS "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational"

const char *ps_logon_kind_str(ps_logon_kind kind)
{
    static const char *const names[PS_LOGON__COUNT] = {
        "network", "rdp", "failed", "explicit", "kerberos-tgt", "kerberos-service",
        "rdp-auth", "rdp-session", "rdp-reconnect"};
    return (unsigned)kind < PS_LOGON__COUNT ? names[kind] : "unknown";
}

/* The value of a field, "" when absent. Windows writes "-" for "none". */
static const char *field_text(const ps_event *ev, const char *path)
{
    const ps_field *f = ps_event_field(ev, path);
    if (!f || (f->value_len == 1 && f->value[0] == '-'))
        return "";
    return f->value;
}

static const char *event_data(const ps_event *ev, const char *name)
{
    char path[96];
    snprintf(path, sizeof path, "Event.EventData.%s", name);
    return field_text(ev, path);
}

static const char *user_data(const ps_event *ev, const char *name)
{
    char path[96];
    snprintf(path, sizeof path, "Event.UserData.EventXML.%s", name);
    return field_text(ev, path);
}

/* IPv4 addresses logged as IPv6-mapped (::ffff:10.0.0.5) shown plainly. */
static const char *plain_ip(const char *ip)
{
    return strncasecmp(ip, "::ffff:", 7) == 0 && strchr(ip + 7, '.') ? ip + 7 : ip;
}

/* Machine accounts (NAME$) and anonymous sessions fill the logs of every
 * domain without telling who moved where. */
static int is_noise_account(const char *account)
{
    size_t n = strlen(account);
    return n == 0 || account[n - 1] == '$' || strcasecmp(account, "ANONYMOUS LOGON") == 0;
}

/* Splits "DOMAIN\user" or "user@DOMAIN" (copied into the first half of
 * scratch; the second half is for the 4769 target) into the account and
 * domain of *out. */
static void split_account(const char *text, ps_report_logon *out,
                          char scratch[PS_REPORT_LOGON_SCRATCH])
{
    snprintf(scratch, PS_REPORT_LOGON_SCRATCH / 2, "%s", text);
    char *sep;
    if ((sep = strchr(scratch, '\\')) != NULL) {
        *sep = 0;
        out->account_domain = scratch;
        out->account = sep + 1;
    } else if ((sep = strrchr(scratch, '@')) != NULL) {
        *sep = 0;
        out->account = scratch;
        out->account_domain = sep + 1;
    } else {
        out->account = scratch;
        out->account_domain = "";
    }
}

/* 4624, 4625, 4648, 4768, 4769: the fields the Security log gives each. */
static int security_logon(const ps_event *ev, ps_report_logon *out,
                          char scratch[PS_REPORT_LOGON_SCRATCH])
{
    out->account = event_data(ev, "TargetUserName");
    out->account_domain = event_data(ev, "TargetDomainName");
    out->source_host = event_data(ev, "WorkstationName");
    out->source_ip = plain_ip(event_data(ev, "IpAddress"));
    switch (ev->event_id) {
    case 4624: {
        const char *type = event_data(ev, "LogonType");
        if (!strcmp(type, "3"))
            out->kind = PS_LOGON_NETWORK;
        else if (!strcmp(type, "10"))
            out->kind = PS_LOGON_REMOTE_INTERACTIVE;
        else
            return 0;
        break;
    }
    case 4625: out->kind = PS_LOGON_FAILED; break;
    case 4648: {
        /* Explicit credentials go out from this machine to TargetServerName. */
        const char *server = event_data(ev, "TargetServerName");
        out->kind = PS_LOGON_EXPLICIT;
        out->source_host = ev->computer;
        if (*server && strcasecmp(server, "localhost") != 0)
            out->target_host = server;
        break;
    }
    case 4768: out->kind = PS_LOGON_KERBEROS_TGT; break;
    case 4769: {
        /* A service ticket for HOST$ is a ticket to go to HOST. */
        const char *service = event_data(ev, "ServiceName");
        size_t n = strlen(service);
        out->kind = PS_LOGON_KERBEROS_SERVICE;
        split_account(out->account, out, scratch);
        if (n > 1 && service[n - 1] == '$' && strcasecmp(service, "krbtgt") != 0 &&
            n < PS_REPORT_LOGON_SCRATCH / 2) {
            char *host = scratch + PS_REPORT_LOGON_SCRATCH / 2;
            memcpy(host, service, n - 1);
            host[n - 1] = 0;
            out->target_host = host;
        }
        break;
    }
    default: return 0;
    }
    return !is_noise_account(out->account);
}

/* TerminalServices 1149 (authenticated), 21 (session logon), 25 (reconnect). */
static int rdp_logon(const ps_event *ev, ps_report_logon *out,
                     char scratch[PS_REPORT_LOGON_SCRATCH])
{
    if (!strcasecmp(ev->channel, RDP_CONNECTIONS) && ev->event_id == 1149) {
        out->kind = PS_LOGON_RDP_AUTH;
        out->account = user_data(ev, "Param1");
        out->account_domain = user_data(ev, "Param2");
        out->source_ip = plain_ip(user_data(ev, "Param3"));
    } else if (!strcasecmp(ev->channel, RDP_SESSIONS) &&
               (ev->event_id == 21 || ev->event_id == 25)) {
        const char *address = user_data(ev, "Address");
        if (!strcasecmp(address, "LOCAL")) /* the console, not a remote logon */
            return 0;
        out->kind = ev->event_id == 21 ? PS_LOGON_RDP_SESSION : PS_LOGON_RDP_RECONNECT;
        split_account(user_data(ev, "User"), out, scratch);
        out->source_ip = plain_ip(address);
    } else {
        return 0;
    }
    return !is_noise_account(out->account);
}

int ps_report_logon_from_event(const ps_event *ev, ps_report_logon *out,
                               char scratch[PS_REPORT_LOGON_SCRATCH])
{
    if (!ev || !out || !ev->channel)
        return 0;
    memset(out, 0, sizeof *out);
    out->time_filetime = ev->time_filetime;
    out->target_host = ev->computer;
    out->account = out->account_domain = out->source_host = out->source_ip = "";
    scratch[0] = 0;
    if (!strcasecmp(ev->channel, SECURITY))
        return security_logon(ev, out, scratch);
    return rdp_logon(ev, out, scratch);
}
