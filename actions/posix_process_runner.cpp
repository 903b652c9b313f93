#include "actions/posix_process_runner.hpp"

#include "actions/posix_spawn.hpp"
#include "actions/process_capture.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/logger.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <poll.h>
#include <string>
#include <string_view>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace rollbot::actions {
namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;
using Descriptor = asio::posix::stream_descriptor;
using std::chrono::milliseconds;

constexpr auto kNothrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadChunk = std::size_t{64} * 1024;
// Once the leader has exited, only leftovers (a forgotten `cmd &`) hold its pipes; output still
// in flight needs milliseconds, and a rollback step must not wait on a background job.
// The floor keeps kill_grace = 0 from dropping output that is still in the pipe when it exits.
constexpr milliseconds kMinDrain{100};
constexpr milliseconds kMaxDrain{2000};

// now + d, saturating instead of overflowing for absurdly long durations.
Clock::time_point after(milliseconds d) {
    const auto now = Clock::now();
    const auto room = std::chrono::duration_cast<milliseconds>(Clock::time_point::max() - now);
    return d < room ? now + d : Clock::time_point::max();
}

// write() that cannot raise SIGPIPE: Asio does not ignore it on Linux, and a child that exits
// without reading its stdin would otherwise kill the daemon. Returns bytes written or -errno.
ssize_t write_without_sigpipe(int fd, std::string_view data) {
    sigset_t pipe_set;
    sigset_t old_mask;
    sigset_t pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigpending(&pending);
    const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
    const ssize_t n = ::write(fd, data.data(), data.size());
    const int e = errno;
    if (n < 0 && e == EPIPE && !was_pending) {
        const timespec no_wait{};
        sigtimedwait(&pipe_set, nullptr, &no_wait);  // discard the SIGPIPE we just caused
    }
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    return n < 0 ? -e : n;
}

}  // namespace

struct PosixProcessRunner::Child {
    Child(PosixProcessRunner* runner, std::string name, pid_t child_pid, std::size_t limit)
        : owner(runner),
          log(runner->logger_),
          argv0(std::move(name)),
          pid(child_pid),
          pidfd(runner->executor_),
          in(runner->executor_),
          out(runner->executor_),
          err(runner->executor_),
          capture(limit),
          deadline(runner->executor_),
          drained(runner->executor_) {
        owner->running_.push_back(this);
    }
    ~Child() {
        if (owner != nullptr) {
            std::erase(owner->running_, this);
        }
        if (!reaped) {  // run() was abandoned mid-way: io_context torn down, or an exception
            signal_group(SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    Child(Child&&) = delete;
    Child& operator=(Child&&) = delete;

    [[nodiscard]] core::Result<void> attach(Spawned& s) {
        for (auto [descriptor, fd] : {std::pair{&pidfd, &s.pidfd},
                                      std::pair{&out, &s.out},
                                      std::pair{&err, &s.err},
                                      std::pair{&in, &s.in}}) {
            if (fd->get() < 0) {
                continue;
            }
            boost::system::error_code ec;
            descriptor->assign(fd->get(), ec);  // epoll registration can fail (max_user_watches)
            if (ec) {
                return process_failed("process.pipe", argv0, ec.message());
            }
            fd->release();
            open_pipes += descriptor == &pidfd ? 0 : 1;
        }
        return {};
    }

    void signal_group(int sig) const { ::kill(-pid, sig); }

    bool has_exited() {
        pollfd p{pidfd.native_handle(), POLLIN, 0};
        return ::poll(&p, 1, 0) > 0;
    }

    void request_cancel() {
        if (!terminating && !exited) {
            cancel_requested = true;
            deadline.expires_at(Clock::now());  // also wakes a wait that has not started yet
        }
    }

    asio::awaitable<void> wait_exit() {
        // async_wait re-arms the pidfd (EPOLL_CTL_MOD), which reports an exit that happened before
        // the wait; checking first only saves the round trip, and the loop absorbs spurious
        // wakeups.
        while (!has_exited()) {
            auto r = co_await pidfd.async_wait(Descriptor::wait_read, kNothrow);
            if (std::get<0>(r)) {
                co_return;
            }
        }
    }

    asio::awaitable<void> wait_deadline() { (void)co_await deadline.async_wait(kNothrow); }

    asio::awaitable<bool> exits_before(Clock::time_point limit) {
        deadline.expires_at(limit);
        if (!has_exited()) {
            (void)co_await (wait_exit() || wait_deadline());
        }
        co_return has_exited();
    }

    asio::awaitable<void> supervise(milliseconds timeout, milliseconds grace) {
        grace = std::max(grace, milliseconds::zero());
        const auto limit =
            timeout > milliseconds::zero() ? after(timeout) : Clock::time_point::max();
        exited = has_exited();
        if (!exited && !cancel_requested) {
            exited = co_await exits_before(limit);
        }
        if (!exited) {
            terminating = true;
            cancelled = cancel_requested;
            timed_out = !cancel_requested;
            log->info("process.kill argv0={} pid={} reason={}",
                      argv0,
                      pid,
                      cancelled ? "cancel" : "timeout");
            signal_group(SIGTERM);
            if (!co_await exits_before(after(grace))) {
                signal_group(SIGKILL);
                (void)co_await exits_before(Clock::time_point::max());
            }
            exited = true;
        }
        if (open_pipes > 0) {
            drained.expires_after(std::clamp(grace, kMinDrain, kMaxDrain));
            (void)co_await drained.async_wait(kNothrow);  // the last pipe to close cancels it
        }
        // The unreaped leader keeps its pid reserved, so this reaches its group and nobody else.
        if (terminating || open_pipes > 0) {
            signal_group(SIGKILL);
        }
        if (open_pipes > 0) {
            abandoned = true;
            boost::system::error_code ignored;
            for (Descriptor* pipe : {&out, &err, &in}) {
                pipe->cancel(ignored);
            }
        }
    }

    asio::awaitable<void> pump(Descriptor* pipe, ProcessCapture::Stream stream) {
        std::vector<char> buf(kReadChunk);
        while (!abandoned) {
            auto r = co_await pipe->async_read_some(asio::buffer(buf), kNothrow);
            capture.append(stream, std::string_view(buf.data(), std::get<1>(r)));
            if (std::get<0>(r)) {
                break;  // EOF, or cancelled by supervise()
            }
        }
        close_pipe(*pipe);
    }

    asio::awaitable<void> feed(std::string data) {
        std::string_view rest = data;
        while (in.is_open() && !rest.empty() && !abandoned) {
            auto r = co_await in.async_wait(Descriptor::wait_write, kNothrow);
            const ssize_t n =
                std::get<0>(r) ? -ECANCELED : write_without_sigpipe(in.native_handle(), rest);
            if (n >= 0) {
                rest.remove_prefix(static_cast<std::size_t>(n));
            } else if (n != -EINTR && n != -EAGAIN) {
                break;  // EPIPE: the child closed stdin without reading it all, its business
            }
        }
        if (in.is_open()) {
            close_pipe(in);
        }
    }

    void close_pipe(Descriptor& pipe) {
        boost::system::error_code ignored;
        pipe.close(ignored);
        if (--open_pipes == 0) {
            drained.cancel();
        }
    }

    [[nodiscard]] core::Result<actions::ProcessOutput> reap() {
        siginfo_t info{};
        int rc = 0;
        do {
            rc = ::waitid(P_PIDFD, static_cast<id_t>(pidfd.native_handle()), &info, WEXITED);
        } while (rc != 0 && errno == EINTR);
        reaped = true;  // even on failure: then somebody else reaped it (SIGCHLD set to SIG_IGN?)
        if (rc != 0) {
            return process_failed("process.wait", argv0, errno_text(errno));
        }
        actions::ProcessOutput o;
        (info.si_code == CLD_EXITED ? o.exit_code : o.term_signal) = info.si_status;
        o.timed_out = timed_out;
        o.cancelled = cancelled;
        capture.finish(o);
        return o;
    }

    PosixProcessRunner* owner;  // null once the runner is gone
    std::string group;          // ProcessSpec::group
    std::shared_ptr<spdlog::logger> log;
    std::string argv0;
    pid_t pid;
    Descriptor pidfd;
    Descriptor in;
    Descriptor out;
    Descriptor err;
    ProcessCapture capture;
    asio::steady_timer deadline;  // timeout and grace; cancel_all() moves it to now
    asio::steady_timer drained;   // cancelled when the last pipe closes
    int open_pipes = 0;
    bool exited = false;
    bool terminating = false;
    bool cancel_requested = false;
    bool timed_out = false;
    bool cancelled = false;
    bool abandoned = false;
    bool reaped = false;
};

PosixProcessRunner::PosixProcessRunner(asio::any_io_executor executor,
                                       std::shared_ptr<spdlog::logger> logger)
    : executor_(std::move(executor)),
      logger_(logger ? std::move(logger) : std::make_shared<spdlog::logger>("process")) {}

PosixProcessRunner::~PosixProcessRunner() {
    for (Child* child : running_) {
        child->owner = nullptr;
    }
}

asio::awaitable<core::Result<actions::ProcessOutput>> PosixProcessRunner::run(
    actions::ProcessSpec spec) {
    const auto started = Clock::now();
    auto program = resolve_program(spec);
    if (!program) {
        co_return program.error();
    }
    auto spawned = spawn(spec, *program);
    if (!spawned) {
        co_return spawned.error();
    }
    Child child(this, spec.argv[0], spawned->pid, spec.max_output_bytes);
    child.group = spec.group;
    if (auto attached = child.attach(*spawned); !attached) {
        co_return attached.error();
    }
    logger_->debug("process.start argv0={} pid={}", spec.argv[0], child.pid);

    co_await (child.supervise(spec.timeout, spec.kill_grace) &&
              child.pump(&child.out, ProcessCapture::Stream::Out) &&
              child.pump(&child.err, ProcessCapture::Stream::Err) &&
              child.feed(std::move(spec.stdin_data)));

    auto output = child.reap();
    if (output) {
        output->duration = std::chrono::duration_cast<milliseconds>(Clock::now() - started);
        const std::string how = output->exit_code
                                    ? fmt::format("exit={}", *output->exit_code)
                                    : fmt::format("signal={}", output->term_signal.value_or(0));
        logger_->debug("process.exit argv0={} pid={} {} timed_out={} cancelled={} duration_ms={}",
                       spec.argv[0],
                       child.pid,
                       how,
                       output->timed_out,
                       output->cancelled,
                       output->duration.count());
    }
    co_return output;
}

void PosixProcessRunner::cancel_all() {
    for (Child* child : running_) {
        child->request_cancel();
    }
}

void PosixProcessRunner::cancel_group(const std::string& group) {
    for (Child* child : running_) {
        if (!group.empty() && child->group == group) {
            child->request_cancel();
        }
    }
}

}  // namespace rollbot::actions
