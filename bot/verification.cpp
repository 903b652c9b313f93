#include "bot/verification.hpp"

#include <algorithm>

namespace rollbot::core {
namespace {

template <class Predicate>
bool any_pod(const std::vector<PodState>& pods, Predicate predicate) {
    return std::any_of(pods.begin(), pods.end(), predicate);
}

}  // namespace

bool PodsCheck::crash_looping() const {
    // The first crash shows as a restart; CrashLoopBackOff only from the second on (ref. §7).
    return any_pod(pods, pod_crash_looping);
}

bool PodsCheck::oom_killed() const {
    return any_pod(pods, pod_oom_killed);
}

bool PodsCheck::image_pull_failing() const {
    return any_pod(pods, pod_image_pull_failing);
}

int PodsCheck::ready() const {
    return static_cast<int>(
        std::count_if(pods.begin(), pods.end(), [](const PodState& pod) { return pod.ready; }));
}

int PodsCheck::restarts() const {
    int n = 0;
    for (const auto& pod : pods) {
        n += pod.restarts;
    }
    return n;
}

bool PodsCheck::healthy() const {
    return error.empty() && !pods.empty() && ready() == static_cast<int>(pods.size()) &&
           !crash_looping() && !oom_killed() && !image_pull_failing();
}

}  // namespace rollbot::core
