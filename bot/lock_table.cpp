#include "bot/lock_table.hpp"

namespace rollbot::core {

std::vector<std::string> lock_targets(ActionKind kind) {
    switch (kind) {
        case ActionKind::Backend:
            return {"backend"};
        case ActionKind::Frontend:
            return {"frontend"};
        case ActionKind::Db:
            return {"db"};
        case ActionKind::Full:
        case ActionKind::Sha:
            return {"backend", "frontend", "db"};
    }
    return {};
}

std::optional<LockConflict> LockTable::try_acquire(const std::vector<std::string>& targets,
                                                   const LockHolder& holder) {
    for (const auto& t : targets) {
        auto it = held_.find(t);
        if (it != held_.end()) {
            return LockConflict{t, it->second};
        }
    }
    for (const auto& t : targets) {
        held_.emplace(t, holder);
    }
    return std::nullopt;
}

void LockTable::release(const RequestId& id) {
    std::erase_if(held_, [&](const auto& entry) { return entry.second.id == id; });
}

}  // namespace rollbot::core
