#pragma once

#include "bot/ports/clock.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/logger.h>

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace rollbot::core {

/// The text of a failed task's exception: what(), or "unknown" for a non-std exception.
[[nodiscard]] std::string describe_exception(const std::exception_ptr& error);

/// Every coroutine rollbot starts goes through one of these (never `co_spawn(…, detached)`):
/// each task has a name, and a completion handler that logs the exception's what() when it
/// fails (`task.failed name=… error=…`). Counted tasks (commands, reactions) are what
/// active(), wait_idle() and idle_within() see; background tasks (timers, loops) are not.
/// Lives on the io thread and must outlive its tasks.
class TaskGroup {
public:
    enum class Kind { Counted, Background };
    /// Called after the failure is logged, with the exception's text.
    using OnFailure = std::function<void(std::string_view what)>;

    TaskGroup(boost::asio::any_io_executor executor, std::shared_ptr<spdlog::logger> log);

    void spawn(std::string name,
               boost::asio::awaitable<void> task,
               Kind kind = Kind::Counted,
               OnFailure on_failure = {});

    /// Counted tasks running now.
    [[nodiscard]] int active() const { return active_; }
    /// Completes once no counted task runs.
    boost::asio::awaitable<void> wait_idle();
    /// Like wait_idle(), for at most `within` on `clock`; true when idle.
    boost::asio::awaitable<bool> idle_within(std::chrono::milliseconds within, const Clock& clock);

    [[nodiscard]] const boost::asio::any_io_executor& executor() const { return executor_; }

private:
    void done(const std::string& name,
              Kind kind,
              const OnFailure& on_failure,
              const std::exception_ptr& error);

    boost::asio::any_io_executor executor_;
    std::shared_ptr<spdlog::logger> log_;
    int active_ = 0;
    // Never expires: cancelled when the last counted task ends, which wakes every waiter at once
    // (waiters only wait on it; re-arming it would cancel the other waiters).
    boost::asio::steady_timer idle_;
};

}  // namespace rollbot::core
