#include "bot/run.hpp"

#include <algorithm>
#include <array>

namespace rollbot::core {
namespace {

constexpr std::array kRunStates{RunState::Running,
                                RunState::Succeeded,
                                RunState::NoChange,
                                RunState::Failed,
                                RunState::DryRun,
                                RunState::Cancelled,
                                RunState::Interrupted};

}  // namespace

std::string_view to_string(RunState state) {
    switch (state) {
        case RunState::Running:
            return "running";
        case RunState::Succeeded:
            return "succeeded";
        case RunState::NoChange:
            return "no change";
        case RunState::Failed:
            return "failed";
        case RunState::DryRun:
            return "dry run";
        case RunState::Cancelled:
            return "cancelled";
        case RunState::Interrupted:
            return "interrupted";
    }
    return "unknown";
}

std::optional<RunState> run_state_from_string(std::string_view text) {
    for (const RunState state : kRunStates) {
        if (to_string(state) == text) {
            return state;
        }
    }
    return std::nullopt;
}

std::string metric_label(RunState state) {
    std::string label(to_string(state));
    std::replace(label.begin(), label.end(), ' ', '_');
    return label;
}

}  // namespace rollbot::core
