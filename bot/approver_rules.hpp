#pragma once

#include "bot/approval.hpp"
#include "bot/ids.hpp"
#include "bot/settings.hpp"

#include <vector>

// Who counts under an approval policy: the pure rules behind bot/approval.cpp's machine.
namespace rollbot::core {

/// `required`, with one approver as the floor (zero or negative would approve with nobody).
[[nodiscard]] int required_count(const ApprovalPolicy& policy);

/// The required groups left without a distinct counted member (a maximum matching of counted
/// approvers to `required_groups`, so one person never covers two groups).
[[nodiscard]] std::vector<UsergroupId> unmatched_groups(const ApprovalSnapshot& s,
                                                        const ApprovalPolicy& policy);

/// A listed user, or a member of a listed usergroup (approvers or required groups).
[[nodiscard]] bool qualifies(const ApprovalPolicy& policy,
                             const UserId& user,
                             const std::vector<UsergroupId>& groups);

}  // namespace rollbot::core
