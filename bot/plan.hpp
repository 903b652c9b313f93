#pragma once

#include "bot/command.hpp"
#include "bot/settings.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace rollbot::core {

/// The runbook phase a step belongs to; phase ends are what the time-to-rollback table measures.
enum class Phase {
    Observe,    // reads before and after the change
    Migration,  // alembic current / downgrade
    Script,     // scripts/rollback.sh, kubectl rollout undo, kubectl set image
    Rollout,    // kubectl rollout status: pods healthy
};

[[nodiscard]] std::string_view to_string(Phase phase);

/// Whether a step changes the cluster; only changing steps make a run a rollback.
enum class StepEffect { Read, Change, Wait };

/// How to interpret a step's output (kubectl subcommands have their own quirks).
enum class StepKind {
    Generic,
    KubectlUndo,
    KubectlSetImage,
    KubectlRolloutStatus,
    RollbackScript,
    AlembicCurrent,
    AlembicDowngrade,
    AlembicPreview,  // downgrade --sql: offline, changes nothing
};

/// One command of the runbook: an argv list, never a shell string.
struct Step {
    std::vector<std::string> argv;
    std::vector<std::pair<std::string, std::string>> env;  // added to the base environment
    std::string workdir;                                   // empty: the daemon's
    Duration timeout{};
    Phase phase = Phase::Script;
    StepEffect effect = StepEffect::Read;
    StepKind kind = StepKind::Generic;
    std::string deployment;  // the deployment it acts on, if any

    bool operator==(const Step&) const = default;
};

/// The command as a person would type it (shell-quoted), for messages and the audit log.
[[nodiscard]] std::string display_command(const Step& step);

/// One revision of a deployment (`kubectl rollout history … -o json`: its ReplicaSet).
struct RevisionInfo {
    std::int64_t revision = 0;
    std::string image;         // of the configured container
    std::string tag;           // the image's tag (the SHA)
    std::string created;       // RFC 3339, as Kubernetes wrote it
    std::string change_cause;  // kubernetes.io/change-cause, "" when absent
    bool operator==(const RevisionInfo&) const = default;
};

/// What a deployment looked like when it was read (`kubectl get deployment -o json`).
struct DeploymentState {
    std::string name;
    std::string image;  // full reference: repo:tag
    std::string tag;    // the part after the last ':' of the image (the SHA)
    std::int64_t revision = 0;
    std::int32_t desired = 0;
    std::int32_t updated = 0;
    std::int32_t ready = 0;
    std::int32_t available = 0;
    bool paused = false;
    std::vector<RevisionInfo> history;  // oldest first; empty when it could not be read
    bool history_known = false;

    bool operator==(const DeploymentState&) const = default;
};

/// The database as alembic sees it, and what a downgrade from there would do (reference §5:
/// `alembic current`, then `alembic downgrade <current>:<target> --sql`, offline, no change).
struct DatabaseState {
    std::string revision;                  // `alembic current`; "" = the database has none
    std::optional<std::string> target;     // where the downgrade ends ("base" = nothing left)
    std::vector<std::string> downgrades;   // "3f2a1b4c5d6e -> ae1027a6acf", in order
    std::string sql;                       // the offline SQL, as alembic rendered it
    std::vector<std::string> destructive;  // statements that drop, truncate or delete data
    std::string preview_error;             // why there is no SQL preview ("" = there is one)
    bool operator==(const DatabaseState&) const = default;
};

/// What the planner needs to know about the cluster before a change.
struct ClusterSnapshot {
    std::map<std::string, DeploymentState> deployments;
    std::optional<DatabaseState> database;  // DB downgrades only
    bool operator==(const ClusterSnapshot&) const = default;
};

/// A request resolved into ordered steps. `id` is a short digest of what the plan would do.
struct Plan {
    std::string id;
    RollbackRequest request;
    ClusterSnapshot before;
    std::vector<Step> steps;
    std::vector<std::string> notes;  // what the plan deliberately leaves out, for people

    bool operator==(const Plan&) const = default;
};

/// Short, stable digest of the plan's steps and the state it was made from (FNV-1a, hex).
[[nodiscard]] std::string plan_digest(const RollbackRequest& request,
                                      const ClusterSnapshot& before,
                                      const std::vector<Step>& steps);

/// Deployments whose images a rollback of this kind changes (and reports from/to for).
[[nodiscard]] std::vector<std::string> affected_deployments(ActionKind kind);

/// The result of one step, interpreted for people.
enum class StepOutcome {
    Succeeded,
    NoChange,  // exited 0 but changed nothing ("skipped rollback", same image)
    Failed,
    TimedOut,
    Cancelled,
};

/// "succeeded", "no change", "failed", "timed out", "cancelled" (people and storage).
[[nodiscard]] std::string_view to_string(StepOutcome outcome);
[[nodiscard]] std::optional<StepOutcome> step_outcome_from_string(std::string_view text);

struct StepResult {
    StepOutcome outcome = StepOutcome::Failed;
    std::optional<int> exit_code;  // none: killed by a signal, or never started
    Duration duration{};
    std::string summary;        // one line: what happened, in the runbook's words
    std::string output;         // stdout then stderr, capped
    std::string output_digest;  // SHA-256 of the full captured output, for the audit trail

    [[nodiscard]] bool ok() const { return outcome == StepOutcome::Succeeded; }
    bool operator==(const StepResult&) const = default;
};

}  // namespace rollbot::core
