#pragma once

#include "bot/verification.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rollbot::actions {

/// Pure: reads `kubectl get pods -n NS -l <selector> -o json` (a List; reference §2), keeping the
/// pods whose `pod-template-hash` label equals `replicaset_hash` (all of them when it is empty).
/// Init containers count too. Missing fields read as absent; bad JSON sets `error`. Never throws.
[[nodiscard]] core::PodsCheck parse_pods(std::string_view deployment,
                                         std::string_view pods_json,
                                         std::string_view replicaset_hash);

/// Pure: the Warning events of `kubectl get events -n NS -o json` about objects whose name
/// starts with `name_prefix`, as "Reason: message (xN)" (no "(x1)"), identical lines merged,
/// newest first, at most 10. Bad JSON → none.
[[nodiscard]] std::vector<std::string> parse_warning_events(std::string_view events_json,
                                                            std::string_view name_prefix);

/// Pure: from `kubectl get replicasets -n NS -o json`, the `pod-template-hash` of the ReplicaSet
/// owned by `deployment` whose `deployment.kubernetes.io/revision` is `revision`; "" if none.
[[nodiscard]] std::string current_replicaset_hash(std::string_view replicasets_json,
                                                  std::string_view deployment,
                                                  std::int64_t revision);

}  // namespace rollbot::actions
