/* Fuzz target: Details tables (data/details.yml's format). What loads then
 * formats two events of one layout and one without, through one scratch, so
 * that the places remembered per layout are used as well as found. */
#include <stdint.h>
#include <string.h>

#include "plainsight.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define F(path, value) {path, strrchr(path, '.') + 1, value, sizeof path - 1, \
                        (uint32_t)strlen(strrchr(path, '.') + 1), sizeof value - 1, 1, 0}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ps_details *d = NULL;
    char err[256];
    if (ps_details_load_text((const char *)data, size, "fuzz.yml", &d, err, sizeof err) != PS_OK)
        return 0;
    ps_details_scratch *s = ps_details_scratch_new();
    ps_field fields[] = {
        F("Event.System.Channel", "Security"),
        F("Event.EventData.TargetUserName", "alice"),
        F("Event.EventData.IpAddress", "203.0.113.5"),
        F("Event.EventData.CommandLine", "cmd.exe /c whoami\n&& net user"),
        F("Event.UserData.LogFileCleared.SubjectUserName", "bob"),
        F("Event.EventData.Data", ""),
    };
    ps_event ev = {.fields = fields, .nfields = 6, .event_id = 4625, .channel = "Security",
                   .computer = "", .provider = "", .source = "", .layout = 7};
    char buf[512], small[9];
    for (int i = 0; i < 2; i++)
        ps_details_format(d, s, &ev, NULL, buf, sizeof buf);
    ps_details_format(d, s, &ev, &fields[2], small, sizeof small);
    ev.layout = 0;
    ev.channel = "Microsoft-Windows-Sysmon/Operational";
    ev.event_id = 1;
    ps_details_format(d, s, &ev, NULL, buf, sizeof buf);
    ps_details_scratch_free(s);
    ps_details_free(d);
    return 0;
}
