#pragma once

#include "actions/process.hpp"
#include "bot/result.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <memory>
#include <vector>

namespace spdlog {
class logger;
}

namespace rollbot::actions {

/// Runs children with posix_spawn (never a shell) in their own process group, waiting on a pidfd.
///
/// The contract, beyond actions::ProcessRunner:
/// - argv[0] without '/' is looked up in the PATH of spec.env (the daemon's PATH if spec.env has
///   none); relative PATH entries are skipped. A relative argv[0] with '/' is relative to workdir.
/// - The child gets exactly spec.env, stdin from spec.stdin_data (/dev/null when empty), only
///   fds 0-2, an empty signal mask and default dispositions (glibc's posix_spawn leaves its two
///   internal real-time signals, 32 and 33, ignored).
/// - spec.timeout (<= 0: none) or cancel_all(): SIGTERM to the group, SIGKILL to the group after
///   spec.kill_grace; then timed_out or cancelled is set.
/// - Once the child has exited, whatever still holds its pipes gets kill_grace (clamped to
///   0.1-2 s) to close them; then the group is SIGKILLed and run() completes. After a timeout or
///   cancel, the group is SIGKILLed once the child has exited and its pipes are closed.
/// - out/err each keep at most max_output_bytes: the head, the line "… [N bytes omitted] …" and
///   the tail, cut on UTF-8 boundaries (only the head when the cap is below the marker's size);
///   out_bytes/err_bytes count everything written.
/// - digest = lower-case hex SHA-256(SHA-256(stdout) || SHA-256(stderr)), the two inner digests
///   raw (32 bytes each) and taken over every byte the child wrote to that stream, kept or not.
/// - Not started (bad argv, not found, missing workdir, no pipes): an Error of kind
///   ProcessFailed (Invalid for malformed argv/env). A non-zero exit is a ProcessOutput.
/// Call every member on the executor's thread; the runner must outlive the run() calls.
class PosixProcessRunner final : public actions::ProcessRunner {
public:
    /// `logger` may be null; start and exit are logged at debug, kills at info, never env values.
    explicit PosixProcessRunner(boost::asio::any_io_executor executor,
                                std::shared_ptr<spdlog::logger> logger = nullptr);
    ~PosixProcessRunner() override;
    PosixProcessRunner(const PosixProcessRunner&) = delete;
    PosixProcessRunner& operator=(const PosixProcessRunner&) = delete;

    /// Starts spec.argv and completes once it has ended, its pipes are closed and it is reaped.
    [[nodiscard]] boost::asio::awaitable<core::Result<actions::ProcessOutput>> run(
        actions::ProcessSpec spec) override;
    /// Terminates every running child's group (SIGTERM, SIGKILL after its grace); cancelled = true.
    void cancel_all() override;
    void cancel_group(const std::string& group) override;
    /// Children started and not yet reaped (shutdown waits for zero).
    [[nodiscard]] std::size_t running() const { return running_.size(); }

private:
    struct Child;

    boost::asio::any_io_executor executor_;
    std::shared_ptr<spdlog::logger> logger_;
    std::vector<Child*> running_;
};

}  // namespace rollbot::actions
