#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <thread>
#include <utility>
#include <vector>

namespace rollbot::test {

/// A program under test (usually rollbotd) with pipes on stdin, stdout and stderr. A
/// background thread drains its output all the time, so a chatty child never blocks on a full
/// pipe; waits have deadlines and none of them sleeps.
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
    /// Waits for the exit status (output is complete once it returns); nullopt on timeout.
    [[nodiscard]] std::optional<int> wait_exit(std::chrono::milliseconds timeout);

    /// Copies of what the child wrote so far.
    [[nodiscard]] std::string out() const;
    [[nodiscard]] std::string err() const;
    [[nodiscard]] pid_t pid() const { return pid_; }

private:
    void drain();  // the background thread

    pid_t pid_ = -1;
    int pidfd_ = -1;
    int in_ = -1;
    int stdout_ = -1;
    int stderr_ = -1;
    int stop_[2] = {-1, -1};  // wakes the drain thread at destruction
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::optional<int> status_;
    std::string out_;
    std::string err_;
    std::thread drainer_;
};

}  // namespace rollbot::test
