#include "test/support/child_process.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdexcept>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace rollbot::test {
namespace {

void make_pipe(int fds[2]) {
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
    }
}

// Reads what is there; closes the fd at end of file. False when the fd is closed.
bool drain_fd(int& fd, std::string& sink, std::mutex& m) {
    char buf[16384];
    const auto r = ::read(fd, buf, sizeof buf);
    if (r > 0) {
        std::lock_guard lock(m);
        sink.append(buf, static_cast<std::size_t>(r));
        return true;
    }
    if (r < 0 && errno == EINTR) {
        return true;
    }
    ::close(fd);
    fd = -1;
    return false;
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
    make_pipe(stop_);
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
    drainer_ = std::thread([this] { drain(); });
}

ChildProcess::~ChildProcess() {
    bool running = false;
    {
        std::lock_guard lock(mutex_);
        running = !status_.has_value();
    }
    if (running && pid_ > 0) {
        ::kill(pid_, SIGKILL);
    }
    if (stop_[1] >= 0) {
        (void)::write(stop_[1], "x", 1);
    }
    if (drainer_.joinable()) {
        drainer_.join();
    }
    for (int fd : {in_, stdout_, stderr_, pidfd_, stop_[0], stop_[1]}) {
        if (fd >= 0) {
            ::close(fd);
        }
    }
}

// Drains stdout and stderr until both end, then reaps the child (its pidfd turns readable).
void ChildProcess::drain() {
    bool exited = false;
    while (!exited) {
        pollfd fds[4] = {{stdout_, POLLIN, 0},
                         {stderr_, POLLIN, 0},
                         {stdout_ < 0 && stderr_ < 0 ? pidfd_ : -1, POLLIN, 0},
                         {stop_[0], POLLIN, 0}};
        if (::poll(fds, 4, -1) < 0 && errno != EINTR) {
            return;
        }
        if (fds[3].revents != 0) {
            return;  // destructor: the child was killed, nobody waits any more
        }
        if (fds[0].revents != 0 && stdout_ >= 0) {
            drain_fd(stdout_, out_, mutex_);
        }
        if (fds[1].revents != 0 && stderr_ >= 0) {
            drain_fd(stderr_, err_, mutex_);
        }
        if (fds[2].revents != 0) {
            int st = 0;
            if (::waitpid(pid_, &st, 0) == pid_) {
                std::lock_guard lock(mutex_);
                status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                exited = true;
            }
        }
        changed_.notify_all();
    }
    changed_.notify_all();
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
    std::lock_guard lock(mutex_);
    if (!status_) {
        ::kill(pid_, signo);
    }
}

testing::AssertionResult ChildProcess::wait_for_stdout(std::string_view needle,
                                                       std::chrono::milliseconds timeout,
                                                       std::size_t from) {
    std::unique_lock lock(mutex_);
    const bool found = changed_.wait_for(lock, timeout, [&] {
        return (out_.size() >= from && out_.find(needle, from) != std::string::npos) ||
               status_.has_value();
    });
    if (found && out_.size() >= from && out_.find(needle, from) != std::string::npos) {
        return testing::AssertionSuccess();
    }
    return testing::AssertionFailure()
           << "stdout did not show \"" << needle << "\" within " << timeout.count() << " ms"
           << (status_ ? " (the process exited)" : "") << "\n--- stdout ---\n"
           << out_ << "\n--- stderr ---\n"
           << err_;
}

testing::AssertionResult ChildProcess::wait_for_stderr(std::string_view needle,
                                                       std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, timeout, [&] {
        return err_.find(needle) != std::string::npos || status_.has_value();
    });
    if (err_.find(needle) != std::string::npos) {
        return testing::AssertionSuccess();
    }
    return testing::AssertionFailure() << "stderr did not show \"" << needle << "\" within "
                                       << timeout.count() << " ms\n--- stderr ---\n"
                                       << err_;
}

std::optional<int> ChildProcess::wait_exit(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, timeout, [&] { return status_.has_value(); });
    return status_;
}

std::string ChildProcess::out() const {
    std::lock_guard lock(mutex_);
    return out_;
}

std::string ChildProcess::err() const {
    std::lock_guard lock(mutex_);
    return err_;
}

}  // namespace rollbot::test
