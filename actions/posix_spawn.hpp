#pragma once

#include "actions/process.hpp"
#include "bot/result.hpp"

#include <string>
#include <string_view>
#include <sys/types.h>
#include <utility>

namespace rollbot::actions {

/// strerror() for `err`, thread-safe.
[[nodiscard]] std::string errno_text(int err);

/// A ProcessFailed error reading "process.spawn: kubectl: not found in PATH".
[[nodiscard]] core::Error process_failed(std::string_view operation,
                                         std::string_view subject,
                                         std::string_view why);

/// Owns a file descriptor (-1: none) and closes it.
class UniqueFd {
public:
    explicit UniqueFd(int fd = -1) : fd_(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        std::swap(fd_, other.fd_);
        return *this;
    }
    ~UniqueFd();
    [[nodiscard]] int get() const { return fd_; }
    int release() { return std::exchange(fd_, -1); }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;

private:
    int fd_;
};

/// The path to give posix_spawn for spec.argv[0] (see PosixProcessRunner for the lookup rules),
/// or Invalid (malformed argv/env) or ProcessFailed (unusable workdir or program, not found).
[[nodiscard]] core::Result<std::string> resolve_program(const actions::ProcessSpec& spec);

/// A started child and our ends of its pipes. The child's ends are closed once spawn() returns,
/// so EOF on out/err depends on the child (and whatever it shares them with) alone.
struct Spawned {
    pid_t pid = -1;
    UniqueFd pidfd;
    UniqueFd out;
    UniqueFd err;
    UniqueFd in;  // not open when stdin is /dev/null; non-blocking
};

/// Starts `program` with spec's argv, env and workdir, stdin a pipe (/dev/null if no stdin_data),
/// in a new process group with default signals, an empty mask and only fds 0-2. On failure,
/// ProcessFailed and nothing left running.
[[nodiscard]] core::Result<Spawned> spawn(const actions::ProcessSpec& spec,
                                          const std::string& program);

}  // namespace rollbot::actions
