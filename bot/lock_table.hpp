#pragma once

#include "bot/ids.hpp"
#include "bot/settings.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rollbot::core {

/// Who holds a target (backend, frontend, db) and since when.
struct LockHolder {
    RequestId id;
    std::string what;  // describe(request)
    UserId user;
    std::chrono::system_clock::time_point since;
    bool operator==(const LockHolder&) const = default;
};

/// A target somebody else holds.
struct LockConflict {
    std::string target;
    LockHolder holder;
    bool operator==(const LockConflict&) const = default;
};

/// What a rollback of this kind must hold: full locks backend, frontend and db.
[[nodiscard]] std::vector<std::string> lock_targets(ActionKind kind);

/// One run at a time per target. Pure state; the orchestrator owns it on the io thread.
class LockTable {
public:
    /// Takes every target or none; on conflict says which target and who holds it.
    [[nodiscard]] std::optional<LockConflict> try_acquire(const std::vector<std::string>& targets,
                                                          const LockHolder& holder);
    /// Releases whatever `id` holds.
    void release(const RequestId& id);
    [[nodiscard]] const std::map<std::string, LockHolder>& held() const { return held_; }

private:
    std::map<std::string, LockHolder> held_;
};

}  // namespace rollbot::core
