#include "actions/posix_process_runner.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <spdlog/logger.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fcntl.h>
#include <optional>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string_view>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <system_error>
#include <unistd.h>
#include <utility>

namespace rollbot::actions {
namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;
using Descriptor = asio::posix::stream_descriptor;
using std::chrono::milliseconds;

constexpr auto kNothrow = asio::as_tuple(asio::use_awaitable);
// Once the leader has exited, only leftovers (a forgotten `cmd &`) hold its pipes; output still
// in flight needs milliseconds, and a rollback step must not wait on a background job.
// The floor keeps kill_grace = 0 from dropping output that is still in the pipe when it exits.
constexpr milliseconds kMinDrain{100};
constexpr milliseconds kMaxDrain{2000};

std::string errno_text(int err) {
    return std::generic_category().message(err);
}

// "process.spawn: kubectl: not found in PATH": the operation, what it was about, what went wrong.
core::Error failed(std::string_view operation, std::string_view subject, std::string_view why) {
    return core::make_error(core::ErrorKind::ProcessFailed,
                            fmt::format("{}: {}: {}", operation, subject, why));
}

// now + d, saturating instead of overflowing for absurdly long durations.
Clock::time_point after(milliseconds d) {
    const auto now = Clock::now();
    const auto room = std::chrono::duration_cast<milliseconds>(Clock::time_point::max() - now);
    return d < room ? now + d : Clock::time_point::max();
}

class UniqueFd {
public:
    explicit UniqueFd(int fd = -1) : fd_(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        std::swap(fd_, other.fd_);
        return *this;
    }
    ~UniqueFd() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    [[nodiscard]] int get() const { return fd_; }
    int release() { return std::exchange(fd_, -1); }

private:
    int fd_;
};

class Sha256 {
public:
    Sha256() : ctx_(EVP_MD_CTX_new(), &EVP_MD_CTX_free) {
        ROLLBOT_CHECK(ctx_ && EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) == 1,
                      "process.digest: cannot initialise SHA-256");
    }
    void update(std::string_view data) { EVP_DigestUpdate(ctx_.get(), data.data(), data.size()); }
    std::string finish() {
        std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
        unsigned int len = 0;
        EVP_DigestFinal_ex(ctx_.get(), md.data(), &len);
        return {reinterpret_cast<const char*>(md.data()), len};
    }

private:
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

std::string omitted_marker(std::size_t n) {
    return fmt::format("\n… [{} bytes omitted] …\n", n);
}

bool utf8_continuation(char c) {
    return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

// Holds the first `limit` bytes and the latest `limit` to `2 * limit`, whatever the child writes.
class BoundedCapture {
public:
    explicit BoundedCapture(std::size_t limit) : limit_(limit) {}

    void append(std::string_view data) {
        total_ += data.size();
        const std::size_t to_head = std::min(data.size(), limit_ - head_.size());
        head_.append(data.substr(0, to_head));
        tail_.append(data.substr(to_head));
        if (tail_.size() > 2 * limit_) {
            tail_.erase(0, tail_.size() - limit_);
        }
    }
    [[nodiscard]] std::size_t total() const { return total_; }
    [[nodiscard]] bool truncated() const { return total_ > limit_; }

    [[nodiscard]] std::string kept() const {
        // Room for the widest marker (omitted <= total), so head + marker + tail <= limit.
        const std::size_t reserve = omitted_marker(total_).size();
        if (!truncated() || reserve >= limit_) {
            return head_;
        }
        const std::size_t budget = limit_ - reserve;
        const std::size_t want = budget - budget / 2;  // head_ is full, and want <= limit_
        std::string tail = tail_.size() >= want
                               ? tail_.substr(tail_.size() - want)
                               : head_.substr(limit_ - (want - tail_.size())) + tail_;
        // Cut on UTF-8 character boundaries: the text ends up in Slack messages.
        std::size_t head_len = budget / 2;
        std::size_t skip = 0;
        for (int i = 0; i < 3; ++i) {
            head_len -= head_len > 0 && utf8_continuation(head_[head_len]) ? 1 : 0;
            skip += skip < tail.size() && utf8_continuation(tail[skip]) ? 1 : 0;
        }
        tail.erase(0, skip);
        return head_.substr(0, head_len) + omitted_marker(total_ - head_len - tail.size()) + tail;
    }

private:
    std::size_t limit_;
    std::size_t total_ = 0;
    std::string head_;
    std::string tail_;
};

// Why `path` cannot serve as a program (S_IFREG) or working directory (S_IFDIR), if it cannot.
std::optional<std::string> unusable(const std::string& path, mode_t type) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        return errno_text(errno);
    }
    if ((st.st_mode & S_IFMT) != type) {
        return type == S_IFDIR ? "not a directory" : "not a regular file";
    }
    if (type == S_IFREG && ::access(path.c_str(), X_OK) != 0) {
        return "not executable";
    }
    return std::nullopt;
}

// What posix_spawn gets as its path, or why the child cannot be started at all.
core::Result<std::string> resolve_program(const core::ProcessSpec& spec) {
    const auto has_nul = [](const std::string& s) {
        return s.find('\0') != std::string::npos;
    };
    bool malformed = spec.argv.empty() || spec.argv[0].empty() ||
                     std::any_of(spec.argv.begin(), spec.argv.end(), has_nul);
    for (const auto& [key, value] : spec.env) {
        malformed |= key.empty() || key.find('=') != std::string::npos || has_nul(key + value);
    }
    if (malformed) {
        return core::make_error(core::ErrorKind::Invalid,
                                "process.spawn: malformed argv or environment");
    }
    if (auto why = spec.workdir.empty() ? std::nullopt : unusable(spec.workdir, S_IFDIR)) {
        // glibc would report a failed chdir as a bare ENOENT, like a missing program.
        return failed("process.spawn", "workdir " + spec.workdir, *why);
    }
    const std::string& name = spec.argv[0];
    if (name.find('/') != std::string::npos) {
        // The child chdirs before exec, so a relative path is relative to workdir.
        const bool relative = name[0] != '/' && !spec.workdir.empty();
        if (auto why = unusable(relative ? spec.workdir + "/" + name : name, S_IFREG)) {
            return failed("process.spawn", name, *why);
        }
        return name;
    }
    const auto in_env = std::find_if(
        spec.env.begin(), spec.env.end(), [](const auto& kv) { return kv.first == "PATH"; });
    const char* daemon_path = std::getenv("PATH");
    const std::string path = in_env != spec.env.end() ? in_env->second
                             : daemon_path != nullptr ? daemon_path
                                                      : "/usr/local/bin:/usr/bin:/bin";
    const char* problem = "not found in PATH";
    for (std::size_t start = 0; start <= path.size();) {
        const std::size_t end = std::min(path.find(':', start), path.size());
        const std::string dir = path.substr(start, end - start);
        start = end + 1;
        // A relative entry would resolve against whatever directory the child starts in.
        if (!dir.empty() && dir[0] == '/') {
            std::string candidate = dir + "/" + name;
            if (!unusable(candidate, S_IFREG)) {
                return candidate;
            }
            problem = ::access(candidate.c_str(), F_OK) == 0 ? "not executable" : problem;
        }
    }
    return failed("process.spawn", name, problem);
}

// posix_spawn's attributes and file actions for one child, destroyed on every path.
struct SpawnPlan {
    SpawnPlan() {
        ROLLBOT_CHECK(
            posix_spawn_file_actions_init(&actions) == 0 && posix_spawnattr_init(&attr) == 0,
            "process.spawn: cannot initialise posix_spawn objects");
    }
    ~SpawnPlan() {
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
    }
    SpawnPlan(const SpawnPlan&) = delete;
    SpawnPlan& operator=(const SpawnPlan&) = delete;

    // 0, or the error number of the first step that could not be recorded. With the daemon's fds
    // 0-2 closed, pipes may land there; created as out, err, in, no dup2 overwrites a later source.
    [[nodiscard]] int prepare(int in, int out, int err, const std::string& workdir) {
        sigset_t all;
        sigset_t none;
        sigfillset(&all);
        sigemptyset(&none);
        const auto flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
        const std::array results{
            posix_spawn_file_actions_adddup2(&actions, in, STDIN_FILENO),
            posix_spawn_file_actions_adddup2(&actions, out, STDOUT_FILENO),
            posix_spawn_file_actions_adddup2(&actions, err, STDERR_FILENO),
            workdir.empty() ? 0 : posix_spawn_file_actions_addchdir_np(&actions, workdir.c_str()),
            // Asio opens sockets without CLOEXEC: this keeps the Slack socket out of kubectl.
            posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1),
            posix_spawnattr_setflags(&attr, static_cast<short>(flags)),
            posix_spawnattr_setpgroup(&attr, 0),
            // The daemon may ignore SIGPIPE or block signals; ignored dispositions survive exec.
            posix_spawnattr_setsigdefault(&attr, &all),
            posix_spawnattr_setsigmask(&attr, &none),
        };
        const auto failed =
            std::find_if(results.begin(), results.end(), [](int r) { return r != 0; });
        return failed == results.end() ? 0 : *failed;
    }

    posix_spawn_file_actions_t actions{};
    posix_spawnattr_t attr{};
};

struct Pipe {
    UniqueFd read;
    UniqueFd write;
};

bool open_pipe(Pipe& pipe) {
    std::array<int, 2> fds{};
    if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
        return false;
    }
    pipe = Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
    return true;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
    std::vector<char*> pointers;
    for (auto& s : strings) {
        pointers.push_back(s.data());
    }
    pointers.push_back(nullptr);
    return pointers;
}

// Our ends only: the child's ends close when spawn() returns, so EOF depends on the child alone.
struct Spawned {
    pid_t pid = -1;
    UniqueFd pidfd;
    UniqueFd out;
    UniqueFd err;
    UniqueFd in;  // not open when stdin is /dev/null
};

core::Result<Spawned> spawn(const core::ProcessSpec& spec, const std::string& program) {
    Pipe out;
    Pipe err;
    Pipe in;
    bool ok = open_pipe(out) && open_pipe(err);  // this order: see SpawnPlan::prepare()
    if (ok && spec.stdin_data.empty()) {
        in.read = UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
        ok = in.read.get() >= 0;
    } else if (ok) {  // only our end is non-blocking: the child's read end must block
        ok = open_pipe(in) && ::fcntl(in.write.get(), F_SETFL, O_NONBLOCK) == 0;
    }
    if (!ok) {
        return failed("process.pipe", spec.argv[0], errno_text(errno));
    }
    std::vector<std::string> argv = spec.argv;
    std::vector<std::string> envv;
    for (const auto& [key, value] : spec.env) {
        envv.push_back(key + "=" + value);
    }
    auto argp = c_strings(argv);
    auto envp = c_strings(envv);
    SpawnPlan plan;
    Spawned child;
    int rc = plan.prepare(in.read.get(), out.write.get(), err.write.get(), spec.workdir);
    if (rc == 0) {
        rc = ::posix_spawn(
            &child.pid, program.c_str(), &plan.actions, &plan.attr, argp.data(), envp.data());
    }
    if (rc != 0) {
        return failed("process.spawn", spec.argv[0], errno_text(rc));
    }
    // <sys/pidfd.h> has no extern "C" guard on Debian 12, so go through syscall().
    child.pidfd = UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, child.pid, 0)));
    if (child.pidfd.get() < 0) {
        const int e = errno;
        ::kill(-child.pid, SIGKILL);
        ::waitpid(child.pid, nullptr, 0);
        return failed("process.pidfd", spec.argv[0], errno_text(e));
    }
    child.out = std::move(out.read);
    child.err = std::move(err.read);
    child.in = std::move(in.write);
    return child;
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
    struct Stream {
        Stream(const asio::any_io_executor& ex, std::size_t limit) : pipe(ex), capture(limit) {}
        Descriptor pipe;
        BoundedCapture capture;
        Sha256 sha;
    };

    Child(PosixProcessRunner* runner, std::string name, pid_t child_pid, std::size_t limit)
        : owner(runner),
          log(runner->logger_),
          argv0(std::move(name)),
          pid(child_pid),
          pidfd(runner->executor_),
          in(runner->executor_),
          out(runner->executor_, limit),
          err(runner->executor_, limit),
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

    [[nodiscard]] core::Result<void> attach(Spawned& s) {
        for (auto [descriptor, fd] : {std::pair{&pidfd, &s.pidfd},
                                      std::pair{&out.pipe, &s.out},
                                      std::pair{&err.pipe, &s.err},
                                      std::pair{&in, &s.in}}) {
            if (fd->get() < 0) {
                continue;
            }
            boost::system::error_code ec;
            descriptor->assign(fd->get(), ec);  // epoll registration can fail (max_user_watches)
            if (ec) {
                return failed("process.pipe", argv0, ec.message());
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
        // Asio's reactor is edge-triggered and async_wait never looks before waiting, so an exit
        // signalled before the wait began would be missed: check before every wait.
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
            for (Descriptor* pipe : {&out.pipe, &err.pipe, &in}) {
                pipe->cancel(ignored);
            }
        }
    }

    asio::awaitable<void> pump(Stream* s) {
        std::vector<char> buf(64 * 1024);
        while (!abandoned) {
            auto r = co_await s->pipe.async_read_some(asio::buffer(buf), kNothrow);
            const std::string_view data(buf.data(), std::get<1>(r));
            s->capture.append(data);
            s->sha.update(data);
            if (std::get<0>(r)) {
                break;  // EOF, or cancelled by supervise()
            }
        }
        close_pipe(s->pipe);
    }

    asio::awaitable<void> feed(std::string data) {
        if (!in.is_open()) {
            co_return;
        }
        std::string_view rest = data;
        while (!rest.empty() && !abandoned) {
            const ssize_t n = write_without_sigpipe(in.native_handle(), rest);
            if (n >= 0) {
                rest.remove_prefix(static_cast<std::size_t>(n));
            } else if (n == -EAGAIN) {
                auto r = co_await in.async_wait(Descriptor::wait_write, kNothrow);
                if (std::get<0>(r)) {
                    break;
                }
            } else if (n != -EINTR) {
                break;  // EPIPE: the child closed stdin without reading it all, its business
            }
        }
        close_pipe(in);
    }

    void close_pipe(Descriptor& pipe) {
        boost::system::error_code ignored;
        pipe.close(ignored);
        if (--open_pipes == 0) {
            drained.cancel();
        }
    }

    [[nodiscard]] core::Result<core::ProcessOutput> reap() {
        siginfo_t info{};
        int rc = 0;
        do {
            rc = ::waitid(P_PIDFD, static_cast<id_t>(pidfd.native_handle()), &info, WEXITED);
        } while (rc != 0 && errno == EINTR);
        reaped = true;  // even on failure: then somebody else reaped it (SIGCHLD set to SIG_IGN?)
        if (rc != 0) {
            return failed("process.wait", argv0, errno_text(errno));
        }
        core::ProcessOutput o;
        (info.si_code == CLD_EXITED ? o.exit_code : o.term_signal) = info.si_status;
        o.timed_out = timed_out;
        o.cancelled = cancelled;
        o.out = out.capture.kept();
        o.err = err.capture.kept();
        o.out_truncated = out.capture.truncated();
        o.err_truncated = err.capture.truncated();
        o.out_bytes = out.capture.total();
        o.err_bytes = err.capture.total();
        Sha256 digest;
        digest.update(out.sha.finish());
        digest.update(err.sha.finish());
        for (unsigned char c : digest.finish()) {
            o.digest += fmt::format("{:02x}", c);
        }
        return o;
    }

    PosixProcessRunner* owner;  // null once the runner is gone
    std::shared_ptr<spdlog::logger> log;
    std::string argv0;
    pid_t pid;
    Descriptor pidfd;
    Descriptor in;
    Stream out;
    Stream err;
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

asio::awaitable<core::Result<core::ProcessOutput>> PosixProcessRunner::run(core::ProcessSpec spec) {
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
    if (auto attached = child.attach(*spawned); !attached) {
        co_return attached.error();
    }
    logger_->debug("process.start argv0={} pid={}", spec.argv[0], child.pid);

    co_await (child.supervise(spec.timeout, spec.kill_grace) && child.pump(&child.out) &&
              child.pump(&child.err) && child.feed(std::move(spec.stdin_data)));

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

}  // namespace rollbot::actions
