#pragma once

#include <chrono>

namespace rollbot::core {

/// Told when a clock that is moved by hand (tests) has moved; see Clock::listen.
class ClockListener {
public:
    virtual void clock_moved() = 0;

protected:
    ~ClockListener() = default;
};

/// Time as the domain sees it; tests inject a clock they move by hand (test/support).
class Clock {
public:
    virtual ~Clock() = default;
    /// Wall-clock time, for messages and the audit trail.
    [[nodiscard]] virtual std::chrono::system_clock::time_point now() const = 0;
    /// Monotonic time, for durations and deadlines.
    [[nodiscard]] virtual std::chrono::steady_clock::time_point steady_now() const = 0;
    /// True when time moves only when moved (tests): timers then never wait for real time and
    /// are woken through listen() instead.
    [[nodiscard]] virtual bool manual() const { return false; }
    /// Timers (bot/timer.hpp) register while they exist; a manual clock calls clock_moved() on
    /// each when it moves. The system clock needs neither.
    virtual void listen(ClockListener& /*listener*/) const {}
    virtual void unlisten(ClockListener& /*listener*/) const {}
};

class SystemClock final : public Clock {
public:
    [[nodiscard]] std::chrono::system_clock::time_point now() const override {
        return std::chrono::system_clock::now();
    }
    [[nodiscard]] std::chrono::steady_clock::time_point steady_now() const override {
        return std::chrono::steady_clock::now();
    }
};

}  // namespace rollbot::core
