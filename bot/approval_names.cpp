// The approval machine's names, for storage, the audit trail and people.
#include "bot/approval.hpp"

#include <array>
#include <utility>

namespace rollbot::core {
namespace {

constexpr std::array<std::pair<ApprovalState, std::string_view>, 7> kStateNames{{
    {ApprovalState::Pending, "pending"},
    {ApprovalState::Approved, "approved"},
    {ApprovalState::Executing, "executing"},
    {ApprovalState::Rejected, "rejected"},
    {ApprovalState::Expired, "expired"},
    {ApprovalState::Cancelled, "cancelled"},
    {ApprovalState::Superseded, "superseded"},
}};

}  // namespace

std::string_view to_string(ApprovalState state) {
    for (const auto& [value, name] : kStateNames) {
        if (value == state) {
            return name;
        }
    }
    return "unknown";
}

std::optional<ApprovalState> approval_state_from_string(std::string_view text) {
    for (const auto& [value, name] : kStateNames) {
        if (name == text) {
            return value;
        }
    }
    return std::nullopt;
}

std::string_view to_string(ApprovalRule rule) {
    switch (rule) {
        case ApprovalRule::Approved:
            return "approved";
        case ApprovalRule::ApprovalCounted:
            return "approval_counted";
        case ApprovalRule::AlreadyCounted:
            return "already_counted";
        case ApprovalRule::Withdrawn:
            return "withdrawn";
        case ApprovalRule::NotCounted:
            return "not_counted";
        case ApprovalRule::Rejected:
            return "rejected";
        case ApprovalRule::NotAnApprover:
            return "not_an_approver";
        case ApprovalRule::SelfApproval:
            return "self_approval";
        case ApprovalRule::Bot:
            return "bot";
        case ApprovalRule::WrongMessage:
            return "wrong_message";
        case ApprovalRule::OtherReaction:
            return "other_reaction";
        case ApprovalRule::NotPending:
            return "not_pending";
        case ApprovalRule::Expired:
            return "expired";
        case ApprovalRule::NotDue:
            return "not_due";
        case ApprovalRule::Cancelled:
            return "cancelled";
        case ApprovalRule::NotAllowedToCancel:
            return "not_allowed_to_cancel";
        case ApprovalRule::Superseded:
            return "superseded";
        case ApprovalRule::Executing:
            return "executing";
    }
    return "unknown";
}

std::string_view base_reaction(std::string_view reaction) {
    // Slack appends skin tones as "::skin-tone-N"; the person meant the base emoji.
    return reaction.substr(0, reaction.find("::"));
}

}  // namespace rollbot::core
