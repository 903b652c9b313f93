#pragma once

#include "bot/command.hpp"
#include "bot/plan.hpp"
#include "bot/result.hpp"
#include "bot/settings.hpp"

#include <string>
#include <string_view>

namespace rollbot::actions {

/// Turns a request into the runbook's commands (argv lists with timeouts and phases). Pure.
/// kubectl changes get `--dry-run=server` in a dry run, the script gets `DRY_RUN=true`, and
/// nothing that waits for a rollout runs in a dry run (nothing rolls out).
[[nodiscard]] core::Result<core::Plan> plan_rollback(const core::Settings& settings,
                                                     const core::RollbackRequest& request,
                                                     const core::ClusterSnapshot& before);

/// `kubectl get deployment <d> -n <ns> -o json`: how rollbot reads the current image.
[[nodiscard]] core::Step observe_step(const core::Settings& settings, std::string_view name);

/// `kubectl rollout history deployment/<d> -n <ns> -o json`: every revision's ReplicaSet.
[[nodiscard]] core::Step history_step(const core::Settings& settings, std::string_view name);

/// `kubectl get replicasets -n <ns> -o json`: to find the current ReplicaSet's pod-template-hash.
[[nodiscard]] core::Step replicasets_step(const core::Settings& settings, std::string_view name);

/// `kubectl get pods -n <ns> -l pod-template-hash=<hash> -o json`: one ReplicaSet's pods.
[[nodiscard]] core::Step pods_step(const core::Settings& settings,
                                   std::string_view name,
                                   std::string_view pod_template_hash);

/// `kubectl get events -n <ns> --field-selector type=Warning,involvedObject.kind=Pod -o json`.
[[nodiscard]] core::Step warning_events_step(const core::Settings& settings, std::string_view name);

/// `kubectl exec … -- alembic current`: the database's revision.
[[nodiscard]] core::Step alembic_current_step(const core::Settings& settings);

/// `kubectl exec … -- alembic downgrade <from>:<target> --sql`: the SQL a downgrade would run,
/// rendered offline (no database change).
[[nodiscard]] core::Step alembic_preview_step(const core::Settings& settings,
                                              const std::string& from,
                                              const std::string& target);

}  // namespace rollbot::actions
