#include "bot/approver_rules.hpp"

#include <algorithm>

namespace rollbot::core {
namespace {

bool contains(const std::vector<UsergroupId>& groups, const UsergroupId& group) {
    return std::find(groups.begin(), groups.end(), group) != groups.end();
}

/// A required group listed twice still needs one person, not two.
std::vector<UsergroupId> distinct(std::vector<UsergroupId> groups) {
    std::vector<UsergroupId> out;
    for (auto& group : groups) {
        if (!contains(out, group)) {
            out.push_back(std::move(group));
        }
    }
    return out;
}

/// Kuhn's augmenting path: tries to give `group` an approver, moving earlier assignments along.
bool augment(std::size_t group,
             const std::vector<std::vector<std::size_t>>& candidates,
             std::vector<bool>& visited,
             std::vector<int>& group_of_approver) {
    for (const std::size_t approver : candidates[group]) {
        if (visited[approver]) {
            continue;
        }
        visited[approver] = true;
        const int holder = group_of_approver[approver];
        if (holder < 0 ||
            augment(static_cast<std::size_t>(holder), candidates, visited, group_of_approver)) {
            group_of_approver[approver] = static_cast<int>(group);
            return true;
        }
    }
    return false;
}

}  // namespace

int required_count(const ApprovalPolicy& policy) {
    return std::max(policy.required, 1);
}

std::vector<UsergroupId> unmatched_groups(const ApprovalSnapshot& s, const ApprovalPolicy& policy) {
    const auto groups = distinct(policy.required_groups);
    std::vector<std::vector<std::size_t>> candidates(groups.size());
    std::size_t n_approvers = 0;
    for (const auto& [user, reactions] : s.approvals) {
        const auto it = s.approver_groups.find(user);
        for (std::size_t g = 0; g < groups.size(); ++g) {
            if (it != s.approver_groups.end() && contains(it->second, groups[g])) {
                candidates[g].push_back(n_approvers);
            }
        }
        ++n_approvers;
    }
    std::vector<int> group_of_approver(n_approvers, -1);
    std::vector<UsergroupId> missing;
    for (std::size_t g = 0; g < groups.size(); ++g) {
        std::vector<bool> visited(n_approvers, false);
        if (!augment(g, candidates, visited, group_of_approver)) {
            missing.push_back(groups[g]);
        }
    }
    return missing;
}

bool qualifies(const ApprovalPolicy& policy,
               const UserId& user,
               const std::vector<UsergroupId>& groups) {
    if (std::find(policy.approvers.users.begin(), policy.approvers.users.end(), user) !=
        policy.approvers.users.end()) {
        return true;
    }
    return std::any_of(groups.begin(), groups.end(), [&](const UsergroupId& group) {
        return contains(policy.approvers.usergroups, group) ||
               contains(policy.required_groups, group);
    });
}

}  // namespace rollbot::core
