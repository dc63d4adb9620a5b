/*
 * plainsight — offline compromise assessment of Windows evidence.
 *
 * The public API of libplainsight. Include this one header; the parts live in
 * include/plainsight/ by concept:
 *   common.h  status codes, diagnostics (how the library reports problems)
 *   event.h   the event model: one decoded record as typed fields, read by the matcher
 *   evtx.h    reading EVTX files: dumping them as JSON/XML or streaming events
 *   jsonl.h   reading JSON exports of event logs (evtx_dump, Winlogbeat) as events
 *   sigma.h   Sigma rules: load once, match events (thread-safe with per-thread scratch)
 *   scan.h    file sweeps: IOC lists (hashes, file names, C2, keywords) and YARA
 *   report.h  the self-contained HTML report of a hunt or scan
 *   details.h an event's key fields on one line (the Details of a detection)
 *
 * The library never prints: problems go to the caller's diagnostic callback,
 * results to the caller's output or event callbacks.
 */
#ifndef PLAINSIGHT_H
#define PLAINSIGHT_H

#include "plainsight/common.h"
#include "plainsight/details.h"
#include "plainsight/event.h"
#include "plainsight/evtx.h"
#include "plainsight/jsonl.h"
#include "plainsight/report.h"
#include "plainsight/scan.h"
#include "plainsight/sigma.h"

#endif
