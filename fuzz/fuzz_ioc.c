/* Fuzz target: IOC list files (Loki / signature-base formats). The first
 * byte picks the list kind; the rest is the list. Then one path and one text
 * are matched against what loaded. */
#include <stdint.h>
#include <string.h>

#include "plainsight.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    ps_ioc_list kind = (ps_ioc_list)(data[0] % 5);
    ps_iocs *iocs = ps_iocs_new();
    if (!iocs)
        return 0;
    ps_iocs_load_mem(iocs, "fuzz.txt", (const char *)data + 1, size - 1, kind, NULL, NULL);
    static const char path[] = "/mnt/image/Windows/Temp/mimikatz.exe";
    static const char text[] = "nslookup evil.example.com 203.0.113.5 && certutil -f";
    ps_ioc_hit hits[8];
    ps_iocs_match_path(iocs, path, strlen(path), hits, 8);
    ps_iocs_match_text(iocs, text, strlen(text), hits, 8);
    ps_iocs_free(iocs);
    return 0;
}
