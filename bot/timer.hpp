#pragma once

#include "bot/ports/clock.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>

namespace rollbot::core {

/// A one-shot timer on the domain's Clock, for coroutines on the io thread: with the system
/// clock it is an asio steady_timer; with a clock moved by hand (tests) it fires when the clock
/// is moved past its deadline, so tests of minutes-long waits run in microseconds.
class Timer final : private ClockListener {
public:
    Timer(const boost::asio::any_io_executor& executor, const Clock& clock);
    ~Timer();
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;
    Timer(Timer&&) = delete;
    Timer& operator=(Timer&&) = delete;

    /// Sets the deadline (on the clock's steady time) for the waits that follow.
    void expires_at(std::chrono::steady_clock::time_point deadline);
    void expires_after(std::chrono::milliseconds delay);
    [[nodiscard]] std::chrono::steady_clock::time_point expiry() const { return deadline_; }

    /// True once the deadline has passed; false when cancel() was called first, or when the
    /// awaiting coroutine was cancelled (the loser of an `a || b`).
    boost::asio::awaitable<bool> wait();
    /// Ends every pending wait() with false; a later wait() waits again.
    void cancel();

private:
    void clock_moved() override;

    boost::asio::steady_timer timer_;
    const Clock& clock_;
    std::chrono::steady_clock::time_point deadline_;
    std::uint64_t generation_ = 0;  // cancel() moves it on: waits begun before it end
};

}  // namespace rollbot::core
