#pragma once

#include "bot/plan.hpp"
#include "bot/result.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace rollbot::actions {

/// Reads `kubectl rollout history deployment/<d> -o json`: one ReplicaSet document per
/// revision, concatenated (not a List, reference §1.3). The image is the named container's.
[[nodiscard]] core::Result<std::vector<core::RevisionInfo>> parse_rollout_history(
    std::string_view documents, std::string_view container);

/// The revisions whose image tag matches `sha` (either is a prefix of the other, at least 7
/// characters), other than `current`; newest first.
[[nodiscard]] std::vector<core::RevisionInfo> revisions_with_sha(
    const std::vector<core::RevisionInfo>& history, std::string_view sha, std::int64_t current);

}  // namespace rollbot::actions
