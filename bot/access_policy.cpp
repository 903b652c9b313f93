#include "bot/access_policy.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace rollbot::core {

bool needs_operator(CommandKind kind) {
    return kind == CommandKind::Rollback || kind == CommandKind::Cancel;
}

AccessDecision decide_access(const Settings& settings,
                             const ChannelId& channel,
                             const UserInfo& user,
                             CommandKind kind,
                             const std::vector<UsergroupId>& user_groups) {
    if (channel != settings.slack.incidents_channel) {
        return {AccessVerdict::WrongChannel, "rollbot takes commands only in"};
    }
    if (user.is_bot || user.deleted) {
        return {AccessVerdict::Bot,
                user.is_bot ? "commands from bots are ignored" : "this user is deactivated"};
    }
    const Principals& ops = settings.access.operators;
    if (!needs_operator(kind) || ops.empty()) {
        return {};
    }
    const bool listed = std::find(ops.users.begin(), ops.users.end(), user.id) != ops.users.end();
    const bool in_group = std::any_of(user_groups.begin(), user_groups.end(), [&](const auto& g) {
        return std::find(ops.usergroups.begin(), ops.usergroups.end(), g) != ops.usergroups.end();
    });
    if (listed || in_group) {
        return {};
    }
    return {AccessVerdict::NotOperator,
            fmt::format("only rollbot operators may run a {}; you are not in access.operators",
                        kind == CommandKind::Cancel ? "cancel" : "rollback")};
}

}  // namespace rollbot::core
