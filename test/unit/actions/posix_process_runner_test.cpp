#include "actions/posix_process_runner.hpp"

#include "test/support/async.hpp"
#include "test/support/output_digest.hpp"
#include "test/support/temp_dir.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ringbuffer_sink.h>

#include <arpa/inet.h>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <netinet/in.h>
#include <poll.h>
#include <set>
#include <signal.h>
#include <sstream>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <tuple>
#include <unistd.h>
#include <utility>
#include <vector>

namespace rollbot::actions {
namespace {

using test::expected_digest;

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using namespace std::chrono_literals;
using actions::ProcessOutput;
using actions::ProcessSpec;
using core::Result;

constexpr const char* kPath = "/usr/bin:/bin";

ProcessSpec spec_for(std::vector<std::string> argv) {
    ProcessSpec spec;
    spec.argv = std::move(argv);
    spec.env = {{"PATH", kPath}};
    spec.timeout = 20s;
    spec.kill_grace = 2s;
    return spec;
}

// What `seq 1 n` prints.
std::string seq_output(int n) {
    std::string s;
    for (int i = 1; i <= n; ++i) {
        s += std::to_string(i);
        s += '\n';
    }
    return s;
}

// Waits (bounded, on the kernel's word rather than a sleep) until `pid` has exited.
bool exits_within(pid_t pid, std::chrono::milliseconds limit) {
    const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (fd < 0) {
        return errno == ESRCH;  // already gone and reaped
    }
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(limit.count()));
    ::close(fd);
    return ready == 1;
}

// A FIFO the child writes one line to when it is ready, so the test needs no sleep.
class ReadyLine {
public:
    explicit ReadyLine(const test::TempDir& dir) : path_(dir.file("ready").string()) {
        EXPECT_EQ(::mkfifo(path_.c_str(), 0600), 0);
        read_fd_ = ::open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        // Our own writer keeps the FIFO from reporting EOF before the child has opened it.
        keep_open_fd_ = ::open(path_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        EXPECT_GE(read_fd_, 0);
        EXPECT_GE(keep_open_fd_, 0);
    }
    ~ReadyLine() {
        ::close(read_fd_);
        ::close(keep_open_fd_);
    }
    ReadyLine(const ReadyLine&) = delete;
    ReadyLine& operator=(const ReadyLine&) = delete;

    [[nodiscard]] const std::string& path() const { return path_; }
    [[nodiscard]] int fd() const { return read_fd_; }

private:
    std::string path_;
    int read_fd_ = -1;
    int keep_open_fd_ = -1;
};

// Reads the ready line (into *line), then cancels everything the runner is running.
asio::awaitable<void> cancel_when_ready(PosixProcessRunner* runner, int fd, std::string* line) {
    asio::posix::stream_descriptor ready(co_await asio::this_coro::executor, ::dup(fd));
    auto r = co_await asio::async_read_until(
        ready, asio::dynamic_buffer(*line), '\n', asio::as_tuple(asio::use_awaitable));
    EXPECT_FALSE(std::get<0>(r)) << std::get<0>(r).message();
    runner->cancel_all();
}

asio::awaitable<Result<ProcessOutput>> run_and_cancel(PosixProcessRunner* runner,
                                                      ProcessSpec spec,
                                                      int ready_fd,
                                                      std::string* line) {
    co_return co_await (runner->run(std::move(spec)) && cancel_when_ready(runner, ready_fd, line));
}

asio::awaitable<std::tuple<Result<ProcessOutput>, Result<ProcessOutput>>> run_both(
    PosixProcessRunner* runner, ProcessSpec a, ProcessSpec b) {
    co_return co_await (runner->run(std::move(a)) && runner->run(std::move(b)));
}

// Reads the ready line, then cancels only the children of `group`.
asio::awaitable<void> cancel_group_when_ready(PosixProcessRunner* runner,
                                              int fd,
                                              std::string group) {
    asio::posix::stream_descriptor ready(co_await asio::this_coro::executor, ::dup(fd));
    std::string line;
    auto r = co_await asio::async_read_until(
        ready, asio::dynamic_buffer(line), '\n', asio::as_tuple(asio::use_awaitable));
    EXPECT_FALSE(std::get<0>(r)) << std::get<0>(r).message();
    runner->cancel_group(group);
}

asio::awaitable<std::tuple<Result<ProcessOutput>, Result<ProcessOutput>>> run_both_cancel_one(
    PosixProcessRunner* runner, ProcessSpec a, ProcessSpec b, int ready_fd) {
    // T && void gives T; (T && U) && void does not compile in Boost 1.81, hence the nesting.
    co_return co_await (
        runner->run(std::move(a)) &&
        (runner->run(std::move(b)) && cancel_group_when_ready(runner, ready_fd, "wait/backend")));
}

class PosixProcessRunnerTest : public ::testing::Test {
protected:
    Result<ProcessOutput> run(ProcessSpec spec) {
        return test::run_task(io_, runner_.run(std::move(spec)), 30s);
    }
    ProcessOutput run_ok(ProcessSpec spec) {
        auto result = run(std::move(spec));
        EXPECT_TRUE(result.has_value()) << (result ? "" : result.error().message);
        return result ? *result : ProcessOutput{};
    }

    asio::io_context io_;
    PosixProcessRunner runner_{io_.get_executor()};
    test::TempDir dir_;
};

TEST_F(PosixProcessRunnerTest, ExitCodesComeBackExactly) {
    for (int code : {0, 3, 255}) {
        auto out = run_ok(spec_for({"bash", "-c", "exit $1", "_", std::to_string(code)}));
        ASSERT_TRUE(out.exit_code.has_value()) << code;
        EXPECT_EQ(*out.exit_code, code);
        EXPECT_FALSE(out.term_signal.has_value());
        EXPECT_EQ(out.success(), code == 0);
        EXPECT_FALSE(out.timed_out);
    }
    EXPECT_EQ(runner_.running(), 0U);
}

TEST_F(PosixProcessRunnerTest, LogsStartAndExitButNeverEnvironmentValues) {
    auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(16);
    auto logger = std::make_shared<spdlog::logger>("process", sink);
    logger->set_level(spdlog::level::debug);
    PosixProcessRunner runner(io_.get_executor(), logger);
    auto spec = spec_for({"true"});
    spec.env.emplace_back("SLACK_BOT_TOKEN", "xoxb-not-for-logs");
    auto result = test::run_task(io_, runner.run(spec), 30s);
    ASSERT_TRUE(result.has_value());
    const auto lines = sink->last_formatted();
    ASSERT_EQ(lines.size(), 2U);
    EXPECT_NE(lines[0].find("process.start argv0=true pid="), std::string::npos) << lines[0];
    EXPECT_NE(lines[1].find("process.exit argv0=true pid="), std::string::npos) << lines[1];
    EXPECT_NE(lines[1].find("exit=0"), std::string::npos) << lines[1];
    for (const auto& line : lines) {
        EXPECT_EQ(line.find("xoxb-not-for-logs"), std::string::npos) << line;
    }
}

TEST_F(PosixProcessRunnerTest, StdoutAndStderrAreSeparate) {
    auto out = run_ok(spec_for({"bash", "-c", "echo to-out; echo to-err >&2; echo more-out"}));
    EXPECT_EQ(out.out, "to-out\nmore-out\n");
    EXPECT_EQ(out.err, "to-err\n");
    EXPECT_EQ(out.out_bytes, 16U);
    EXPECT_EQ(out.err_bytes, 7U);
    EXPECT_FALSE(out.out_truncated);
    EXPECT_EQ(out.digest, expected_digest("to-out\nmore-out\n", "to-err\n"));
    EXPECT_NE(out.digest, expected_digest("to-err\n", "to-out\nmore-out\n"));
}

TEST_F(PosixProcessRunnerTest, ChildKilledBySignalReportsTheSignal) {
    auto out = run_ok(spec_for({"bash", "-c", "kill -USR1 $$"}));
    EXPECT_FALSE(out.exit_code.has_value());
    ASSERT_TRUE(out.term_signal.has_value());
    EXPECT_EQ(*out.term_signal, SIGUSR1);
    EXPECT_FALSE(out.success());
    EXPECT_FALSE(out.timed_out);
    EXPECT_FALSE(out.cancelled);
}

TEST_F(PosixProcessRunnerTest, EnvironmentIsExactlyTheSpecs) {
    ASSERT_EQ(::setenv("ROLLBOT_DAEMON_ONLY", "leak", 1), 0);
    auto spec = spec_for({"/usr/bin/env"});
    spec.env = {{"ROLLBOT_A", "1"}, {"PATH", kPath}, {"EMPTY", ""}};
    auto out = run_ok(spec);
    ::unsetenv("ROLLBOT_DAEMON_ONLY");
    EXPECT_EQ(out.out, "ROLLBOT_A=1\nPATH=/usr/bin:/bin\nEMPTY=\n");
}

TEST_F(PosixProcessRunnerTest, ProgramIsLookedUpInTheSpecsPath) {
    auto tool = dir_.write("bin/rollbot-test-tool", "#!/bin/bash\necho found \"$1\"\n");
    std::filesystem::permissions(tool, std::filesystem::perms::owner_all);
    auto spec = spec_for({"rollbot-test-tool", "it"});
    spec.env = {{"PATH", "relative/bin:" + dir_.file("bin").string() + ":" + kPath}};
    auto out = run_ok(spec);
    EXPECT_EQ(out.out, "found it\n");
}

TEST_F(PosixProcessRunnerTest, WorkdirIsHonouredAndRelativeProgramsResolveInIt) {
    auto tool = dir_.write("scripts/where.sh", "#!/bin/bash\npwd\n");
    std::filesystem::permissions(tool, std::filesystem::perms::owner_all);
    auto spec = spec_for({"scripts/where.sh"});
    spec.workdir = dir_.path().string();
    auto out = run_ok(spec);
    EXPECT_EQ(out.out, std::filesystem::canonical(dir_.path()).string() + "\n");
}

TEST_F(PosixProcessRunnerTest, StdinDataArrives) {
    auto spec = spec_for({"cat"});
    spec.stdin_data = "line one\nline two\n";
    EXPECT_EQ(run_ok(spec).out, "line one\nline two\n");
}

TEST_F(PosixProcessRunnerTest, LargeStdinIsStreamedBeyondThePipeBuffer) {
    auto spec = spec_for({"cat"});
    spec.stdin_data = seq_output(300000);  // ~2 MB, far beyond a 64 KiB pipe
    spec.max_output_bytes = 4 * 1024 * 1024;
    auto out = run_ok(spec);
    EXPECT_EQ(out.out_bytes, spec.stdin_data.size());
    EXPECT_TRUE(out.out == spec.stdin_data);
}

TEST_F(PosixProcessRunnerTest, ChildThatIgnoresItsStdinDoesNotKillTheDaemonWithSigpipe) {
    auto spec = spec_for({"bash", "-c", "exec 0<&-; echo closed"});
    spec.stdin_data = std::string(4 * 1024 * 1024, 'x');
    auto out = run_ok(spec);
    EXPECT_EQ(out.out, "closed\n");
    EXPECT_EQ(out.exit_code, 0);
}

TEST_F(PosixProcessRunnerTest, MissingProgramIsAClearError) {
    auto result = run(spec_for({"rollbot-no-such-program", "--flag"}));
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().kind, core::ErrorKind::ProcessFailed);
    EXPECT_EQ(result.error().message, "process.spawn: rollbot-no-such-program: not found in PATH");

    result = run(spec_for({"/nonexistent/bin/tool"}));
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().message,
              "process.spawn: /nonexistent/bin/tool: No such file or directory");

    dir_.write("bin/plain", "not a program");
    auto spec = spec_for({"plain"});
    spec.env = {{"PATH", dir_.file("bin").string()}};
    result = run(spec);
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().message, "process.spawn: plain: not executable");

    result = run(spec_for({}));
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().kind, core::ErrorKind::Invalid);
}

TEST_F(PosixProcessRunnerTest, MissingWorkdirIsAClearError) {
    auto spec = spec_for({"pwd"});
    spec.workdir = dir_.file("gone").string();
    auto result = run(spec);
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().kind, core::ErrorKind::ProcessFailed);
    EXPECT_EQ(result.error().message,
              "process.spawn: workdir " + spec.workdir + ": No such file or directory");
}

TEST_F(PosixProcessRunnerTest, TimeoutKillsTheWholeProcessGroup) {
    const auto pid_file = dir_.file("grandchild.pid").string();
    auto spec = spec_for({"bash", "-c", "sleep 30 & echo $! > \"$1\"; wait", "_", pid_file});
    spec.timeout = 2s;
    spec.kill_grace = 2s;
    auto out = run_ok(spec);
    EXPECT_TRUE(out.timed_out);
    EXPECT_FALSE(out.cancelled);
    EXPECT_FALSE(out.success());
    EXPECT_EQ(out.term_signal, SIGTERM);
    EXPECT_GE(out.duration, 2s);
    EXPECT_LT(out.duration, 15s);
    const std::string grandchild = dir_.read("grandchild.pid");
    ASSERT_FALSE(grandchild.empty()) << "the child never got to start its background job";
    EXPECT_TRUE(exits_within(std::stoi(grandchild), 5s)) << "grandchild " << grandchild;
}

TEST_F(PosixProcessRunnerTest, ChildIgnoringSigtermIsKilledAfterTheGrace) {
    ReadyLine ready(dir_);
    auto spec = spec_for(
        {"bash", "-c", "trap '' TERM; sleep 30 & echo $! > \"$1\"; wait", "_", ready.path()});
    spec.kill_grace = 500ms;
    std::string line;
    auto result = test::run_task(io_, run_and_cancel(&runner_, spec, ready.fd(), &line), 30s);
    ASSERT_TRUE(result.has_value()) << result.error().message;
    EXPECT_TRUE(result->cancelled);
    EXPECT_EQ(result->term_signal, SIGKILL);
    EXPECT_GE(result->duration, 500ms);
    EXPECT_LT(result->duration, 15s);
    ASSERT_FALSE(line.empty());
    EXPECT_TRUE(exits_within(std::stoi(line), 5s)) << "grandchild " << line;
}

TEST_F(PosixProcessRunnerTest, CancelGroupStopsOnlyThatGroup) {
    ReadyLine ready(dir_);
    auto waiting = spec_for({"bash", "-c", "echo up > \"$1\"; exec sleep 30", "_", ready.path()});
    waiting.group = "wait/backend";
    waiting.kill_grace = 500ms;
    // Still running when the group is cancelled (it prints only after its second), never stopped.
    auto other = spec_for({"bash", "-c", "sleep 1; echo finished"});
    other.group = "wait/frontend";
    auto [a, b] =
        test::run_task(io_, run_both_cancel_one(&runner_, waiting, other, ready.fd()), 30s);
    ASSERT_TRUE(a.has_value() && b.has_value());
    EXPECT_TRUE(a->cancelled);
    EXPECT_LT(a->duration, 15s);
    EXPECT_FALSE(b->cancelled);
    EXPECT_TRUE(b->success());
    EXPECT_EQ(b->out, "finished\n");
    runner_.cancel_group("");  // the empty group names nothing
    EXPECT_EQ(runner_.running(), 0U);
}

TEST_F(PosixProcessRunnerTest, ChildExitingWithABackgroundJobHoldingStdoutDoesNotHang) {
    auto spec = spec_for({"bash", "-c", "sleep 30 & echo $!"});
    spec.kill_grace = 500ms;
    auto out = run_ok(spec);
    EXPECT_EQ(out.exit_code, 0);
    EXPECT_FALSE(out.timed_out);
    EXPECT_LT(out.duration, 10s);
    ASSERT_FALSE(out.out.empty());
    EXPECT_TRUE(exits_within(std::stoi(out.out), 5s)) << "background job " << out.out;
}

TEST_F(PosixProcessRunnerTest, OutputIsCappedToHeadMarkerAndTailWithFullCountsAndDigest) {
    const std::string expected_out = seq_output(1400000);  // ~10 MB
    const std::string expected_err = seq_output(700000);
    auto spec = spec_for({"bash", "-c", "seq 1 1400000; seq 1 700000 >&2"});
    spec.max_output_bytes = 64 * 1024;
    auto out = run_ok(spec);
    EXPECT_EQ(out.out_bytes, expected_out.size());
    EXPECT_EQ(out.err_bytes, expected_err.size());
    EXPECT_TRUE(out.out_truncated);
    EXPECT_TRUE(out.err_truncated);
    EXPECT_EQ(out.digest, expected_digest(expected_out, expected_err));

    for (const auto& [kept, all] :
         {std::pair{out.out, expected_out}, std::pair{out.err, expected_err}}) {
        EXPECT_LE(kept.size(), spec.max_output_bytes);
        const std::string open = "\n… [";
        const std::string close = " bytes omitted] …\n";
        const auto marker = kept.find(open);
        const auto marker_end = kept.find(close);
        ASSERT_NE(marker, std::string::npos);
        ASSERT_NE(marker_end, std::string::npos);
        const std::string head = kept.substr(0, marker);
        const std::string tail = kept.substr(marker_end + close.size());
        const auto digits = kept.substr(marker + open.size(), marker_end - marker - open.size());
        const std::size_t omitted = std::stoul(digits);
        EXPECT_GT(head.size(), 30000U);
        EXPECT_GT(tail.size(), 30000U);
        EXPECT_EQ(head, all.substr(0, head.size()));
        EXPECT_EQ(tail, all.substr(all.size() - tail.size()));
        EXPECT_EQ(omitted, all.size() - head.size() - tail.size());
    }
}

TEST_F(PosixProcessRunnerTest, ChildInheritsNoDescriptorsBeyondStdio) {
    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);  // no SOCK_CLOEXEC, like Asio's
    ASSERT_GE(listener, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(listener, 1), 0);
    const auto file_path = dir_.write("plain.txt", "x").string();
    const int file = ::open(file_path.c_str(), O_RDONLY);
    ASSERT_GE(file, 0);
    ASSERT_EQ(::fcntl(listener, F_GETFD) & FD_CLOEXEC, 0);
    ASSERT_EQ(::fcntl(file, F_GETFD) & FD_CLOEXEC, 0);

    auto spec = spec_for({"ls", "-l", "/proc/self/fd"});
    spec.env.emplace_back("LC_ALL", "C");
    auto out = run_ok(spec);
    ::close(listener);
    ::close(file);

    std::set<int> fds;
    std::istringstream lines(out.out);
    for (std::string line; std::getline(lines, line);) {
        const auto arrow = line.find(" -> ");
        if (arrow == std::string::npos) {
            continue;  // "total 0"
        }
        fds.insert(std::stoi(line.substr(line.rfind(' ', arrow - 1) + 1)));
        EXPECT_EQ(line.find("socket:"), std::string::npos) << line;
        EXPECT_EQ(line.find(file_path), std::string::npos) << line;
        if (line.find(" 0 -> ") != std::string::npos) {
            EXPECT_NE(line.find("/dev/null"), std::string::npos) << "stdin: " << line;
        }
    }
    EXPECT_TRUE(fds == (std::set<int>{0, 1, 2, 3}) || fds == (std::set<int>{0, 1, 2})) << out.out;
}

TEST_F(PosixProcessRunnerTest, ChildGetsDefaultSignalsWhateverTheDaemonBlocksOrIgnores) {
    struct sigaction ignore {};
    struct sigaction old_pipe {};
    ignore.sa_handler = SIG_IGN;
    ASSERT_EQ(::sigaction(SIGPIPE, &ignore, &old_pipe), 0);
    sigset_t block;
    sigset_t old_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR2);
    ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &block, &old_mask), 0);

    auto out = run_ok(spec_for({"grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"}));
    ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    ::sigaction(SIGPIPE, &old_pipe, nullptr);
    unsigned long long blocked = ~0ULL;
    unsigned long long ignored = ~0ULL;
    ASSERT_EQ(std::sscanf(out.out.c_str(), "SigBlk: %llx SigIgn: %llx", &blocked, &ignored), 2)
        << out.out;
    EXPECT_EQ(blocked, 0U) << out.out;
    // Signals 1-31 (bit n-1 for signal n). glibc's posix_spawn leaves its two internal real-time
    // signals (32, 33) ignored and offers no way to reset them.
    EXPECT_EQ(ignored & 0x7fffffffULL, 0U) << out.out;
}

TEST_F(PosixProcessRunnerTest, TwoChildrenRunConcurrentlyOnOneIoContext) {
    const auto fifo = dir_.file("rendezvous").string();
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    // Each blocks until the other has opened the FIFO: run one after the other, both would hang.
    auto reader = spec_for({"bash", "-c", "read -r line < \"$1\"; echo \"got $line\"", "_", fifo});
    auto writer = spec_for({"bash", "-c", "echo hello > \"$1\"; echo sent", "_", fifo});
    reader.timeout = writer.timeout = 15s;
    auto [a, b] = test::run_task(io_, run_both(&runner_, reader, writer), 30s);
    ASSERT_TRUE(a.has_value() && b.has_value());
    EXPECT_EQ(a->out, "got hello\n");
    EXPECT_EQ(b->out, "sent\n");
    EXPECT_TRUE(a->success() && b->success());
    EXPECT_EQ(runner_.running(), 0U);
}

TEST_F(PosixProcessRunnerTest, CancelAllStopsARunningChild) {
    ReadyLine ready(dir_);
    auto spec = spec_for({"bash", "-c", "echo up > \"$1\"; exec sleep 30", "_", ready.path()});
    std::string line;
    auto result = test::run_task(io_, run_and_cancel(&runner_, spec, ready.fd(), &line), 30s);
    ASSERT_TRUE(result.has_value()) << result.error().message;
    EXPECT_EQ(line, "up\n");
    EXPECT_TRUE(result->cancelled);
    EXPECT_FALSE(result->timed_out);
    EXPECT_EQ(result->term_signal, SIGTERM);
    EXPECT_LT(result->duration, 15s);
    EXPECT_EQ(runner_.running(), 0U);
}

}  // namespace
}  // namespace rollbot::actions
