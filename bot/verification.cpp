#include "bot/verification.hpp"

#include <algorithm>
#include <string_view>

namespace rollbot::core {
namespace {

template <class Predicate>
bool any_pod(const std::vector<PodState>& pods, Predicate predicate) {
    return std::any_of(pods.begin(), pods.end(), predicate);
}

}  // namespace

bool PodsCheck::crash_looping() const {
    // The first crash shows as a restart; CrashLoopBackOff only from the second on (ref. §7).
    return any_pod(pods, [](const PodState& pod) {
        return pod.waiting_reason == "CrashLoopBackOff" || pod.restarts > 0;
    });
}

bool PodsCheck::oom_killed() const {
    return any_pod(pods,
                   [](const PodState& pod) { return pod.last_terminated_reason == "OOMKilled"; });
}

bool PodsCheck::image_pull_failing() const {
    return any_pod(pods, [](const PodState& pod) {
        const std::string_view reason = pod.waiting_reason;
        return reason == "ImagePullBackOff" || reason == "ErrImagePull" ||
               reason == "InvalidImageName";
    });
}

int PodsCheck::ready() const {
    return static_cast<int>(
        std::count_if(pods.begin(), pods.end(), [](const PodState& pod) { return pod.ready; }));
}

}  // namespace rollbot::core
