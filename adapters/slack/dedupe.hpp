#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <string>
#include <unordered_set>

namespace rollbot::slack {

/// Remembers keys (event_id, envelope_id) for a window, so an at-least-once delivery is acted
/// on once. Memory stays bounded: keys older than the window are forgotten, and at most
/// `max_keys` are kept (the oldest go first).
class DedupeWindow {
public:
    using Clock = std::chrono::steady_clock;

    explicit DedupeWindow(std::chrono::milliseconds window = std::chrono::minutes(10),
                          std::size_t max_keys = 100000);

    /// True the first time `key` is seen within the window (and remembers it); false for a
    /// repeat. Empty keys are always "first" and never remembered.
    [[nodiscard]] bool first_time(const std::string& key, Clock::time_point now);
    [[nodiscard]] std::size_t size() const { return keys_.size(); }

private:
    void expire(Clock::time_point now);

    std::chrono::milliseconds window_;
    std::size_t max_keys_;
    std::unordered_set<std::string> keys_;
    std::deque<std::pair<Clock::time_point, std::string>> order_;
};

}  // namespace rollbot::slack
