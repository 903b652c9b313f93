#pragma once

#include "bot/chat.hpp"
#include "bot/ids.hpp"
#include "bot/plan.hpp"
#include "bot/verification.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rollbot::core {

enum class RunState {
    Running,
    Succeeded,  // every step succeeded: ROLLBACK EXECUTED (status from verification)
    NoChange,   // a step reported that nothing changed
    Failed,
    DryRun,  // nothing changed on purpose
    Cancelled,
    Interrupted,  // stored only: rollbot stopped while it ran (never re-run)
};

/// For people and storage: "running", "succeeded", "no change", "failed", "dry run",
/// "cancelled", "interrupted".
[[nodiscard]] std::string_view to_string(RunState state);
[[nodiscard]] std::optional<RunState> run_state_from_string(std::string_view text);
/// As a metric label value: to_string with '_' for ' ' ("no_change").
[[nodiscard]] std::string metric_label(RunState state);

/// When each runbook phase ended, measured on the monotonic clock from the command's arrival.
struct PhaseMarks {
    std::chrono::steady_clock::time_point received;
    std::optional<std::chrono::steady_clock::time_point> first_action;
    std::optional<std::chrono::steady_clock::time_point> script_done;   // script/undo/set image
    std::optional<std::chrono::steady_clock::time_point> rollout_done;  // pods healthy
    std::optional<std::chrono::steady_clock::time_point> healthy;       // health endpoint 2xx
    std::optional<std::chrono::steady_clock::time_point> finished;
};

/// Everything known about one rollback request, from command to report.
struct Run {
    RequestId id;
    UserId requester;
    ChannelId channel;
    std::optional<std::string> reason;
    Plan plan;
    std::vector<StepResult> results;  // one per step that ran, in order
    ClusterSnapshot after;
    std::map<std::string, std::string> unreadable;  // deployment -> why it could not be read
    std::optional<Verification> verification;       // taken when the run ended, for the report
    std::optional<Verdict> verdict;                 // judge(verification): sets the Status line
    std::string rollout_failure;                    // what the crash-loop watch saw ("" = nothing)
    std::optional<std::chrono::system_clock::time_point> incident_start;  // decision row
    std::string incident_note;  // where the incident start came from, for the time table
    RunState state = RunState::Running;
    bool stopped_by_shutdown = false;  // its step was killed when rollbot's stop grace ran out
    bool state_warned = false;         // the channel was told its progress could not be saved
    std::chrono::system_clock::time_point received_at;
    PhaseMarks marks;
    std::optional<MessageRef> card;  // the request message; progress goes into its thread

    [[nodiscard]] bool restored() const {
        return state == RunState::Succeeded && verdict && verdict->restored;
    }
};

}  // namespace rollbot::core
