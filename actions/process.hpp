#pragma once

#include "bot/result.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace rollbot::actions {

/// A child process to run: argv (never a shell string) and an explicit environment.
struct ProcessSpec {
    std::vector<std::string> argv;  // argv[0] is an absolute path or a name looked up in PATH
    std::vector<std::pair<std::string, std::string>> env;  // the child's whole environment
    std::string workdir;                                   // empty: the daemon's
    std::chrono::milliseconds timeout{std::chrono::minutes(1)};
    std::chrono::milliseconds kill_grace{std::chrono::seconds(5)};  // SIGTERM -> SIGKILL
    std::size_t max_output_bytes = 1024 * 1024;                     // per stream
    std::string stdin_data;
    std::string group;  // a name cancel_group() can stop it by ("" = only cancel_all() does)
};

/// How a child ended, and what it printed (each stream capped at max_output_bytes).
struct ProcessOutput {
    std::optional<int> exit_code;    // set when it exited
    std::optional<int> term_signal;  // set when a signal ended it
    bool timed_out = false;          // we killed it because the timeout passed
    bool cancelled = false;          // we killed it because the run was cancelled
    std::string out;
    std::string err;
    bool out_truncated = false;
    bool err_truncated = false;
    std::size_t out_bytes = 0;  // total bytes the child wrote, kept or not
    std::size_t err_bytes = 0;
    std::string digest;  // hex SHA-256(SHA-256(stdout) || SHA-256(stderr)) over all it wrote
    std::chrono::milliseconds duration{};

    [[nodiscard]] bool success() const {
        return exit_code && *exit_code == 0 && !timed_out && !cancelled;
    }
};

/// Starts child processes without a shell and waits for them on the io_context.
class ProcessRunner {
public:
    virtual ~ProcessRunner() = default;
    /// Runs to completion or timeout. An error means it could not be started at all.
    virtual boost::asio::awaitable<core::Result<ProcessOutput>> run(ProcessSpec spec) = 0;
    /// Kills every running child's process group (SIGTERM, then SIGKILL after the grace).
    virtual void cancel_all() = 0;
    /// Like cancel_all(), for the children started with `spec.group == group` only.
    virtual void cancel_group(const std::string& group) = 0;
};

}  // namespace rollbot::actions
