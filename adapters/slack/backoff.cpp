#include "adapters/slack/backoff.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace rollbot::slack {
namespace {

using Rep = std::chrono::milliseconds::rep;

// min(cap, base * 2^n) without ever computing a product that could overflow.
Rep ceiling(Rep base, Rep cap, int n) {
    if (base <= 0 || cap <= 0) {
        return 0;
    }
    if (base >= cap) {
        return cap;
    }
    Rep value = base;
    for (int i = 0; i < n; ++i) {
        if (value > cap / 2) {
            return cap;
        }
        value *= 2;
    }
    return std::min(value, cap);
}

}  // namespace

Backoff::Backoff(std::chrono::milliseconds base,
                 std::chrono::milliseconds cap,
                 std::function<double()> random)
    : base_(base), cap_(cap), random_(std::move(random)) {}

std::chrono::milliseconds Backoff::next() {
    const Rep top = ceiling(base_.count(), cap_.count(), attempts_);
    if (attempts_ < std::numeric_limits<int>::max()) {
        ++attempts_;
    }
    // Without a random source there is no jitter: waiting the full ceiling is the safe side
    // (waiting 0 would turn every failure into an immediate reconnect storm).
    double r = random_ ? random_() : 1.0;
    if (!(r >= 0.0)) {  // also catches NaN
        r = 0.0;
    }
    const double wait = std::floor(r * static_cast<double>(top));
    // Compared as doubles first: converting a double at or above 2^63 back to Rep is undefined.
    if (!(wait < static_cast<double>(top))) {
        return std::chrono::milliseconds{top};
    }
    return std::chrono::milliseconds{static_cast<Rep>(wait)};
}

void Backoff::reset() {
    attempts_ = 0;
}

}  // namespace rollbot::slack
