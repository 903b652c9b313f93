#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rollbot::test {

/// A program under test (usually rollbotd) with pipes on stdin, stdout and stderr. Output is
/// collected while waiting; every wait has a deadline and none of them sleeps.
class ChildProcess {
public:
    /// Starts argv[0] (a path) with the test's environment plus `extra_env`.
    ChildProcess(std::vector<std::string> argv,
                 std::vector<std::pair<std::string, std::string>> extra_env = {});
    ~ChildProcess();  // SIGKILLs a child that is still running
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    void write_stdin(std::string_view text);
    void close_stdin();
    void send_signal(int signo);

    /// Waits until stdout contains `needle` after position `from` (default: anywhere).
    [[nodiscard]] testing::AssertionResult wait_for_stdout(std::string_view needle,
                                                           std::chrono::milliseconds timeout,
                                                           std::size_t from = 0);
    /// Waits until stderr contains `needle`.
    [[nodiscard]] testing::AssertionResult wait_for_stderr(std::string_view needle,
                                                           std::chrono::milliseconds timeout);
    /// Waits for the exit status (collecting the rest of the output); nullopt on timeout.
    [[nodiscard]] std::optional<int> wait_exit(std::chrono::milliseconds timeout);

    [[nodiscard]] const std::string& out() const { return out_; }
    [[nodiscard]] const std::string& err() const { return err_; }
    [[nodiscard]] pid_t pid() const { return pid_; }

private:
    // Reads whatever is available, waiting at most until `deadline`; false once nothing more
    // can arrive (both pipes closed and the child reaped).
    bool pump(std::chrono::steady_clock::time_point deadline);

    pid_t pid_ = -1;
    int pidfd_ = -1;
    int in_ = -1;
    int stdout_ = -1;
    int stderr_ = -1;
    std::optional<int> status_;
    std::string out_;
    std::string err_;
};

}  // namespace rollbot::test
