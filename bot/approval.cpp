#include "bot/approval.hpp"

#include "bot/approver_rules.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <utility>

namespace rollbot::core {
namespace {

using TimePoint = std::chrono::system_clock::time_point;

template <class... Args>
ApprovalDecision decision(bool changed,
                          ApprovalRule rule,
                          fmt::format_string<Args...> explanation,
                          Args&&... args) {
    return ApprovalDecision{changed, rule, fmt::format(explanation, std::forward<Args>(args)...)};
}

std::string mention(const UserId& user) {
    return fmt::format("<@{}>", user.value);
}

std::string mention(const UsergroupId& group) {
    return fmt::format("<!subteam^{}>", group.value);
}

std::string describe_timeout(std::chrono::milliseconds timeout) {
    const auto minutes = std::chrono::duration_cast<std::chrono::minutes>(timeout);
    if (minutes.count() > 0 && minutes == timeout) {
        return fmt::format("{} min", minutes.count());
    }
    return fmt::format("{} s", std::chrono::duration_cast<std::chrono::seconds>(timeout).count());
}

std::string count_text(int n) {
    return n == 1 ? std::string("1 more approver") : fmt::format("{} more approvers", n);
}

}  // namespace

Approval::Approval(RequestId id,
                   ActionKind kind,
                   ApprovalPolicy policy,
                   UserId requester,
                   std::string plan_id,
                   TimePoint now)
    : policy_(std::move(policy)) {
    s_.id = std::move(id);
    s_.kind = kind;
    s_.requester = std::move(requester);
    s_.plan_id = std::move(plan_id);
    s_.created = now;
    // Config rejects a zero timeout; should one slip through, the approval never expires rather
    // than expiring at once.
    s_.expires_at = policy_.timeout > Duration::zero() ? now + policy_.timeout : now;
}

Approval::Approval(ApprovalSnapshot snapshot, ApprovalPolicy policy)
    : s_(std::move(snapshot)), policy_(std::move(policy)) {
    requalify();
}

void Approval::requalify() {
    const auto approve = base_reaction(policy_.approve_reaction);
    for (auto it = s_.approvals.begin(); it != s_.approvals.end();) {
        auto& reactions = it->second;
        std::erase_if(reactions, [&](const std::string& r) { return base_reaction(r) != approve; });
        const auto groups = s_.approver_groups.find(it->first);
        const bool self = it->first == s_.requester && !policy_.allow_self_approval;
        const bool ok = qualifies(
            policy_,
            it->first,
            groups == s_.approver_groups.end() ? std::vector<UsergroupId>{} : groups->second);
        it = (reactions.empty() || self || !ok) ? s_.approvals.erase(it) : std::next(it);
    }
    std::erase_if(s_.approver_groups,
                  [&](const auto& entry) { return !s_.approvals.contains(entry.first); });
    if (is_open()) {
        s_.state = satisfied() ? ApprovalState::Approved : ApprovalState::Pending;
    }
}

void Approval::set_card(MessageRef card) {
    s_.card = std::move(card);
}

bool Approval::satisfied() const {
    return static_cast<int>(s_.approvals.size()) >= required_count(policy_) &&
           unmatched_groups(s_, policy_).empty();
}

bool Approval::is_due(TimePoint now) const {
    return can_expire() && now >= s_.expires_at;
}

std::vector<UserId> Approval::approvers() const {
    std::vector<UserId> out;
    out.reserve(s_.approvals.size());
    for (const auto& [user, reactions] : s_.approvals) {
        out.push_back(user);
    }
    return out;
}

std::vector<std::string> Approval::still_needed() const {
    if (satisfied()) {
        return {};
    }
    // Each line is one more person: a new approver raises the matching by at most one, so people
    // for uncovered groups also count towards `required`.
    const auto groups = unmatched_groups(s_, policy_);
    const int missing = required_count(policy_) - static_cast<int>(s_.approvals.size()) -
                        static_cast<int>(groups.size());
    std::vector<std::string> out;
    if (missing > 0) {
        out.push_back(count_text(missing));
    }
    for (const auto& group : groups) {
        out.push_back(fmt::format("an approver from {}", mention(group)));
    }
    return out;
}

ApprovalDecision Approval::closed_decision() const {
    return decision(false,
                    ApprovalRule::NotPending,
                    "{} is already {}; nothing changes.",
                    s_.id.value,
                    to_string(s_.state));
}

ApprovalDecision Approval::expire() {
    s_.state = ApprovalState::Expired;
    const auto timeout = std::chrono::duration_cast<Duration>(s_.expires_at - s_.created);
    return decision(true,
                    ApprovalRule::Expired,
                    "{} expired: it was not approved within {}.",
                    s_.id.value,
                    describe_timeout(timeout));
}

ApprovalDecision Approval::on_reaction(const ReactionEvent& event,
                                       const Reactor& reactor,
                                       TimePoint now) {
    if (s_.state == ApprovalState::Executing) {
        return decision(false,
                        ApprovalRule::Executing,
                        "Execution of {} has started; reactions no longer change it.",
                        s_.id.value);
    }
    if (!is_open()) {
        return closed_decision();
    }
    if (!s_.card || event.item != *s_.card) {
        return decision(false,
                        ApprovalRule::WrongMessage,
                        "Only reactions on the approval card of {} count.",
                        s_.id.value);
    }
    if (is_due(now)) {
        return expire();
    }
    if (reactor.is_bot) {
        return decision(false,
                        ApprovalRule::Bot,
                        "{} is a bot; bots never approve or reject.",
                        mention(reactor.user));
    }
    const auto reaction = base_reaction(event.reaction);
    if (reaction == base_reaction(policy_.approve_reaction)) {
        return event.added ? on_approve_added(event, reactor) : on_approve_removed(event, reactor);
    }
    if (reaction == base_reaction(policy_.reject_reaction)) {
        if (!event.added) {
            return decision(false,
                            ApprovalRule::OtherReaction,
                            "Removing :{}: changes nothing; {} stays {}.",
                            reaction,
                            s_.id.value,
                            to_string(s_.state));
        }
        return on_reject_added(reactor);
    }
    return decision(false,
                    ApprovalRule::OtherReaction,
                    "Only :{}: (approve) and :{}: (reject) count on the approval card.",
                    base_reaction(policy_.approve_reaction),
                    base_reaction(policy_.reject_reaction));
}

ApprovalDecision Approval::on_approve_added(const ReactionEvent& event, const Reactor& reactor) {
    const auto& user = reactor.user;
    // The requester hears the four-eyes rule first, whether or not they are an approver.
    if (user == s_.requester && !policy_.allow_self_approval) {
        return decision(false,
                        ApprovalRule::SelfApproval,
                        "{} requested {} and cannot approve it; someone else must.",
                        mention(user),
                        s_.id.value);
    }
    if (!qualifies(policy_, user, reactor.groups)) {
        return decision(false,
                        ApprovalRule::NotAnApprover,
                        "{} is not an approver for {} rollbacks.",
                        mention(user),
                        to_string(s_.kind));
    }
    if (auto it = s_.approvals.find(user); it != s_.approvals.end()) {
        const bool added = it->second.insert(event.reaction).second;
        return decision(added,
                        ApprovalRule::AlreadyCounted,
                        "{} already approves {}; one person counts once.",
                        mention(user),
                        s_.id.value);
    }
    s_.approvals[user] = {event.reaction};
    auto groups = reactor.groups;
    std::sort(groups.begin(), groups.end());
    groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
    s_.approver_groups[user] = std::move(groups);
    if (s_.state == ApprovalState::Pending && satisfied()) {
        s_.state = ApprovalState::Approved;
        return decision(true,
                        ApprovalRule::Approved,
                        "{} approved {}; it has every approval it needs.",
                        mention(user),
                        s_.id.value);
    }
    // Still short of the policy, or an extra approval that keeps it Approved if one withdraws.
    const auto needed = still_needed();
    if (needed.empty()) {
        return decision(true,
                        ApprovalRule::ApprovalCounted,
                        "{} also approved {}.",
                        mention(user),
                        s_.id.value);
    }
    return decision(true,
                    ApprovalRule::ApprovalCounted,
                    "{} approved {}; still needed: {}.",
                    mention(user),
                    s_.id.value,
                    fmt::join(needed, ", "));
}

ApprovalDecision Approval::on_approve_removed(const ReactionEvent& event, const Reactor& reactor) {
    const auto& user = reactor.user;
    auto it = s_.approvals.find(user);
    if (it == s_.approvals.end()) {
        return decision(false,
                        ApprovalRule::NotCounted,
                        "{} had no counted approval of {} to withdraw.",
                        mention(user),
                        s_.id.value);
    }
    const bool removed = it->second.erase(event.reaction) > 0;
    if (!it->second.empty()) {
        return decision(removed,
                        ApprovalRule::AlreadyCounted,
                        "{} still approves {} with another :{}: reaction.",
                        mention(user),
                        s_.id.value,
                        base_reaction(policy_.approve_reaction));
    }
    s_.approvals.erase(it);
    s_.approver_groups.erase(user);
    if (s_.state == ApprovalState::Approved && !satisfied()) {
        s_.state = ApprovalState::Pending;
        return decision(true,
                        ApprovalRule::Withdrawn,
                        "{} withdrew their approval of {}; it waits for approvers again.",
                        mention(user),
                        s_.id.value);
    }
    return decision(true,
                    ApprovalRule::Withdrawn,
                    "{} withdrew their approval of {}.",
                    mention(user),
                    s_.id.value);
}

ApprovalDecision Approval::on_reject_added(const Reactor& reactor) {
    const auto& user = reactor.user;
    if (user != s_.requester && !qualifies(policy_, user, reactor.groups)) {
        return decision(false,
                        ApprovalRule::NotAnApprover,
                        "{} is not an approver for {} rollbacks, so the rejection does "
                        "not count.",
                        mention(user),
                        to_string(s_.kind));
    }
    s_.state = ApprovalState::Rejected;
    s_.decided_by = user;
    return decision(true, ApprovalRule::Rejected, "{} rejected {}.", mention(user), s_.id.value);
}

ApprovalDecision Approval::cancel(const Reactor& by, TimePoint now) {
    if (!is_open()) {
        return closed_decision();
    }
    if (is_due(now)) {
        return expire();
    }
    if (by.is_bot || (by.user != s_.requester && !qualifies(policy_, by.user, by.groups))) {
        return decision(false,
                        ApprovalRule::NotAllowedToCancel,
                        "{} cannot cancel {}: only the requester {} or an approver can.",
                        mention(by.user),
                        s_.id.value,
                        mention(s_.requester));
    }
    s_.state = ApprovalState::Cancelled;
    s_.decided_by = by.user;
    return decision(
        true, ApprovalRule::Cancelled, "{} cancelled {}.", mention(by.user), s_.id.value);
}

ApprovalDecision Approval::expire_if_due(TimePoint now) {
    if (!is_open()) {
        return closed_decision();
    }
    if (!is_due(now)) {
        return decision(false, ApprovalRule::NotDue, "{} has not expired yet.", s_.id.value);
    }
    return expire();
}

ApprovalDecision Approval::supersede(std::string new_plan_id) {
    if (!is_open()) {
        return closed_decision();
    }
    s_.state = ApprovalState::Superseded;
    return decision(true,
                    ApprovalRule::Superseded,
                    "The plan of {} changed ({} → {}); the new plan needs approval.",
                    s_.id.value,
                    s_.plan_id,
                    new_plan_id);
}

bool Approval::start_execution() {
    if (s_.state != ApprovalState::Approved) {
        return false;
    }
    s_.state = ApprovalState::Executing;
    return true;
}

}  // namespace rollbot::core
