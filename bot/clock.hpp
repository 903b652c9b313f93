#pragma once

#include <chrono>

namespace rollbot::core {

/// Time as the domain sees it; tests inject a ManualClock.
class Clock {
public:
    virtual ~Clock() = default;
    /// Wall-clock time, for messages and the audit trail.
    [[nodiscard]] virtual std::chrono::system_clock::time_point now() const = 0;
    /// Monotonic time, for durations and deadlines.
    [[nodiscard]] virtual std::chrono::steady_clock::time_point steady_now() const = 0;
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
