#include "bot/flow/targets.hpp"

namespace rollbot::core {

std::optional<std::string> take_targets(LockTable& locks,
                                        const RollbackRequest& request,
                                        const LockHolder& holder,
                                        const Reporter& reporter,
                                        std::chrono::system_clock::time_point now) {
    auto busy = locks.try_acquire(lock_targets(request.action), holder);
    if (!busy) {
        return std::nullopt;
    }
    const auto& by = busy->holder;
    const auto age = std::chrono::duration_cast<Duration>(now - by.since);
    return reporter.busy(busy->target, by.id, by.what, by.user, age);
}

}  // namespace rollbot::core
