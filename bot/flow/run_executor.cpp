// A run from its request to its last step; run_report.cpp has its end.
#include "bot/flow/run_executor.hpp"

#include "bot/flow/targets.hpp"
#include "bot/text.hpp"

#include <fmt/format.h>

namespace rollbot::core {

namespace asio = boost::asio;

RunExecutor::RunExecutor(RunExecutorDeps deps) : deps_(std::move(deps)) {}

asio::awaitable<CommandOutcome> RunExecutor::direct(
    SlashCommand cmd, Command command, std::chrono::steady_clock::time_point received) {
    const RollbackRequest request = *command.rollback;
    auto new_id = co_await deps_.store.next_request_id();
    if (!new_id) {
        co_await deps_.chat.reply(
            cmd.reply,
            deps_.reporter.refused(
                "rollbot cannot write its state", std::nullopt, new_id.error().message));
        co_return CommandOutcome::Refused;
    }
    const RequestId id = *new_id;
    const LockHolder holder{id, describe(request), cmd.user, deps_.clock.now()};
    if (!request.dry_run) {
        if (auto busy = take_targets(deps_.locks, request, holder, deps_.reporter, holder.since)) {
            co_await deps_.chat.reply(cmd.reply, std::move(*busy));
            co_return CommandOutcome::Busy;
        }
    }
    const AuditEntry record{AuditKind::Request,
                            id,
                            cmd.user,
                            fmt::format("request={} dry_run={} reason={}",
                                        log_quote(describe(request)),
                                        request.dry_run,
                                        log_quote(command.reason.value_or("")))};
    co_await deps_.audit.record(record);
    auto plan = co_await deps_.plans.resolve(request, id);
    if (!plan) {
        deps_.locks.release(id);
        co_await deps_.chat.reply(cmd.reply, deps_.reporter.refused(plan.error().message));
        co_return CommandOutcome::Refused;
    }
    RunStart start{id, cmd.user, command.reason, holder.since, received, std::move(*plan)};
    co_await execute(add_run(std::move(start)));
    co_return request.dry_run ? CommandOutcome::DryRun : CommandOutcome::Ran;
}

asio::awaitable<void> RunExecutor::start(RunStart start) {
    co_await execute(add_run(std::move(start)));
}

Run& RunExecutor::add_run(RunStart start) {
    Run& run = runs_[start.id];
    run.id = start.id;
    run.requester = std::move(start.requester);
    run.channel = deps_.settings.slack.incidents_channel;
    run.reason = std::move(start.reason);
    run.received_at = start.received_at;
    run.marks.received = start.received;
    run.plan = std::move(start.plan);
    return run;
}

asio::awaitable<void> RunExecutor::execute(Run& run) {
    // Through the outbox like every post of a run: if Slack is down the card still arrives,
    // later and in order (without it, steps then go to the channel instead of its thread).
    OutboundMessage card_message{
        run.channel, std::nullopt, deps_.reporter.request_card(run, "starting")};
    auto card = co_await deps_.outbox.post(std::move(card_message), run.id.value + "/card");
    if (card) {
        run.card = *card;
    } else {
        deps_.log->warn("rollback.card_queued id={} error={}", run.id, card.error().message);
    }
    const StoredRun stored{run.id,
                           run.requester,
                           describe(run.plan.request),
                           RunState::Running,
                           deps_.clock.now(),
                           std::nullopt,
                           run.card,
                           {}};
    if (auto saved = co_await deps_.store.run_started(stored); !saved) {
        co_await state_not_saved(run, "run_started", saved.error());
    }
    for (std::size_t i = 0; i < run.plan.steps.size() && run.state == RunState::Running; ++i) {
        co_await run_step(run, i);
    }
    co_await finish(run);
}

asio::awaitable<void> RunExecutor::run_step(Run& run, std::size_t index) {
    const Step step = run.plan.steps[index];
    if (step.effect == StepEffect::Change && !run.marks.first_action) {
        run.marks.first_action = deps_.clock.steady_now();
    }
    co_await update_card(
        run,
        fmt::format(
            "running step {}/{}: `{}`", index + 1, run.plan.steps.size(), display_command(step)));
    StepResult result = co_await perform(run, step);
    const StoredStep record{static_cast<int>(index + 1),
                            display_command(step),
                            result.outcome,
                            result.exit_code,
                            result.duration,
                            result.output_digest};
    const AuditEntry step_record{
        AuditKind::Step,
        run.id,
        {},
        fmt::format("n={} command={} outcome={} exit={} duration_ms={} digest={}",
                    record.n,
                    log_quote(record.command),
                    to_string(record.outcome),
                    result.exit_code ? std::to_string(*result.exit_code) : "none",
                    result.duration.count(),
                    result.output_digest)};
    co_await deps_.audit.record(step_record);
    if (auto saved = co_await deps_.store.step_finished(run.id, record); !saved) {
        co_await state_not_saved(run, "step", saved.error());
    }
    run.results.push_back(std::move(result));
    const StepResult& done = run.results.back();
    if (done.ok() && step.phase == Phase::Script) {
        run.marks.script_done = deps_.clock.steady_now();
    }
    if (done.ok() && step.phase == Phase::Rollout) {
        run.marks.rollout_done = deps_.clock.steady_now();
    }
    co_await post_step_line(run, index);
    if (done.outcome == StepOutcome::NoChange) {
        run.state = RunState::NoChange;
    } else if (done.outcome == StepOutcome::Cancelled) {
        run.state = RunState::Cancelled;
    } else if (!done.ok()) {
        run.state = RunState::Failed;
    }
}

asio::awaitable<StepResult> RunExecutor::perform(Run& run, Step step) {
    if (step.kind != StepKind::KubectlRolloutStatus || step.deployment.empty()) {
        co_return co_await deps_.runbook.run(std::move(step));
    }
    // A rollout: the crash-loop watch runs beside it, from the revision it started at.
    const auto& before = run.plan.before.deployments;
    const auto it = before.find(step.deployment);
    const std::int64_t revision_before = it == before.end() ? 0 : it->second.revision;
    WatchedStep watched =
        co_await deps_.watch.run_watched(std::move(step), revision_before, run.id);
    if (!watched.failure.empty()) {
        run.rollout_failure = watched.failure;
    }
    co_return std::move(watched.result);
}

asio::awaitable<void> RunExecutor::post_step_line(Run& run, std::size_t index) {
    std::optional<MessageTs> thread;
    if (run.card) {
        thread = run.card->ts;
    }
    OutboundMessage line{run.channel, thread, deps_.reporter.step_line(run, index)};
    auto posted =
        co_await deps_.outbox.post(std::move(line), fmt::format("{}/step{}", run.id, index + 1));
    if (!posted) {
        deps_.log->warn("rollback.step_line_queued id={} error={}", run.id, posted.error().message);
    }
}

asio::awaitable<void> RunExecutor::update_card(Run& run, std::string status) {
    if (!run.card) {
        co_return;
    }
    co_await deps_.chat.update(
        *run.card, deps_.reporter.request_card(run, status), fmt::format("id={} ", run.id));
}

asio::awaitable<void> RunExecutor::state_not_saved(Run& run, std::string what, Error error) {
    deps_.log->error("state.not_saved id={} what={} error={}", run.id, what, error.message);
    count(deps_.metrics, "rollbot_state_write_errors_total", {what});
    if (run.state_warned) {
        co_return;
    }
    run.state_warned = true;
    std::optional<MessageTs> thread;
    if (run.card) {
        thread = run.card->ts;
    }
    auto posted = co_await deps_.chat.post(
        run.channel, thread, deps_.reporter.state_not_saved(run, error.message));
    if (!posted) {
        deps_.log->error("state.warning_not_posted id={} error={}", run.id, posted.error().message);
    }
}

asio::awaitable<void> RunExecutor::stop_for_shutdown() {
    // Every run is marked before the first record is awaited: runs_ may change while a
    // record is being written.
    std::vector<RequestId> stopped;
    for (auto& [id, run] : runs_) {
        run.stopped_by_shutdown = true;
        stopped.push_back(id);
    }
    for (const auto& id : stopped) {
        const AuditEntry record{
            AuditKind::Shutdown, id, {}, "why=\"grace period over: running step stopped\""};
        co_await deps_.audit.record(record);
    }
}

}  // namespace rollbot::core
