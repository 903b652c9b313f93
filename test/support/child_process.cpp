#include "test/support/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace rollbot::test {
namespace {

void make_pipe(int fds[2]) {
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
    }
}

}  // namespace

ChildProcess::ChildProcess(std::vector<std::string> argv,
                           std::vector<std::pair<std::string, std::string>> extra_env) {
    int in[2];
    int out[2];
    int err[2];
    make_pipe(in);
    make_pipe(out);
    make_pipe(err);
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
        env_strings.emplace_back(*e);
    }
    for (auto& [k, v] : extra_env) {
        env_strings.push_back(k + "=" + v);
    }
    std::vector<char*> envp;
    for (auto& s : env_strings) {
        envp.push_back(s.data());
    }
    envp.push_back(nullptr);
    std::vector<char*> args;
    for (auto& a : argv) {
        args.push_back(a.data());
    }
    args.push_back(nullptr);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    const int rc = posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    in_ = in[1];
    stdout_ = out[0];
    stderr_ = err[0];
    if (rc != 0) {
        throw std::runtime_error("posix_spawn " + argv[0] + ": " + std::strerror(rc));
    }
    pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd_ < 0) {
        throw std::runtime_error(std::string("pidfd_open: ") + std::strerror(errno));
    }
}

ChildProcess::~ChildProcess() {
    if (!status_ && pid_ > 0) {
        ::kill(pid_, SIGKILL);
        int st = 0;
        ::waitpid(pid_, &st, 0);
    }
    for (int fd : {in_, stdout_, stderr_, pidfd_}) {
        if (fd >= 0) {
            ::close(fd);
        }
    }
}

void ChildProcess::write_stdin(std::string_view text) {
    while (!text.empty()) {
        const auto n = ::write(in_, text.data(), text.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            throw std::runtime_error(std::string("write to child stdin: ") + std::strerror(errno));
        }
        text.remove_prefix(static_cast<std::size_t>(n));
    }
}

void ChildProcess::close_stdin() {
    if (in_ >= 0) {
        ::close(in_);
        in_ = -1;
    }
}

void ChildProcess::send_signal(int signo) {
    if (!status_) {
        ::kill(pid_, signo);
    }
}

bool ChildProcess::pump(std::chrono::steady_clock::time_point deadline) {
    pollfd fds[3] = {{stdout_, POLLIN, 0}, {stderr_, POLLIN, 0}, {pidfd_, POLLIN, 0}};
    const bool pipes_open = stdout_ >= 0 || stderr_ >= 0;
    if (!pipes_open && status_) {
        return false;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    const int ms = static_cast<int>(std::max<long long>(0, left.count()));
    const int n = ::poll(fds, 3, ms);
    if (n <= 0) {
        return true;
    }
    auto drain = [](int& fd, std::string& sink) {
        char buf[8192];
        const auto r = ::read(fd, buf, sizeof buf);
        if (r > 0) {
            sink.append(buf, static_cast<std::size_t>(r));
        } else if (r == 0 || errno != EINTR) {
            ::close(fd);
            fd = -1;
        }
    };
    if (fds[0].revents != 0 && stdout_ >= 0) {
        drain(stdout_, out_);
    }
    if (fds[1].revents != 0 && stderr_ >= 0) {
        drain(stderr_, err_);
    }
    if (fds[2].revents != 0 && !status_ && stdout_ < 0 && stderr_ < 0) {
        int st = 0;
        if (::waitpid(pid_, &st, 0) == pid_) {
            status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
    }
    return true;
}

testing::AssertionResult ChildProcess::wait_for_stdout(std::string_view needle,
                                                       std::chrono::milliseconds timeout,
                                                       std::size_t from) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        if (out_.size() >= from && out_.find(needle, from) != std::string::npos) {
            return testing::AssertionSuccess();
        }
        if (std::chrono::steady_clock::now() >= deadline || !pump(deadline)) {
            break;
        }
        if (stdout_ < 0 && out_.find(needle, from) == std::string::npos && status_) {
            break;
        }
    }
    return testing::AssertionFailure()
           << "stdout did not show \"" << needle << "\" within " << timeout.count()
           << " ms\n--- stdout ---\n" << out_ << "\n--- stderr ---\n" << err_;
}

testing::AssertionResult ChildProcess::wait_for_stderr(std::string_view needle,
                                                       std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (err_.find(needle) == std::string::npos) {
        if (std::chrono::steady_clock::now() >= deadline || !pump(deadline)) {
            return testing::AssertionFailure()
                   << "stderr did not show \"" << needle << "\"\n--- stderr ---\n" << err_;
        }
    }
    return testing::AssertionSuccess();
}

std::optional<int> ChildProcess::wait_exit(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!status_ && std::chrono::steady_clock::now() < deadline) {
        if (!pump(deadline)) {
            break;
        }
    }
    return status_;
}

}  // namespace rollbot::test
