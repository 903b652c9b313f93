// Approved requests becoming runs (with the time-of-check re-plan), cancel, the audit
// timeline, and what happens after a restart.
#include "bot/orchestrator.hpp"
#include "bot/text.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <algorithm>

namespace rollbot::core {
namespace {

namespace asio = boost::asio;

}  // namespace

asio::awaitable<void> Orchestrator::run_approved(RequestId id) {
    auto it = approvals_.find(id);
    if (it == approvals_.end()) {
        co_return;
    }
    const RollbackRequest request = it->second.rollback;
    auto plan = co_await resolve_plan(request, id);
    it = approvals_.find(id);
    if (it == approvals_.end() || it->second.approval.state() != ApprovalState::Approved) {
        co_return;  // cancelled or withdrawn while the plan was being checked
    }
    PendingApproval& pending = it->second;
    if (!plan || plan->id != pending.approval.snapshot().plan_id) {
        const std::string new_plan = plan ? plan->id : std::string("unreadable");
        auto decision = pending.approval.supersede(new_plan);
        if (auto saved = save(pending); !saved) {
            deps_.log->error("state.approval_not_saved id={} error={}", id, saved.error().message);
        }
        std::string why = plan ? fmt::format(
                                     "the plan changed between approval and execution "
                                     "(plan {} is now {}): nothing ran; a new card asks "
                                     "again",
                                     pending.approval.snapshot().plan_id,
                                     plan->id)
                               : "rollbot could not check the plan again before running it: " +
                                     templates::escape_mrkdwn(plan.error().message) +
                                     ". Nothing ran.";
        record("approval",
               id,
               {},
               fmt::format("rule={} state=superseded why={}", decision.rule, log_quote(why)));
        co_await refresh_card(id, why);
        it = approvals_.find(id);
        if (!plan || it == approvals_.end()) {
            close_approval(id);
            co_return;
        }
        if (it->second.timer) {
            it->second.timer->cancel();
        }
        const ApprovalPolicy policy = it->second.approval.policy();
        const UserId requester = it->second.request.requester;
        it->second.approval =
            Approval{id, request.action, policy, requester, plan->id, deps_.clock.now()};
        it->second.body =
            deps_.reporter.approval_body(id, requester, it->second.reason, *plan, policy);
        std::string card_text =
            it->second.body + "\n" + deps_.reporter.approval_status(it->second.approval);
        auto card = co_await post(deps_.settings.slack.incidents_channel, std::nullopt, card_text);
        it = approvals_.find(id);
        if (!card || it == approvals_.end()) {
            close_approval(id);
            co_return;
        }
        it->second.approval.set_card(*card);
        if (auto saved = save(it->second); !saved) {
            deps_.log->error("state.approval_not_saved id={} error={}", id, saved.error().message);
        }
        record(
            "approval", id, {}, fmt::format("state=pending plan={} card={}", plan->id, card->ts));
        arm_expiry(id);
        co_return;
    }
    pending.approval.start_execution();
    if (auto saved = save(pending); !saved) {
        // Without a durable record, a restart could not tell that this ran: do not run it.
        deps_.log->error("state.approval_not_saved id={} error={}", id, saved.error().message);
        co_await refresh_card(id,
                              "rollbot could not record the approval, so it did not run: " +
                                  templates::escape_mrkdwn(saved.error().message));
        close_approval(id);
        co_return;
    }
    record("approval", id, {}, "state=executing plan=" + plan->id);
    co_await refresh_card(id, "Approved: running now. Progress is on the run's message.");
    it = approvals_.find(id);
    Run& run = runs_[id];
    run.id = id;
    run.requester = it->second.request.requester;
    run.channel = deps_.settings.slack.incidents_channel;
    run.reason = it->second.reason;
    run.received_at = it->second.request.received_at;
    run.marks.received = it->second.received;
    run.plan = std::move(*plan);
    if (it->second.timer) {
        it->second.timer->cancel();
    }
    approvals_.erase(it);  // the lock stays with the run, under the same id
    count("rollbot_approvals_total", {"approved"});
    co_await execute(id);
}

asio::awaitable<void> Orchestrator::cancel(SlashCommand cmd, Command command) {
    std::optional<RequestId> id = command.id;
    if (!id) {
        // The newest of the user's own requests (by time: "R10" sorts before "R9").
        std::optional<WallTime> newest;
        for (const auto& [open_id, pending] : approvals_) {
            if (pending.request.requester == cmd.user &&
                (!newest || pending.request.received_at >= *newest)) {
                newest = pending.request.received_at;
                id = open_id;
            }
        }
    }
    if (!id) {
        co_await reply(cmd.reply,
                       deps_.reporter.refused("you have no request waiting for approval"));
        co_return;
    }
    if (runs_.contains(*id)) {
        std::string text = deps_.reporter.refused(fmt::format(
            "{} is already running; rollbot does not stop a runbook step half-way", id->value));
        co_await reply(cmd.reply, std::move(text));
        co_return;
    }
    auto it = approvals_.find(*id);
    if (it == approvals_.end()) {
        std::string text =
            deps_.reporter.refused(fmt::format("{} has no open approval to cancel", id->value));
        co_await reply(cmd.reply, std::move(text));
        co_return;
    }
    const ApprovalPolicy policy = it->second.approval.policy();
    auto reactor = co_await reactor_for(cmd.user, policy);
    it = approvals_.find(*id);
    if (!reactor || it == approvals_.end()) {
        co_await reply(cmd.reply, deps_.reporter.refused("rollbot could not check who you are"));
        co_return;
    }
    auto decision = it->second.approval.cancel(*reactor, deps_.clock.now());
    if (!decision.changed) {
        record("cancel", *id, cmd.user, "rule=" + decision.rule);
        co_await reply(cmd.reply, deps_.reporter.refused(decision.explanation));
        co_return;
    }
    std::string text = fmt::format("{} is cancelled. Nothing ran.", id->value);
    co_await after_decision(*id, std::move(decision));
    co_await reply(cmd.reply, std::move(text));
}

asio::awaitable<void> Orchestrator::show_log(SlashCommand cmd, Command command) {
    std::optional<RequestId> id = command.id;
    if (!id) {
        auto recent = deps_.store.recent_runs(1);
        if (recent && !recent->empty()) {
            id = recent->front().id;
        }
    }
    if (!id) {
        co_await reply(cmd.reply, deps_.reporter.refused("there is no run to show yet"));
        co_return;
    }
    auto records = deps_.store.audit_log(id->value);
    if (!records) {
        co_await reply(
            cmd.reply,
            deps_.reporter.refused(
                "rollbot cannot read its audit trail", std::nullopt, records.error().message));
        co_return;
    }
    auto run = deps_.store.find_run(*id);
    std::string what;
    std::optional<MessageRef> card;
    if (run && *run) {
        what = (*run)->what;
        card = (*run)->card;
    }
    std::string text = deps_.reporter.timeline(*id, what, *records);
    if (card) {
        auto posted = co_await post(card->channel, card->ts, std::move(text));
        if (posted) {
            co_return;
        }
        text = deps_.reporter.timeline(*id, what, *records);
    }
    co_await reply(cmd.reply, std::move(text));
}

asio::awaitable<void> Orchestrator::report_interrupted(StoredRun run) {
    std::string steps;
    for (const auto& s : run.steps) {
        steps += fmt::format("\n{}. `{}` — {}", s.n, s.command, s.outcome);
    }
    record("interrupted", run.id, {}, fmt::format("steps_finished={}", run.steps.size()));
    std::string text = fmt::format(
        "⚠️ *{} was interrupted*: {} by {}. rollbot stopped while it was running, so its "
        "outcome is unknown.{}{}\nIt will not be re-run by itself: check `/rollback status`, "
        "then decide.",
        run.id.value,
        run.what,
        mention(run.requester),
        run.steps.empty() ? "\nNo step had finished." : "\nSteps that had finished:",
        steps);
    std::optional<MessageTs> thread;
    if (run.card) {
        thread = run.card->ts;
    }
    OutboundMessage message{deps_.settings.slack.incidents_channel, thread, std::move(text)};
    auto posted = co_await outbox_.post(std::move(message), run.id.value + "/interrupted");
    if (!posted) {
        deps_.log->warn(
            "rollback.interrupted_queued id={} error={}", run.id, posted.error().message);
    }
}

void Orchestrator::restore_approval(StoredApproval stored) {
    const RequestId id = stored.request.id;
    auto parsed = parse_command(stored.request.command_text);
    const ApprovalPolicy* policy = parsed && parsed->rollback
                                       ? deps_.settings.approval_for(parsed->rollback->action)
                                       : nullptr;
    if (policy == nullptr) {
        deps_.log->warn("approval.not_restored id={} (its command or policy is gone)", id);
        stored.approval.state = ApprovalState::Cancelled;
        if (auto saved = deps_.store.save_approval(stored); !saved) {
            deps_.log->error("state.approval_not_saved id={} error={}", id, saved.error().message);
        }
        record("approval", id, {}, "state=cancelled why=\"not restorable after restart\"");
        return;
    }
    const LockHolder holder{
        id, describe(*parsed->rollback), stored.request.requester, stored.request.received_at};
    if (auto busy = locks_.try_acquire(lock_targets(parsed->rollback->action), holder)) {
        deps_.log->error("approval.lock_conflict id={} holder={}", id, busy->holder.id);
    }
    Approval approval{stored.approval, *policy};
    approvals_.emplace(id,
                       PendingApproval{std::move(approval),
                                       stored.request,
                                       *parsed->rollback,
                                       parsed->reason,
                                       stored.card_text,
                                       deps_.clock.steady_now(),
                                       {}});
    record("approval", id, {}, "state=restored");
}

asio::awaitable<void> Orchestrator::restore() {
    outbox_.start();  // reports an earlier run of the daemon could not deliver go first
    auto interrupted = deps_.store.interrupt_running(deps_.clock.now());
    if (!interrupted) {
        deps_.log->error("state.restore_failed error={}", interrupted.error().message);
    } else {
        for (auto& run : *interrupted) {
            co_await report_interrupted(std::move(run));
        }
    }
    auto open = deps_.store.open_approvals();
    if (!open) {
        deps_.log->error("state.restore_failed error={}", open.error().message);
        co_return;
    }
    for (auto& stored : *open) {
        restore_approval(std::move(stored));
    }
    std::vector<RequestId> ids;
    for (const auto& [id, pending] : approvals_) {
        ids.push_back(id);
    }
    for (const auto& id : ids) {
        auto it = approvals_.find(id);
        auto decision = it->second.approval.expire_if_due(deps_.clock.now());
        if (decision.changed) {
            co_await after_decision(id, std::move(decision));
            continue;
        }
        arm_expiry(id);
        if (!it->second.approval.snapshot().card) {  // died before its card was posted
            std::string text = it->second.body + "\n" +
                               deps_.reporter.approval_status(it->second.approval,
                                                              "rollbot restarted; this request "
                                                              "is still waiting.");
            auto card = co_await post(deps_.settings.slack.incidents_channel, std::nullopt, text);
            it = approvals_.find(id);
            if (card && it != approvals_.end()) {
                it->second.approval.set_card(*card);
                (void)save(it->second);
            }
        } else {
            co_await refresh_card(id, "rollbot restarted; this request is still waiting.");
        }
        it = approvals_.find(id);
        if (it != approvals_.end() && it->second.approval.state() == ApprovalState::Approved) {
            spawn(run_approved(id), "approval.run");
        }
    }
    deps_.log->info("state.restored approvals={} interrupted_runs={}",
                    approvals_.size(),
                    interrupted ? interrupted->size() : 0);
}

}  // namespace rollbot::core

namespace rollbot::core {

asio::awaitable<bool> Orchestrator::idle_within(Duration within) {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer deadline(executor_, within);
    constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
    while (active_ > 0 && deadline.expiry() > asio::steady_timer::clock_type::now()) {
        co_await (idle_.async_wait(nothrow) || deadline.async_wait(nothrow));
    }
    co_return active_ == 0;
}

asio::awaitable<void> Orchestrator::shutdown(std::string why, Duration grace, Duration flush) {
    // After the grace period the steps are killed; this bounds the wait for their reports.
    constexpr Duration kAfterKill = 15s;
    stopping_ = true;
    std::vector<std::string> approvals;
    for (const auto& [id, pending] : approvals_) {
        approvals.push_back(fmt::format("{}: {} (requested by {})",
                                        id.value,
                                        describe(pending.rollback),
                                        pending.request.requester.value));
    }
    std::vector<std::string> running;
    for (const auto& [id, run] : runs_) {
        running.push_back(fmt::format("{}: {}", id.value, describe(run.plan.request)));
    }
    deps_.log->info("daemon.shutdown why={} runs={} approvals={} commands={} outbox={}",
                    log_quote(why),
                    running.size(),
                    approvals.size(),
                    active_,
                    outbox_.depth());
    if (!approvals.empty() || !running.empty()) {
        const OutboundMessage notice{
            deps_.settings.slack.incidents_channel,
            std::nullopt,
            deps_.reporter.shutdown_notice(why, approvals, running, grace)};
        const auto key = fmt::format(
            "shutdown/{}",
            std::chrono::duration_cast<Duration>(deps_.clock.now().time_since_epoch()).count());
        outbox_.post_later(notice, key);
    }
    if (!co_await idle_within(grace)) {
        deps_.log->warn(
            "daemon.grace_over runs={} commands={}: stopping their steps", runs_.size(), active_);
        for (auto& [id, run] : runs_) {
            run.stopped_by_shutdown = true;
            record("shutdown", id, {}, "why=\"grace period over: running step stopped\"");
        }
        deps_.runbook.cancel_all();
        if (!co_await idle_within(kAfterKill)) {
            deps_.log->error(
                "daemon.commands_left commands={} (their runs are reported as "
                "interrupted after the restart)",
                active_);
        }
    }
    const bool drained = co_await outbox_.drain(flush);
    deps_.log->info("daemon.shutdown_done outbox_drained={} left={}", drained, outbox_.depth());
}

}  // namespace rollbot::core
