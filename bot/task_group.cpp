#include "bot/task_group.hpp"

#include "bot/timer.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace rollbot::core {

namespace asio = boost::asio;

std::string describe_exception(const std::exception_ptr& error) {
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "unknown";
    }
}

TaskGroup::TaskGroup(asio::any_io_executor executor, std::shared_ptr<spdlog::logger> log)
    : executor_(std::move(executor)),
      log_(std::move(log)),
      idle_(executor_, asio::steady_timer::time_point::max()) {}

void TaskGroup::spawn(std::string name,
                      asio::awaitable<void> task,
                      Kind kind,
                      OnFailure on_failure) {
    if (kind == Kind::Counted) {
        ++active_;
    }
    asio::co_spawn(executor_,
                   std::move(task),
                   [this, name = std::move(name), kind, on_failure = std::move(on_failure)](
                       const std::exception_ptr& error) { done(name, kind, on_failure, error); });
}

void TaskGroup::done(const std::string& name,
                     Kind kind,
                     const OnFailure& on_failure,
                     const std::exception_ptr& error) {
    if (error) {
        const std::string what = describe_exception(error);
        log_->error("task.failed name={} error={}", name, what);
        if (on_failure) {
            on_failure(what);
        }
    }
    if (kind == Kind::Counted && --active_ == 0) {
        idle_.cancel();
    }
}

asio::awaitable<void> TaskGroup::wait_idle() {
    while (active_ > 0) {
        co_await idle_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

asio::awaitable<bool> TaskGroup::idle_within(std::chrono::milliseconds within, const Clock& clock) {
    using namespace asio::experimental::awaitable_operators;
    Timer deadline(executor_, clock);
    deadline.expires_after(within);
    while (active_ > 0 && clock.steady_now() < deadline.expiry()) {
        co_await (idle_.async_wait(asio::as_tuple(asio::use_awaitable)) || deadline.wait());
    }
    co_return active_ == 0;
}

}  // namespace rollbot::core
