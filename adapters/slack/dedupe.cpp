#include "adapters/slack/dedupe.hpp"

#include <utility>

namespace rollbot::slack {

DedupeWindow::DedupeWindow(std::chrono::milliseconds window, std::size_t max_keys)
    : window_(window), max_keys_(max_keys) {}

bool DedupeWindow::first_time(const std::string& key, Clock::time_point now) {
    if (key.empty()) {
        return true;
    }
    // Keep `order_` sorted even if a caller's `now` goes backwards, so expiry stays a pop_front.
    if (!order_.empty() && now < order_.back().first) {
        now = order_.back().first;
    }
    expire(now);
    if (keys_.contains(key)) {
        return false;
    }
    if (max_keys_ == 0) {
        return true;
    }
    while (keys_.size() >= max_keys_ && !order_.empty()) {
        keys_.erase(order_.front().second);
        order_.pop_front();
    }
    keys_.insert(key);
    order_.emplace_back(now, key);
    return true;
}

void DedupeWindow::expire(Clock::time_point now) {
    while (!order_.empty() && now - order_.front().first >= window_) {
        keys_.erase(order_.front().second);
        order_.pop_front();
    }
}

}  // namespace rollbot::slack
