// The approval desk: requests, cards, cancel, expiry, and how an approval leaves the desk.
// approval_transitions.cpp has reactions and the approving transition; approval_restore.cpp the
// start-up.
#include "bot/flow/approval_desk.hpp"

#include "bot/flow/targets.hpp"
#include "bot/text.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace rollbot::core {

namespace asio = boost::asio;

ApprovalDesk::ApprovalDesk(ApprovalDeskDeps deps) : deps_(std::move(deps)) {}

asio::awaitable<CommandOutcome> ApprovalDesk::request(
    SlashCommand cmd, Command command, std::chrono::steady_clock::time_point received) {
    constexpr std::string_view kCannotHold =
        "rollbot cannot write its state, so it cannot hold an approval";
    const RollbackRequest request = *command.rollback;
    const ApprovalPolicy policy = *deps_.settings.approval_for(request.action);
    auto new_id = co_await deps_.store.next_request_id();
    if (!new_id) {
        co_await deps_.chat.reply(
            cmd.reply, deps_.reporter.refused(kCannotHold, std::nullopt, new_id.error().message));
        co_return CommandOutcome::Refused;
    }
    const RequestId id = *new_id;
    const LockHolder holder{id, describe(request), cmd.user, deps_.clock.now()};
    if (auto busy = take_targets(deps_.locks, request, holder, deps_.reporter, holder.since)) {
        co_await deps_.chat.reply(cmd.reply, std::move(*busy));
        co_return CommandOutcome::Busy;
    }
    const AuditEntry requested{AuditKind::Request,
                               id,
                               cmd.user,
                               fmt::format("request={} needs_approval=true reason={}",
                                           log_quote(describe(request)),
                                           log_quote(command.reason.value_or("")))};
    co_await deps_.audit.record(requested);
    auto plan = co_await deps_.plans.resolve(request, id);
    if (!plan) {
        deps_.locks.release(id);
        const AuditEntry record{
            AuditKind::Refused, id, cmd.user, "why=" + log_quote(plan.error().message)};
        co_await deps_.audit.record(record);
        co_await deps_.chat.reply(cmd.reply, deps_.reporter.refused(plan.error().message));
        co_return CommandOutcome::Refused;
    }
    auto handle = std::make_shared<OpenApproval>(
        Approval{id, request.action, policy, cmd.user, plan->id, deps_.clock.now()},
        StoredRequest{id, cmd.user, cmd.channel, cmd.text, holder.since},
        request,
        command.reason,
        deps_.reporter.approval_body(id, cmd.user, command.reason, *plan, policy),
        received,
        deps_.tasks,
        deps_.clock);
    open_.emplace(id, handle);
    // Saved before the card is posted: a restart from here on restores the request.
    if (auto saved = co_await save(handle); !saved) {
        open_.erase(id);
        deps_.locks.release(id);
        const AuditEntry record{AuditKind::Refused,
                                id,
                                cmd.user,
                                "why=" + log_quote("approval not saved: " + saved.error().message)};
        co_await deps_.audit.record(record);
        co_await deps_.chat.reply(
            cmd.reply, deps_.reporter.refused(kCannotHold, std::nullopt, saved.error().message));
        co_return CommandOutcome::Refused;
    }
    co_return co_await show_first_card(handle, std::move(cmd));
}

asio::awaitable<CommandOutcome> ApprovalDesk::show_first_card(ApprovalHandle handle,
                                                              SlashCommand cmd) {
    const RequestId id = handle->request.id;
    const ApprovalPolicy policy = handle->approval.policy();
    auto card = co_await post_card(handle, {});
    if (handle->closed) {
        co_return CommandOutcome::ApprovalRequested;
    }
    if (!card) {
        (void)handle->approval.cancel(Reactor{cmd.user, false, {}}, deps_.clock.now());
        co_await save(handle);
        const AuditEntry record{
            AuditKind::Approval,
            id,
            {},
            "state=cancelled why=" + log_quote("card not posted: " + card.error().message)};
        co_await deps_.audit.record(record);
        close(handle);
        co_await deps_.chat.reply(
            cmd.reply,
            deps_.reporter.refused(
                "rollbot could not post the approval card, so nobody could approve",
                std::nullopt,
                card.error().message));
        co_return CommandOutcome::Refused;
    }
    const AuditEntry record{
        AuditKind::Approval,
        id,
        cmd.user,
        fmt::format("state=pending plan={} card={} expires_ms={}",
                    handle->approval.snapshot().plan_id,
                    card->ts,
                    std::chrono::duration_cast<Duration>(policy.timeout).count())};
    co_await deps_.audit.record(record);
    arm_expiry(handle);
    co_await deps_.chat.reply(
        cmd.reply,
        fmt::format("{} needs approval: the card is in <#{}>. It expires in {} minutes.",
                    id.value,
                    deps_.settings.slack.incidents_channel.value,
                    std::chrono::duration_cast<std::chrono::minutes>(policy.timeout).count()));
    co_return CommandOutcome::ApprovalRequested;
}

asio::awaitable<Result<MessageRef>> ApprovalDesk::post_card(ApprovalHandle handle,
                                                            std::string note) {
    std::string text = handle->body + "\n" + deps_.reporter.approval_status(handle->approval, note);
    auto card = co_await deps_.chat.post(
        deps_.settings.slack.incidents_channel, std::nullopt, std::move(text));
    if (card && !handle->closed) {
        handle->approval.set_card(*card);
        co_await save(handle);
    }
    co_return card;
}

asio::awaitable<void> ApprovalDesk::refresh_card(ApprovalHandle handle, std::string note) {
    const auto& card = handle->approval.snapshot().card;
    if (handle->closed || !card) {
        co_return;
    }
    std::string text = handle->body + "\n" + deps_.reporter.approval_status(handle->approval, note);
    co_await deps_.chat.update(*card, std::move(text), "");
}

asio::awaitable<void> ApprovalDesk::cancel(SlashCommand cmd, std::optional<RequestId> id) {
    if (!id) {
        // The newest of the user's own requests (by time: "R10" sorts before "R9").
        std::optional<WallTime> newest;
        for (const auto& [open_id, open] : open_) {
            if (open->request.requester == cmd.user &&
                (!newest || open->request.received_at >= *newest)) {
                newest = open->request.received_at;
                id = open_id;
            }
        }
    }
    if (!id) {
        co_await deps_.chat.reply(
            cmd.reply, deps_.reporter.refused("you have no request waiting for approval"));
        co_return;
    }
    const auto it = open_.find(*id);
    if (it == open_.end()) {
        co_await deps_.chat.reply(
            cmd.reply,
            deps_.reporter.refused(fmt::format("{} has no open approval to cancel", id->value)));
        co_return;
    }
    const ApprovalHandle handle = it->second;
    auto reactor = co_await reactor_for(cmd.user, handle->approval.policy());
    if (!reactor || handle->closed) {
        co_await deps_.chat.reply(cmd.reply,
                                  deps_.reporter.refused("rollbot could not check who you are"));
        co_return;
    }
    auto decision = handle->approval.cancel(*reactor, deps_.clock.now());
    if (!decision.changed) {
        const AuditEntry record{
            AuditKind::Cancel, *id, cmd.user, fmt::format("rule={}", to_string(decision.rule))};
        co_await deps_.audit.record(record);
        // The machine's sentence carries mentions (of ids, no user text): refused() would
        // escape them into visible "&lt;@U…&gt;".
        co_await deps_.chat.reply(
            cmd.reply,
            fmt::format("🚫 {} {} is still waiting for approval.", decision.explanation, id->value));
        co_return;
    }
    co_await decided(handle, std::move(decision));
    co_await deps_.chat.reply(cmd.reply, fmt::format("{} is cancelled. Nothing ran.", id->value));
}

asio::awaitable<Result<Reactor>> ApprovalDesk::reactor_for(UserId user, ApprovalPolicy policy) {
    auto info = co_await deps_.directory.user_info(user);
    if (!info) {
        co_return info.error();
    }
    Reactor reactor{user, info->is_bot, {}};
    std::vector<UsergroupId> groups = policy.approvers.usergroups;
    groups.insert(groups.end(), policy.required_groups.begin(), policy.required_groups.end());
    std::sort(groups.begin(), groups.end());
    groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
    for (const auto& g : groups) {
        auto members = co_await deps_.directory.usergroup_members(g);
        if (!members) {
            deps_.log->warn(
                "approval.usergroup_lookup_failed group={} error={}", g, members.error().message);
            continue;  // fail closed: membership that cannot be checked does not count
        }
        if (std::find(members->begin(), members->end(), user) != members->end()) {
            reactor.groups.push_back(g);
        }
    }
    co_return reactor;
}

void ApprovalDesk::arm_expiry(const ApprovalHandle& handle) {
    handle->expiry.cancel();  // a wait for an earlier card ends
    deps_.tasks.spawn("approval.expiry", expire_later(handle), TaskGroup::Kind::Background);
}

asio::awaitable<void> ApprovalDesk::expire_later(ApprovalHandle handle) {
    if (handle->closed || !handle->approval.can_expire()) {
        co_return;  // timeout 0: waits until approved, rejected or cancelled
    }
    // The deadline is on the wall clock (it survives restarts); the wait is on the steady one,
    // so wait again for whatever is left when they disagree by a little.
    for (auto left = handle->approval.expires_at() - deps_.clock.now();
         left > std::chrono::system_clock::duration::zero();
         left = handle->approval.expires_at() - deps_.clock.now()) {
        handle->expiry.expires_at(deps_.clock.steady_now() +
                                  std::chrono::ceil<std::chrono::steady_clock::duration>(left));
        if (!co_await handle->expiry.wait() || handle->closed) {
            co_return;  // closed, or re-armed for a new card
        }
    }
    auto decision = handle->approval.expire_if_due(deps_.clock.now());
    if (decision.changed) {
        co_await decided(handle, std::move(decision));
    }
}

void ApprovalDesk::close(const ApprovalHandle& handle, bool to_run) {
    if (handle->closed) {
        return;
    }
    handle->closed = true;
    handle->expiry.cancel();
    const RequestId id = handle->approval.snapshot().id;
    open_.erase(id);
    if (to_run) {
        count(deps_.metrics, "rollbot_approvals_total", {"approved"});
        return;  // the locks go with the run, under the same id
    }
    count(deps_.metrics,
          "rollbot_approvals_total",
          {std::string(to_string(handle->approval.state()))});
    deps_.locks.release(id);
}

asio::awaitable<Result<void>> ApprovalDesk::save(ApprovalHandle handle) {
    const OpenApproval& open = *handle;
    const StoredApproval stored{open.request, open.approval.snapshot(), open.body};
    auto saved = co_await deps_.store.save_approval(stored);
    if (!saved) {
        deps_.log->error(
            "state.approval_not_saved id={} error={}", open.request.id, saved.error().message);
        count(deps_.metrics, "rollbot_state_write_errors_total", {"approval"});
    }
    co_return saved;
}

ApprovalHandle ApprovalDesk::find_card(const MessageRef& item) const {
    for (const auto& [id, open] : open_) {
        const auto& card = open->approval.snapshot().card;
        if (card && *card == item) {
            return open;
        }
    }
    return nullptr;
}

}  // namespace rollbot::core
