#include "bot/flow/outcome.hpp"

namespace rollbot::core {

std::string_view to_string(CommandOutcome outcome) {
    switch (outcome) {
        case CommandOutcome::Answered:
            return "answered";
        case CommandOutcome::Ran:
            return "ran";
        case CommandOutcome::DryRun:
            return "dry_run";
        case CommandOutcome::ApprovalRequested:
            return "approval_requested";
        case CommandOutcome::Busy:
            return "busy";
        case CommandOutcome::Refused:
            return "refused";
        case CommandOutcome::UsageError:
            return "usage_error";
        case CommandOutcome::WrongChannel:
            return "wrong_channel";
    }
    return "unknown";
}

}  // namespace rollbot::core
