#pragma once

#include "bot/chat.hpp"
#include "bot/command.hpp"
#include "bot/settings.hpp"

#include <string>
#include <vector>

namespace rollbot::core {

enum class AccessVerdict { Allowed, WrongChannel, Bot, NotOperator };

struct AccessDecision {
    AccessVerdict verdict = AccessVerdict::Allowed;
    std::string reason;  // why not, for the ephemeral refusal
    bool operator==(const AccessDecision&) const = default;
};

/// Rollbacks and cancel change things; the rest only read (design §4).
[[nodiscard]] bool needs_operator(CommandKind kind);

/// Who may run what, where. Pure: `user_groups` are the operator usergroups the user is in,
/// resolved by the caller just before the decision.
[[nodiscard]] AccessDecision decide_access(const Settings& settings,
                                           const ChannelId& channel,
                                           const UserInfo& user,
                                           CommandKind kind,
                                           const std::vector<UsergroupId>& user_groups);

}  // namespace rollbot::core
