#pragma once

#include "bot/chat.hpp"
#include "bot/ids.hpp"
#include "bot/settings.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace rollbot::core {

/// Where an approval stands. Only Pending and Approved can still change.
enum class ApprovalState {
    Pending,     // waiting for approvers
    Approved,    // enough approvers; execution not started yet (a removal still withdraws)
    Executing,   // execution started: the decision is final
    Rejected,    // an approver reacted with the reject reaction
    Expired,     // nobody approved within the policy's timeout
    Cancelled,   // `/rollback cancel` by the requester or an approver
    Superseded,  // the plan changed before execution: a new card asks again
};

[[nodiscard]] std::string_view to_string(ApprovalState state);
[[nodiscard]] std::optional<ApprovalState> approval_state_from_string(std::string_view text);

/// The reacting user as the directory knows them at decision time.
struct Reactor {
    UserId user;
    bool is_bot = false;
    /// The usergroups (of the policy's `approvers.usergroups` and `required_groups`) the user
    /// is a member of now.
    std::vector<UsergroupId> groups;
    bool operator==(const Reactor&) const = default;
};

/// Which rule of the machine decided an input; stable for logs, audit and tests.
enum class ApprovalRule {
    Approved,            // enough distinct approvers now: the approving transition
    ApprovalCounted,     // one more approver counted, more still needed
    AlreadyCounted,      // this person's approval already counts
    Withdrawn,           // an approve reaction removed before execution
    NotCounted,          // removal of a reaction that never counted
    Rejected,            // an approver's reject reaction
    NotAnApprover,       // the reactor is not an approver
    SelfApproval,        // the requester, and the policy forbids it
    Bot,                 // bots never approve or reject
    WrongMessage,        // not on the approval card
    OtherReaction,       // neither the approve nor the reject reaction
    NotPending,          // the approval is already closed
    Expired,             // the deadline passed
    NotDue,              // expire_if_due before the deadline
    Cancelled,           // `/rollback cancel`
    NotAllowedToCancel,  // cancel by someone who may not
    Superseded,          // the plan changed before execution
    Executing,           // execution started: the decision is final
};

/// The rule's name in the audit trail: "approved", "approval_counted", … "executing".
[[nodiscard]] std::string_view to_string(ApprovalRule rule);

/// What the machine made of one input; every input produces one, for the audit trail.
struct ApprovalDecision {
    /// Whether the snapshot changed (state, approvers, or the reactions kept for them): save the
    /// snapshot and re-render the card when true; nothing changed when false.
    bool changed = false;
    ApprovalRule rule = ApprovalRule::NotPending;
    /// One sentence for people ("<@U1> is not an approver for DB downgrades").
    std::string explanation;
    bool operator==(const ApprovalDecision&) const = default;
};

/// Everything needed to persist an approval and rebuild it after a restart.
struct ApprovalSnapshot {
    RequestId id;
    ActionKind kind = ActionKind::Db;
    UserId requester;
    std::optional<MessageRef> card;  // the approval message; only reactions on it count
    std::string plan_id;             // the plan the card showed
    ApprovalState state = ApprovalState::Pending;
    std::chrono::system_clock::time_point created;
    std::chrono::system_clock::time_point expires_at;  // == created: never expires (timeout 0)
    /// Approvers counted now, with the approve reactions each has on the card (base names
    /// and skin-tone variants are kept apart so removing one of two keeps the approval).
    std::map<UserId, std::set<std::string>> approvals;
    /// The usergroups each counted approver was in when counted (for required_groups).
    std::map<UserId, std::vector<UsergroupId>> approver_groups;
    std::optional<UserId> decided_by;  // who rejected or cancelled
    bool operator==(const ApprovalSnapshot&) const = default;
};

/// "white_check_mark::skin-tone-2" → "white_check_mark".
[[nodiscard]] std::string_view base_reaction(std::string_view reaction);

/// Four-eyes approval of one request, as a pure state machine: no I/O, time passed in.
/// Rules (design §5): only reactions on the bot's own approval card count; the reactor must be
/// an approver (a listed user or a member of a listed usergroup), not the requester unless the
/// policy allows it, never a bot; one person counts once; `required` distinct approvers, and one
/// distinct approver from each of `required_groups`; a reject reaction by an approver rejects;
/// removing an approve reaction before execution withdraws it; expiry after the timeout.
class Approval {
public:
    Approval(RequestId id,
             ActionKind kind,
             ApprovalPolicy policy,
             UserId requester,
             std::string plan_id,
             std::chrono::system_clock::time_point now);
    /// Rebuilds a persisted approval (after a restart) under the current policy: approvals that
    /// no longer qualify are dropped and an open state is re-evaluated; expires_at is kept.
    Approval(ApprovalSnapshot snapshot, ApprovalPolicy policy);

    /// The card was posted (or re-posted): from now on only reactions on it count.
    void set_card(MessageRef card);

    /// A reaction added or removed anywhere; decides whether and how it counts (a reaction on
    /// the card at or after the deadline expires the approval).
    ApprovalDecision on_reaction(const ReactionEvent& event,
                                 const Reactor& reactor,
                                 std::chrono::system_clock::time_point now);
    /// `/rollback cancel`: allowed to the requester and to approvers (never bots); expires
    /// instead when the deadline has passed.
    ApprovalDecision cancel(const Reactor& by, std::chrono::system_clock::time_point now);
    /// Pending or Approved at or past its deadline becomes Expired ("expired", changed).
    ApprovalDecision expire_if_due(std::chrono::system_clock::time_point now);
    /// The plan resolved just before execution differs from the one approved (the caller
    /// compares): an open approval becomes Superseded and keeps the plan_id it showed.
    ApprovalDecision supersede(std::string new_plan_id);
    /// Approved → Executing: removals no longer withdraw. Returns false unless Approved.
    bool start_execution();

    [[nodiscard]] ApprovalState state() const { return s_.state; }
    [[nodiscard]] bool is_open() const {
        return s_.state == ApprovalState::Pending || s_.state == ApprovalState::Approved;
    }
    [[nodiscard]] const ApprovalSnapshot& snapshot() const { return s_; }
    [[nodiscard]] const ApprovalPolicy& policy() const { return policy_; }
    [[nodiscard]] std::chrono::system_clock::time_point expires_at() const { return s_.expires_at; }
    /// False when the policy had no timeout (0): expires_at() is then meaningless.
    [[nodiscard]] bool can_expire() const { return s_.expires_at > s_.created; }
    /// Counted approvers, sorted by id.
    [[nodiscard]] std::vector<UserId> approvers() const;
    /// What is still needed, for the card, each line one more person: "1 more approver",
    /// "an approver from <!subteam^S0DBA>"; empty when the approval is satisfied.
    [[nodiscard]] std::vector<std::string> still_needed() const;

private:
    [[nodiscard]] bool satisfied() const;
    [[nodiscard]] bool is_due(std::chrono::system_clock::time_point now) const;
    [[nodiscard]] ApprovalDecision closed_decision() const;
    ApprovalDecision expire();
    ApprovalDecision on_approve_added(const ReactionEvent& event, const Reactor& reactor);
    ApprovalDecision on_approve_removed(const ReactionEvent& event, const Reactor& reactor);
    ApprovalDecision on_reject_added(const Reactor& reactor);
    void requalify();

    ApprovalSnapshot s_;
    ApprovalPolicy policy_;
};

}  // namespace rollbot::core
