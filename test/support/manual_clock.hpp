#pragma once

#include "bot/ports/clock.hpp"

#include <chrono>
#include <set>

namespace rollbot::test {

/// A clock that moves only when the test moves it. Timers on it (core::Timer) never wait for
/// real time: advance() wakes them and those now due fire when the io_context runs next.
class ManualClock final : public core::Clock {
public:
    /// 2026-11-24T01:00:00Z on the wall clock unless given.
    explicit ManualClock(std::chrono::system_clock::time_point start = kDefaultStart);

    [[nodiscard]] std::chrono::system_clock::time_point now() const override { return wall_; }
    [[nodiscard]] std::chrono::steady_clock::time_point steady_now() const override {
        return steady_;
    }
    [[nodiscard]] bool manual() const override { return true; }
    void listen(core::ClockListener& listener) const override;
    void unlisten(core::ClockListener& listener) const override;

    /// Moves both clocks on by `by` and wakes every timer.
    void advance(std::chrono::milliseconds by);
    /// Timers that exist now (armed or not), for tests of the timers themselves.
    [[nodiscard]] std::size_t timers() const { return listeners_.size(); }

    static constexpr std::chrono::system_clock::time_point kDefaultStart{
        std::chrono::seconds(1'795'482'000)};

private:
    std::chrono::system_clock::time_point wall_;
    std::chrono::steady_clock::time_point steady_;
    mutable std::set<core::ClockListener*> listeners_;
};

}  // namespace rollbot::test
