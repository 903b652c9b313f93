#include "bot/timer.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace rollbot::core {

namespace asio = boost::asio;
using SteadyTime = std::chrono::steady_clock::time_point;

Timer::Timer(const asio::any_io_executor& executor, const Clock& clock)
    : timer_(executor), clock_(clock), deadline_(clock.steady_now()) {
    clock_.listen(*this);
}

Timer::~Timer() {
    clock_.unlisten(*this);
}

void Timer::expires_at(SteadyTime deadline) {
    deadline_ = deadline;
    timer_.cancel();  // pending waits look at the new deadline
}

void Timer::expires_after(std::chrono::milliseconds delay) {
    expires_at(clock_.steady_now() + delay);
}

void Timer::cancel() {
    ++generation_;
    timer_.cancel();
}

void Timer::clock_moved() {
    timer_.cancel();  // pending waits look at the clock again
}

asio::awaitable<bool> Timer::wait() {
    const std::uint64_t generation = generation_;
    for (;;) {
        if (generation != generation_) {
            co_return false;
        }
        if (clock_.steady_now() >= deadline_) {
            co_return true;
        }
        // A manual clock wakes us through clock_moved(); real time must not.
        const SteadyTime wake = clock_.manual() ? SteadyTime::max() : deadline_;
        // Only when it differs: re-arming cancels the other waits, which would re-arm in turn.
        if (timer_.expiry() != wake) {
            timer_.expires_at(wake);
        }
        (void)co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
        const auto state = co_await asio::this_coro::cancellation_state;
        if (state.cancelled() != asio::cancellation_type::none) {
            co_return false;
        }
    }
}

}  // namespace rollbot::core
