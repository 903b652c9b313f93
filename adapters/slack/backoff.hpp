#pragma once

#include <chrono>
#include <functional>

namespace rollbot::slack {

/// Exponential backoff with full jitter: attempt n waits uniform(0, min(cap, base * 2^n)).
/// A pure value: the random source is injected, so tests are deterministic.
class Backoff {
public:
    /// `random` returns a value in [0, 1).
    Backoff(std::chrono::milliseconds base,
            std::chrono::milliseconds cap,
            std::function<double()> random);

    /// The wait before the next attempt; each call doubles the ceiling up to `cap`.
    [[nodiscard]] std::chrono::milliseconds next();
    /// After a success (for Socket Mode: after `hello`) start again from `base`.
    void reset();
    /// Attempts since the last reset.
    [[nodiscard]] int attempts() const { return attempts_; }

private:
    std::chrono::milliseconds base_;
    std::chrono::milliseconds cap_;
    std::function<double()> random_;
    int attempts_ = 0;
};

}  // namespace rollbot::slack
