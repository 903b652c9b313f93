#pragma once

#include <string_view>

namespace rollbot::core {

/// What came of one command, as `rollbot_commands_total{outcome}` counts it.
enum class CommandOutcome {
    Answered,           // a read command, help, cancel
    Ran,                // a rollback ran (whatever its result)
    DryRun,             // a dry run ran
    ApprovalRequested,  // the approval card is up
    Busy,               // another request holds the target
    Refused,            // not allowed, or it could not be planned or held
    UsageError,         // the command did not parse
    WrongChannel,       // outside the incidents channel
};

/// The metric label: "answered", "ran", "dry_run", "approval_requested", "busy", "refused",
/// "usage_error", "wrong_channel".
[[nodiscard]] std::string_view to_string(CommandOutcome outcome);

}  // namespace rollbot::core
