#include "actions/posix_spawn.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <optional>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <system_error>
#include <unistd.h>
#include <vector>

namespace rollbot::actions {

std::string errno_text(int err) {
    return std::generic_category().message(err);
}

core::Error process_failed(std::string_view operation,
                           std::string_view subject,
                           std::string_view why) {
    return core::make_error(core::ErrorKind::ProcessFailed,
                            fmt::format("{}: {}: {}", operation, subject, why));
}

UniqueFd::~UniqueFd() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

namespace {

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
    SpawnPlan(SpawnPlan&&) = delete;
    SpawnPlan& operator=(SpawnPlan&&) = delete;

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
        const auto* const failed =
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
    pointers.reserve(strings.size() + 1);
    for (auto& s : strings) {
        pointers.push_back(s.data());
    }
    pointers.push_back(nullptr);
    return pointers;
}

}  // namespace

core::Result<std::string> resolve_program(const actions::ProcessSpec& spec) {
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
        return process_failed("process.spawn", "workdir " + spec.workdir, *why);
    }
    const std::string& name = spec.argv[0];
    if (name.find('/') != std::string::npos) {
        // The child chdirs before exec, so a relative path is relative to workdir.
        const bool relative = name[0] != '/' && !spec.workdir.empty();
        if (auto why = unusable(relative ? spec.workdir + "/" + name : name, S_IFREG)) {
            return process_failed("process.spawn", name, *why);
        }
        return name;
    }
    const auto in_env = std::find_if(
        spec.env.begin(), spec.env.end(), [](const auto& kv) { return kv.first == "PATH"; });
    // Read on the io thread only; nothing in the daemon calls setenv() after start-up.
    const char* daemon_path = std::getenv("PATH");  // NOLINT(concurrency-mt-unsafe)
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
            std::string candidate = fmt::format("{}/{}", dir, name);
            if (!unusable(candidate, S_IFREG)) {
                return candidate;
            }
            problem = ::access(candidate.c_str(), F_OK) == 0 ? "not executable" : problem;
        }
    }
    return process_failed("process.spawn", name, problem);
}

core::Result<Spawned> spawn(const actions::ProcessSpec& spec, const std::string& program) {
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
        return process_failed("process.pipe", spec.argv[0], errno_text(errno));
    }
    std::vector<std::string> argv = spec.argv;
    std::vector<std::string> envv;
    envv.reserve(spec.env.size());
    for (const auto& [key, value] : spec.env) {
        envv.push_back(fmt::format("{}={}", key, value));
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
        return process_failed("process.spawn", spec.argv[0], errno_text(rc));
    }
    // <sys/pidfd.h> has no extern "C" guard on Debian 12, so go through syscall().
    child.pidfd = UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, child.pid, 0)));
    if (child.pidfd.get() < 0) {
        const int e = errno;
        ::kill(-child.pid, SIGKILL);
        ::waitpid(child.pid, nullptr, 0);
        return process_failed("process.pidfd", spec.argv[0], errno_text(e));
    }
    child.out = std::move(out.read);
    child.err = std::move(err.read);
    child.in = std::move(in.write);
    return child;
}

}  // namespace rollbot::actions
