// The approval half of the orchestrator: cards, reactions, expiry, cancel, restore after a
// restart, and the time-of-check re-plan before an approved downgrade runs (design §5).
#include "bot/orchestrator.hpp"
#include "bot/text.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <algorithm>

namespace rollbot::core {
namespace {

namespace asio = boost::asio;

bool is_closed(ApprovalState state) {
    return state != ApprovalState::Pending && state != ApprovalState::Approved;
}

std::string decision_detail(const ApprovalDecision& d, ApprovalState state) {
    return fmt::format("rule={} state={} changed={} why={}",
                       d.rule,
                       to_string(state),
                       d.changed,
                       log_quote(d.explanation));
}

}  // namespace

Result<void> Orchestrator::save(const PendingApproval& pending) {
    const StoredApproval stored{pending.request, pending.approval.snapshot(), pending.body};
    return deps_.store.save_approval(stored);
}

asio::awaitable<Result<Plan>> Orchestrator::resolve_plan(RollbackRequest request, RequestId id) {
    ClusterSnapshot before = co_await observe(affected_deployments(request.action), id);
    if (request.action == ActionKind::Db) {
        const DbTarget target = request.db.value_or(DbTarget{});
        auto database = co_await deps_.runbook.observe_database(target);
        if (!database) {
            co_return Error{ErrorKind::ProcessFailed,
                            "rollbot could not read the database's alembic revision, so it "
                            "cannot show what the downgrade would do: " +
                                database.error().message};
        }
        before.database = std::move(*database);
    }
    co_return deps_.runbook.plan(request, before);
}

asio::awaitable<std::string_view> Orchestrator::request_approval(
    SlashCommand cmd, Command command, std::chrono::steady_clock::time_point received) {
    const RollbackRequest request = *command.rollback;
    const ApprovalPolicy policy = *deps_.settings.approval_for(request.action);
    auto new_id = next_request_id();
    if (!new_id) {
        std::string text = deps_.reporter.refused(
            "rollbot cannot write its state, so it cannot "
            "hold an approval",
            std::nullopt,
            new_id.error().message);
        co_await reply(cmd.reply, std::move(text));
        co_return "refused";
    }
    const RequestId id = *new_id;
    const LockHolder holder{id, describe(request), cmd.user, deps_.clock.now()};
    if (auto busy = take_locks(request, holder)) {
        co_await reply(cmd.reply, std::move(*busy));
        co_return "busy";
    }
    record("request",
           id,
           cmd.user,
           fmt::format("request={} needs_approval=true reason={}",
                       log_quote(describe(request)),
                       log_quote(command.reason.value_or(""))));
    auto plan = co_await resolve_plan(request, id);
    if (!plan) {
        locks_.release(id);
        record("refused", id, cmd.user, "why=" + log_quote(plan.error().message));
        std::string text = deps_.reporter.refused(plan.error().message);
        co_await reply(cmd.reply, std::move(text));
        co_return "refused";
    }
    const StoredRequest stored{id, cmd.user, cmd.channel, cmd.text, holder.since};
    Approval approval{id, request.action, policy, cmd.user, plan->id, deps_.clock.now()};
    std::string body = deps_.reporter.approval_body(id, cmd.user, command.reason, *plan, policy);
    auto [it, inserted] = approvals_.emplace(
        id,
        PendingApproval{std::move(approval), stored, request, command.reason, body, received, {}});
    PendingApproval& pending = it->second;
    // Saved before the card is posted: a restart from here on restores the request.
    if (auto saved = save(pending); !saved) {
        approvals_.erase(id);
        locks_.release(id);
        deps_.log->error("state.approval_not_saved id={} error={}", id, saved.error().message);
        std::string text =
            deps_.reporter.refused("rollbot cannot write its state, so it cannot hold an approval",
                                   std::nullopt,
                                   saved.error().message);
        co_await reply(cmd.reply, std::move(text));
        co_return "refused";
    }
    std::string card_text = body + "\n" + deps_.reporter.approval_status(pending.approval);
    auto card = co_await post(deps_.settings.slack.incidents_channel, std::nullopt, card_text);
    it = approvals_.find(id);
    if (it == approvals_.end()) {
        co_return "approval_requested";
    }
    if (!card) {
        (void)it->second.approval.cancel(Reactor{it->second.request.requester, false, {}},
                                         deps_.clock.now());
        (void)save(it->second);
        record("approval",
               id,
               {},
               "state=cancelled why=" + log_quote("card not posted: " + card.error().message));
        close_approval(id);
        std::string text = deps_.reporter.refused(
            "rollbot could not post the approval card, so nobody could approve",
            std::nullopt,
            card.error().message);
        co_await reply(cmd.reply, std::move(text));
        co_return "refused";
    }
    it->second.approval.set_card(*card);
    if (auto saved = save(it->second); !saved) {
        deps_.log->error("state.approval_not_saved id={} error={}", id, saved.error().message);
    }
    record("approval",
           id,
           cmd.user,
           fmt::format("state=pending plan={} card={} expires_ms={}",
                       plan->id,
                       card->ts,
                       std::chrono::duration_cast<Duration>(policy.timeout).count()));
    arm_expiry(id);
    std::string text =
        fmt::format("{} needs approval: the card is in <#{}>. It expires in {} minutes.",
                    id.value,
                    deps_.settings.slack.incidents_channel.value,
                    std::chrono::duration_cast<std::chrono::minutes>(policy.timeout).count());
    co_await reply(cmd.reply, std::move(text));
    co_return "approval_requested";
}

asio::awaitable<void> Orchestrator::refresh_card_text(MessageRef card,
                                                      std::string body,
                                                      std::string status) {
    std::string text = body + "\n" + status;
    auto r = co_await deps_.chat.update(std::move(card), std::move(text));
    if (!r) {
        deps_.log->warn("chat.update failed error={}", r.error().message);
    }
}

asio::awaitable<void> Orchestrator::refresh_card(RequestId id, std::string note) {
    auto it = approvals_.find(id);
    if (it == approvals_.end() || !it->second.approval.snapshot().card) {
        co_return;
    }
    const MessageRef card = *it->second.approval.snapshot().card;
    std::string status = deps_.reporter.approval_status(it->second.approval, note);
    co_await refresh_card_text(card, it->second.body, std::move(status));
}

void Orchestrator::arm_expiry(const RequestId& id) {
    auto it = approvals_.find(id);
    if (it == approvals_.end()) {
        return;
    }
    it->second.timer = std::make_shared<asio::steady_timer>(executor_);
    spawn_background(expire_later(id), "approval.expiry");
}

asio::awaitable<void> Orchestrator::expire_later(RequestId id) {
    auto it = approvals_.find(id);
    if (it == approvals_.end()) {
        co_return;
    }
    if (!it->second.approval.can_expire()) {
        co_return;  // timeout 0: waits until approved, rejected or cancelled
    }
    const auto timer = it->second.timer;
    const auto left = it->second.approval.expires_at() - deps_.clock.now();
    timer->expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::max(left, std::chrono::system_clock::duration::zero())));
    auto [ec] = co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
    it = approvals_.find(id);
    if (ec || it == approvals_.end() || it->second.timer != timer) {
        co_return;  // closed, or re-armed by a new card
    }
    auto decision = it->second.approval.expire_if_due(deps_.clock.now());
    if (decision.changed) {
        co_await after_decision(id, std::move(decision));
    }
}

asio::awaitable<Result<Reactor>> Orchestrator::reactor_for(UserId user, ApprovalPolicy policy) {
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

asio::awaitable<void> Orchestrator::handle_reaction(ReactionEvent event) {
    if (!event.event_id.empty()) {
        auto first = deps_.store.first_time(
            "event:" + event.event_id + (event.added ? ":added" : ":removed"),
            deps_.clock.now(),
            Duration{std::chrono::hours(1)});
        if (first && !*first) {
            deps_.log->debug("reaction.duplicate event_id={}", event.event_id);
            co_return;
        }
    }
    auto it = std::find_if(approvals_.begin(), approvals_.end(), [&](const auto& entry) {
        const auto& card = entry.second.approval.snapshot().card;
        return card && *card == event.item;
    });
    if (it == approvals_.end()) {
        deps_.log->debug(
            "reaction.ignored user={} reaction={} ts={} (not on an open approval card)",
            event.user,
            event.reaction,
            event.item.ts);
        co_return;
    }
    const RequestId id = it->first;
    const ApprovalPolicy policy = it->second.approval.policy();
    auto reactor = co_await reactor_for(event.user, policy);
    it = approvals_.find(id);
    if (it == approvals_.end()) {
        co_return;
    }
    if (!reactor) {
        record("reaction",
               id,
               event.user,
               fmt::format("reaction={} added={} rule=lookup_failed error={}",
                           event.reaction,
                           event.added,
                           log_quote(reactor.error().message)));
        co_return;
    }
    auto decision = it->second.approval.on_reaction(event, *reactor, deps_.clock.now());
    record("reaction",
           id,
           event.user,
           fmt::format("reaction={} added={} {}",
                       event.reaction,
                       event.added,
                       decision_detail(decision, it->second.approval.state())));
    const bool approve_or_reject = base_reaction(event.reaction) == policy.approve_reaction ||
                                   base_reaction(event.reaction) == policy.reject_reaction;
    if (!decision.changed && event.added && approve_or_reject &&
        decision.rule != "already_counted") {
        const ReplyTarget to{event.item.channel, event.user, Secret{}};
        std::string text =
            "Your reaction on " + id.value + " did not count: " + decision.explanation;
        co_await reply(to, std::move(text));
    }
    if (decision.changed) {
        co_await after_decision(id, std::move(decision));
    }
}

asio::awaitable<void> Orchestrator::after_decision(RequestId id, ApprovalDecision decision) {
    auto it = approvals_.find(id);
    if (it == approvals_.end()) {
        co_return;
    }
    const ApprovalState state = it->second.approval.state();
    if (auto saved = save(it->second); !saved) {
        deps_.log->error("state.approval_not_saved id={} error={}", id, saved.error().message);
    }
    record("approval",
           id,
           it->second.approval.snapshot().decided_by.value_or(UserId{}),
           decision_detail(decision, state));
    co_await refresh_card(id, decision.explanation);
    if (state == ApprovalState::Approved && decision.rule == "approved") {  // the transition only
        co_await run_approved(id);
    } else if (is_closed(state)) {
        close_approval(id);
    }
}

void Orchestrator::close_approval(const RequestId& id) {
    auto it = approvals_.find(id);
    if (it == approvals_.end()) {
        return;
    }
    if (it->second.timer) {
        it->second.timer->cancel();
    }
    count("rollbot_approvals_total", {std::string(to_string(it->second.approval.state()))});
    approvals_.erase(it);
    locks_.release(id);
}

}  // namespace rollbot::core
