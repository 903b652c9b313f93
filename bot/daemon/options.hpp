#pragma once

#include <string>

namespace rollbot::daemon {

/// rollbotd's command line (design §4).
struct Options {
    std::string config;
    bool console = false;
    bool check_config = false;
    bool verify_audit = false;
    bool dry_run = false;
    bool version = false;
    std::string log_level = "info";
    std::string log_format = "text";
};

constexpr int kExitOk = 0;
constexpr int kExitFatal = 1;
constexpr int kExitConfig = 78;  // EX_CONFIG
// EX_TEMPFAIL: a leader that lost its lease stops at once; its supervisor (Kubernetes, systemd)
// starts it again, as a standby.
constexpr int kExitDeposed = 75;

/// "rollbotd: <message>" on stderr: the one line a failed start leaves.
void fail_line(const std::string& message);

}  // namespace rollbot::daemon
