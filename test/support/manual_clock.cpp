#include "test/support/manual_clock.hpp"

#include <vector>

namespace rollbot::test {

ManualClock::ManualClock(std::chrono::system_clock::time_point start)
    : wall_(start), steady_(std::chrono::steady_clock::time_point{} + std::chrono::hours(1000)) {}

void ManualClock::listen(core::ClockListener& listener) const {
    listeners_.insert(&listener);
}

void ManualClock::unlisten(core::ClockListener& listener) const {
    listeners_.erase(&listener);
}

void ManualClock::advance(std::chrono::milliseconds by) {
    wall_ += by;
    steady_ += by;
    // A copy: a woken timer may be destroyed (or another made) before the loop ends.
    const std::vector<core::ClockListener*> woken(listeners_.begin(), listeners_.end());
    for (auto* listener : woken) {
        if (listeners_.contains(listener)) {
            listener->clock_moved();
        }
    }
}

}  // namespace rollbot::test
