#pragma once

namespace rollbot::core {

/// Whether this replica may act now (design §7). A sole replica always may. In the replicated
/// mode only the leader may, and only until its trust in its lease ends (bot/store/pg_lease):
/// the flow asks before it starts a step, posts a message or takes a command or a reaction, so
/// a leader that wakes up after being frozen past its lease does nothing at all.
class Leadership {
public:
    virtual ~Leadership() = default;
    [[nodiscard]] virtual bool may_act() const = 0;
};

/// One replica (SQLite): always the one that acts.
class SoleReplica final : public Leadership {
public:
    [[nodiscard]] bool may_act() const override { return true; }
};

}  // namespace rollbot::core
