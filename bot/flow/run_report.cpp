// The end of a run: the verification after it, the report and its thread, and the runs a
// restart interrupted (RunExecutor's second half; run_executor.cpp has the first).
#include "bot/flow/run_executor.hpp"
#include "bot/text.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <fmt/format.h>

#include <algorithm>

namespace rollbot::core {

namespace asio = boost::asio;

asio::awaitable<void> RunExecutor::finish(Run& run) {
    if (run.state == RunState::Running) {
        run.state = run.plan.request.dry_run ? RunState::DryRun : RunState::Succeeded;
    }
    // Verified when something changed: a rollback that ended (well or not) after acting.
    const bool acted = run.marks.first_action.has_value() && !run.plan.request.dry_run &&
                       (run.state == RunState::Succeeded || run.state == RunState::Failed);
    if (acted) {
        co_await verify_after(run);
    } else {
        run.after =
            co_await deps_.plans.observe(affected_deployments(run.plan.request.action), run.id);
    }
    run.marks.finished = deps_.clock.steady_now();
    const std::string action(to_string(run.plan.request.action));
    std::string outcome = metric_label(run.state);
    if (run.state == RunState::Succeeded) {
        outcome = run.restored() ? "restored" : "not_restored";
    }
    count(deps_.metrics, "rollbot_runs_total", {action, outcome});
    if (deps_.metrics != nullptr) {
        const std::chrono::duration<double> took = *run.marks.finished - run.marks.received;
        deps_.metrics->observe("rollbot_run_duration_seconds", {action}, took.count());
    }
    co_await report(run);
    const RequestId id = run.id;
    deps_.locks.release(id);
    runs_.erase(id);
}

asio::awaitable<void> RunExecutor::verify_after(Run& run) {
    using namespace asio::experimental::awaitable_operators;
    const auto names = affected_deployments(run.plan.request.action);
    auto [after, verification, start] =
        co_await (deps_.plans.observe(names, run.id) &&
                  deps_.watch.verify_now(names, run.state == RunState::Succeeded) &&
                  deps_.watch.incident_start(run.plan, run.received_at));
    run.after = std::move(after);
    run.verification = std::move(verification);
    run.verdict = judge(*run.verification, deps_.settings.verify);
    run.incident_start = start.at;
    run.incident_note = std::move(start.note);
    const auto now = deps_.clock.steady_now();
    if (run.verification->health && run.verification->health->healthy) {
        run.marks.healthy = now;
    }
    // rollback.sh waits for its rollouts itself: its pods are healthy when rollbot sees them so.
    const auto& checks = run.verification->pods;
    const bool pods_healthy =
        !checks.empty() &&
        std::all_of(checks.begin(), checks.end(), [](const PodsCheck& c) { return c.healthy(); });
    if (!run.marks.rollout_done && run.state == RunState::Succeeded && pods_healthy) {
        run.marks.rollout_done = now;
    }
}

asio::awaitable<void> RunExecutor::report(Run& run) {
    // The report is stored before the run is recorded as finished: a restart in between
    // delivers it, and never reports the run as interrupted.
    OutboundMessage message{run.channel, std::nullopt, deps_.reporter.final_report(run)};
    auto ticket = co_await deps_.outbox.store(std::move(message), run.id.value + "/report");
    if (auto saved = co_await deps_.store.run_finished(run.id, run.state, deps_.clock.now());
        !saved) {
        co_await state_not_saved(run, "run_finished", saved.error());
    }
    std::string reasons;
    if (run.verdict) {
        for (const auto& reason : run.verdict->reasons) {
            reasons += (reasons.empty() ? "" : "; ") + reason;
        }
    }
    const auto elapsed =
        std::chrono::duration_cast<Duration>(*run.marks.finished - run.marks.received);
    const AuditEntry record{
        AuditKind::Report,
        run.id,
        {},
        fmt::format("state={} restored={} verdict={} elapsed_ms={}",
                    to_string(run.state),
                    run.restored(),
                    log_quote(run.verdict ? (run.verdict->restored ? "restored" : reasons)
                                          : "not verified"),
                    elapsed.count())};
    co_await deps_.audit.record(record);
    auto posted = co_await deps_.outbox.send(std::move(ticket));
    if (!posted) {
        deps_.log->warn("rollback.report_queued id={} error={} (the outbox retries it)",
                        run.id,
                        posted.error().message);
    }
    // The verification goes under the report; if the report is still queued, under the card.
    std::optional<MessageTs> thread;
    if (posted) {
        thread = posted->ts;
    } else if (run.card) {
        thread = run.card->ts;
    }
    co_await post_verification(run, thread);
    co_await update_card(run, Reporter::final_status(run));
    if (run.state == RunState::Succeeded && run.verification) {
        deps_.watch.start_window(WatchWindow{run.id,
                                             *run.verification,
                                             affected_deployments(run.plan.request.action),
                                             run.channel,
                                             thread});
    }
}

asio::awaitable<void> RunExecutor::post_verification(Run& run, std::optional<MessageTs> thread) {
    if (!run.verification || !run.verdict) {
        co_return;
    }
    const auto rows = time_table(
        run.marks, deps_.settings.targets, run.incident_start, run.received_at, run.incident_note);
    std::string text = deps_.reporter.verification_summary(
                           *run.verification, *run.verdict, deps_.settings.verify) +
                       "\n" + deps_.reporter.time_table(rows);
    OutboundMessage message{run.channel, std::move(thread), std::move(text)};
    auto posted = co_await deps_.outbox.post(std::move(message), run.id.value + "/verification");
    if (!posted) {
        deps_.log->warn(
            "rollback.verification_queued id={} error={}", run.id, posted.error().message);
    }
}

asio::awaitable<std::size_t> RunExecutor::report_interrupted() {
    auto interrupted = co_await deps_.store.interrupt_running(deps_.clock.now());
    if (!interrupted) {
        deps_.log->error("state.restore_failed error={}", interrupted.error().message);
        co_return 0;
    }
    for (auto& run : *interrupted) {
        co_await report_interrupted_run(std::move(run));
    }
    co_return interrupted->size();
}

asio::awaitable<void> RunExecutor::report_interrupted_run(StoredRun run) {
    std::string steps;
    for (const auto& s : run.steps) {
        steps += fmt::format("\n{}. `{}` — {}", s.n, s.command, to_string(s.outcome));
    }
    const AuditEntry record{
        AuditKind::Interrupted, run.id, {}, fmt::format("steps_finished={}", run.steps.size())};
    co_await deps_.audit.record(record);
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
    auto posted = co_await deps_.outbox.post(std::move(message), run.id.value + "/interrupted");
    if (!posted) {
        deps_.log->warn(
            "rollback.interrupted_queued id={} error={}", run.id, posted.error().message);
    }
}

}  // namespace rollbot::core
