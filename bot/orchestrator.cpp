#include "bot/orchestrator.hpp"

#include "bot/text.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>

namespace rollbot::core {
namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

}  // namespace

Orchestrator::Orchestrator(asio::any_io_executor executor, OrchestratorDeps deps)
    : executor_(std::move(executor)),
      deps_(std::move(deps)),
      outbox_(executor_, deps_.chat, deps_.store, deps_.log),
      idle_(executor_, asio::steady_timer::time_point::max()) {}

void Orchestrator::on_inbound(Inbound event) {
    if (stopping_) {
        deps_.log->info("inbound.dropped why=\"rollbot is stopping\"");
        return;
    }
    if (auto* cmd = std::get_if<SlashCommand>(&event)) {
        spawn(handle_command(std::move(*cmd), deps_.clock.steady_now()), "command");
        return;
    }
    spawn(handle_reaction(std::move(std::get<ReactionEvent>(event))), "reaction");
}

void Orchestrator::spawn(asio::awaitable<void> task, std::string name) {
    ++active_;
    asio::co_spawn(
        executor_, std::move(task), [this, name = std::move(name)](const std::exception_ptr& e) {
            task_done(name, e);
        });
}

void Orchestrator::spawn_background(asio::awaitable<void> task, std::string name) {
    asio::co_spawn(
        executor_, std::move(task), [this, name = std::move(name)](const std::exception_ptr& e) {
            if (!e) {
                return;
            }
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                deps_.log->error("task.failed name={} error={}", name, ex.what());
            } catch (...) {
                deps_.log->error("task.failed name={} error=unknown", name);
            }
        });
}

void Orchestrator::task_done(const std::string& name, const std::exception_ptr& error) {
    if (error) {
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& ex) {
            deps_.log->error("task.failed name={} error={}", name, ex.what());
        } catch (...) {
            deps_.log->error("task.failed name={} error=unknown", name);
        }
    }
    if (--active_ == 0) {
        idle_.cancel();
    }
}

asio::awaitable<void> Orchestrator::wait_idle() {
    while (active_ > 0) {
        co_await idle_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

std::optional<std::string> Orchestrator::take_locks(const RollbackRequest& request,
                                                    const LockHolder& holder) {
    auto busy = locks_.try_acquire(lock_targets(request.action), holder);
    if (!busy) {
        return std::nullopt;
    }
    const auto& by = busy->holder;
    const auto age = std::chrono::duration_cast<Duration>(deps_.clock.now() - by.since);
    return deps_.reporter.busy(busy->target, by.id, by.what, by.user, age);
}

void Orchestrator::count(std::string_view name, Metrics::LabelValues labels) {
    if (deps_.metrics != nullptr) {
        deps_.metrics->add(name, labels);
    }
}

Result<RequestId> Orchestrator::next_request_id() {
    return deps_.store.next_request_id();
}

void Orchestrator::record(std::string_view kind,
                          const RequestId& id,
                          const UserId& actor,
                          const std::string& detail) {
    deps_.audit->info(
        "{} id={} actor={} {}", kind, id, actor.empty() ? "rollbot" : actor.value, detail);
    auto written = deps_.store.audit(std::string(kind),
                                     id.value,
                                     actor.empty() ? std::string("rollbot") : actor.value,
                                     detail,
                                     deps_.clock.now());
    if (!written) {
        deps_.log->error(
            "audit.write_failed id={} kind={} error={}", id, kind, written.error().message);
        count("rollbot_state_write_errors_total", {"audit"});
    }
}

asio::awaitable<void> Orchestrator::reply(ReplyTarget to, std::string text) {
    auto r = co_await deps_.chat.reply(std::move(to), Visibility::Ephemeral, std::move(text));
    if (!r) {
        deps_.log->warn("chat.reply failed error={}", r.error().message);
    }
}

// Builds the message here: a braced temporary as a coroutine argument inside co_await is
// miscompiled by GCC 12 (deploy/lint/coroutine_args.py explains and checks it).
asio::awaitable<Result<MessageRef>> Orchestrator::post(ChannelId channel,
                                                       std::optional<MessageTs> thread,
                                                       std::string text) {
    OutboundMessage message{std::move(channel), std::move(thread), std::move(text)};
    co_return co_await deps_.chat.post(std::move(message));
}

asio::awaitable<void> Orchestrator::handle_command(SlashCommand cmd,
                                                   std::chrono::steady_clock::time_point received) {
    deps_.audit->info(
        "command user={} channel={} text={}", cmd.user, cmd.channel, log_quote(cmd.text));
    auto parsed = parse_command(cmd.text);
    if (!parsed) {
        if (cmd.channel != deps_.settings.slack.incidents_channel) {
            count("rollbot_commands_total", {"unknown", "wrong_channel"});
            co_await reply(cmd.reply,
                           deps_.reporter.refused("rollbot takes commands only in",
                                                  deps_.settings.slack.incidents_channel));
            co_return;
        }
        count("rollbot_commands_total", {"unknown", "usage_error"});
        deps_.audit->info(
            "command.rejected user={} error={}", cmd.user, log_quote(parsed.error().message));
        co_await reply(cmd.reply, deps_.reporter.usage_error(parsed.error().message));
        co_return;
    }
    const Command command = *parsed;
    const std::string kind = command.rollback ? std::string(to_string(command.rollback->action))
                                              : std::string(to_string(command.kind));
    if (!co_await allowed(cmd, command.kind)) {
        count("rollbot_commands_total", {kind, "refused"});
        co_return;
    }
    std::string_view outcome = "answered";
    switch (command.kind) {
        case CommandKind::Overview:
            co_await show_status(std::move(cmd), true);
            break;
        case CommandKind::Help:
            co_await reply(cmd.reply, deps_.reporter.help());
            break;
        case CommandKind::Status:
            co_await show_status(std::move(cmd), false);
            break;
        case CommandKind::Rollback:
            outcome = co_await rollback(std::move(cmd), command, received);
            break;
        case CommandKind::Cancel:
            co_await cancel(std::move(cmd), command);
            break;
        case CommandKind::Log:
            co_await show_log(std::move(cmd), command);
            break;
        case CommandKind::History:
            co_await show_history(std::move(cmd), command);
            break;
        case CommandKind::Verify:
            co_await show_verify(std::move(cmd));
            break;
        case CommandKind::Advise:
            co_await show_advice(std::move(cmd));
            break;
    }
    count("rollbot_commands_total", {kind, std::string(outcome)});
}

asio::awaitable<bool> Orchestrator::allowed(SlashCommand cmd, CommandKind kind) {
    UserInfo user{cmd.user, cmd.user_name, false, false};
    auto info = co_await deps_.directory.user_info(cmd.user);
    if (info) {
        user = *info;
    } else if (needs_operator(kind)) {
        co_await reply(cmd.reply,
                       deps_.reporter.refused("rollbot could not look you up, so it cannot check "
                                              "that you may do this",
                                              std::nullopt,
                                              info.error().message));
        co_return false;
    }
    std::vector<UsergroupId> groups;
    if (needs_operator(kind)) {
        for (const auto& g : deps_.settings.access.operators.usergroups) {
            auto members = co_await deps_.directory.usergroup_members(g);
            if (members &&
                std::find(members->begin(), members->end(), cmd.user) != members->end()) {
                groups.push_back(g);
            } else if (!members) {
                deps_.log->warn(
                    "access.usergroup_lookup_failed group={} error={}", g, members.error().message);
            }
        }
    }
    const auto decision = decide_access(deps_.settings, cmd.channel, user, kind, groups);
    if (decision.verdict == AccessVerdict::Allowed) {
        co_return true;
    }
    deps_.audit->info("command.refused user={} channel={} kind={} why={}",
                      cmd.user,
                      cmd.channel,
                      to_string(kind),
                      log_quote(decision.reason));
    std::optional<ChannelId> where;
    if (decision.verdict == AccessVerdict::WrongChannel) {
        where = deps_.settings.slack.incidents_channel;
    }
    std::string text = deps_.reporter.refused(decision.reason, where);
    co_await reply(cmd.reply, std::move(text));
    co_return false;
}

asio::awaitable<void> Orchestrator::show_history(SlashCommand cmd, Command command) {
    std::vector<DeploymentStatus> deployments;
    for (const auto& [name, config] : deps_.settings.kubernetes.deployments) {
        if (command.deployment && *command.deployment != name) {
            continue;
        }
        auto state = co_await deps_.runbook.observe(name);
        deployments.push_back(DeploymentStatus{name,
                                               state ? std::optional(*state) : std::nullopt,
                                               state ? std::string{} : state.error().message});
    }
    std::string text = deps_.reporter.history(deployments, deps_.clock.now());
    co_await reply(cmd.reply, std::move(text));
}

asio::awaitable<void> Orchestrator::show_status(SlashCommand cmd, bool with_help) {
    std::vector<DeploymentStatus> deployments;
    std::vector<std::string> names;
    for (const auto& [name, config] : deps_.settings.kubernetes.deployments) {
        auto state = co_await deps_.runbook.observe(name);
        deployments.push_back(DeploymentStatus{name,
                                               state ? std::optional(*state) : std::nullopt,
                                               state ? std::string{} : state.error().message});
        names.push_back(name);
    }
    auto [health, rate, pods] =
        co_await (deps_.verifier.check_health() && deps_.verifier.error_rate() &&
                  observe_pods(std::move(names)));
    for (std::size_t i = 0; i < deployments.size() && i < pods.size(); ++i) {
        deployments[i].pods = std::move(pods[i]);
    }
    // Which targets each request holds, for "who holds the lock".
    std::map<RequestId, std::string> holds;
    for (const auto& [target, holder] : locks_.held()) {
        auto& text = holds[holder.id];
        text += (text.empty() ? "" : ", ") + target;
    }
    std::vector<ActiveRun> runs;
    for (const auto& [id, run] : runs_) {
        runs.push_back(ActiveRun{id,
                                 describe(run.plan.request),
                                 run.requester,
                                 std::string(to_string(run.state)),
                                 run.received_at,
                                 holds[id]});
    }
    for (const auto& [id, pending] : approvals_) {
        runs.push_back(ActiveRun{id,
                                 describe(pending.rollback),
                                 pending.request.requester,
                                 fmt::format("approval {}", to_string(pending.approval.state())),
                                 pending.request.received_at,
                                 holds[id]});
    }
    const ServiceNow service{std::move(health), std::move(rate)};
    std::string text = deps_.reporter.status(deployments, runs, deps_.clock.now(), service);
    if (with_help) {
        text = deps_.reporter.help() + "\n" + text;
    }
    co_await reply(cmd.reply, std::move(text));
}

asio::awaitable<std::string_view> Orchestrator::rollback(
    SlashCommand cmd, Command command, std::chrono::steady_clock::time_point received) {
    RollbackRequest request = *command.rollback;
    request.dry_run = request.dry_run || deps_.force_dry_run;
    if (!request.dry_run && deps_.settings.approval_for(request.action) != nullptr) {
        command.rollback = request;
        co_return co_await request_approval(std::move(cmd), std::move(command), received);
    }
    auto new_id = next_request_id();
    if (!new_id) {
        co_await reply(cmd.reply,
                       deps_.reporter.refused(
                           "rollbot cannot write its state", std::nullopt, new_id.error().message));
        co_return "refused";
    }
    const RequestId id = *new_id;
    const LockHolder holder{id, describe(request), cmd.user, deps_.clock.now()};
    if (!request.dry_run) {
        if (auto busy = take_locks(request, holder)) {
            co_await reply(cmd.reply, std::move(*busy));
            co_return "busy";
        }
    }
    record("request",
           id,
           cmd.user,
           fmt::format("request={} dry_run={} reason={}",
                       log_quote(describe(request)),
                       request.dry_run,
                       log_quote(command.reason.value_or(""))));
    auto plan = co_await resolve_plan(request, id);
    if (!plan) {
        locks_.release(id);
        co_await reply(cmd.reply, deps_.reporter.refused(plan.error().message));
        co_return "refused";
    }
    Run& run = runs_[id];
    run.id = id;
    run.requester = cmd.user;
    run.channel = deps_.settings.slack.incidents_channel;
    run.reason = command.reason;
    run.received_at = holder.since;
    run.marks.received = received;
    run.plan = std::move(*plan);
    co_await execute(id);
    co_return request.dry_run ? "dry_run" : "ran";
}

asio::awaitable<ClusterSnapshot> Orchestrator::observe(std::vector<std::string> names,
                                                       RequestId id) {
    ClusterSnapshot snapshot;
    for (const auto& name : names) {
        auto state = co_await deps_.runbook.observe(name);
        if (state) {
            snapshot.deployments[name] = *state;
        } else {
            deps_.log->warn("rollback.observe_failed id={} deployment={} error={}",
                            id,
                            name,
                            state.error().message);
        }
    }
    co_return snapshot;
}

asio::awaitable<void> Orchestrator::update_card(RequestId id, std::string status) {
    Run& run = runs_.at(id);
    if (!run.card) {
        co_return;
    }
    auto r = co_await deps_.chat.update(*run.card, deps_.reporter.request_card(run, status));
    if (!r) {
        deps_.log->warn("chat.update failed id={} error={}", id, r.error().message);
    }
}

asio::awaitable<void> Orchestrator::state_not_saved(RequestId id, std::string what, Error error) {
    deps_.log->error("state.not_saved id={} what={} error={}", id, what, error.message);
    count("rollbot_state_write_errors_total", {what});
    Run& run = runs_.at(id);
    if (run.state_warned) {
        co_return;
    }
    run.state_warned = true;
    std::optional<MessageTs> thread;
    if (run.card) {
        thread = run.card->ts;
    }
    OutboundMessage warning{
        run.channel, thread, deps_.reporter.state_not_saved(run, error.message)};
    auto posted = co_await deps_.chat.post(std::move(warning));
    if (!posted) {
        deps_.log->error("state.warning_not_posted id={} error={}", id, posted.error().message);
    }
}

asio::awaitable<void> Orchestrator::execute(RequestId id) {
    Run& run = runs_.at(id);
    // Through the outbox like every post of a run: if Slack is down the card still arrives,
    // later and in order (without it, steps then go to the channel instead of its thread).
    OutboundMessage card_message{
        run.channel, std::nullopt, deps_.reporter.request_card(run, "starting")};
    auto card = co_await outbox_.post(std::move(card_message), id.value + "/card");
    if (card) {
        run.card = *card;
    } else {
        deps_.log->warn("rollback.card_queued id={} error={}", id, card.error().message);
    }
    const StoredRun stored{id,
                           run.requester,
                           describe(run.plan.request),
                           "running",
                           deps_.clock.now(),
                           std::nullopt,
                           run.card,
                           {}};
    if (auto saved = deps_.store.run_started(stored); !saved) {
        co_await state_not_saved(id, "run_started", saved.error());
    }
    const auto& steps = run.plan.steps;
    for (std::size_t i = 0; i < steps.size() && run.state == RunState::Running; ++i) {
        const Step& step = steps[i];
        if (step.effect == StepEffect::Change && !run.marks.first_action) {
            run.marks.first_action = deps_.clock.steady_now();
        }
        co_await update_card(
            id,
            fmt::format("running step {}/{}: `{}`", i + 1, steps.size(), display_command(step)));
        StepResult result;
        if (step.kind == StepKind::KubectlRolloutStatus && !step.deployment.empty()) {
            result = co_await run_watched(step, id);
        } else {
            result = co_await deps_.runbook.run(step);
        }
        const StoredStep step_record{static_cast<int>(i + 1),
                                     display_command(step),
                                     std::string(to_string(result.outcome)),
                                     result.exit_code,
                                     result.duration,
                                     result.output_digest};
        record("step",
               id,
               {},
               fmt::format("n={} command={} outcome={} exit={} duration_ms={} digest={}",
                           step_record.n,
                           log_quote(step_record.command),
                           step_record.outcome,
                           result.exit_code ? std::to_string(*result.exit_code) : "none",
                           result.duration.count(),
                           result.output_digest));
        if (auto saved = deps_.store.step_finished(id, step_record); !saved) {
            co_await state_not_saved(id, "step", saved.error());
        }
        run.results.push_back(std::move(result));
        const StepResult& done = run.results.back();
        if (done.ok() && step.phase == Phase::Script) {
            run.marks.script_done = deps_.clock.steady_now();
        }
        if (done.ok() && step.phase == Phase::Rollout) {
            run.marks.rollout_done = deps_.clock.steady_now();
        }
        std::optional<MessageTs> thread;
        if (run.card) {
            thread = run.card->ts;
        }
        OutboundMessage line{
            run.channel, thread, deps_.reporter.step_line(run, run.results.size() - 1)};
        auto posted = co_await outbox_.post(std::move(line), fmt::format("{}/step{}", id, i + 1));
        if (!posted) {
            deps_.log->warn("rollback.step_line_queued id={} error={}", id, posted.error().message);
        }
        if (done.outcome == StepOutcome::NoChange) {
            run.state = RunState::NoChange;
        } else if (done.outcome == StepOutcome::Cancelled) {
            run.state = RunState::Cancelled;
        } else if (!done.ok()) {
            run.state = RunState::Failed;
        }
    }
    co_await finish(id);
}

asio::awaitable<void> Orchestrator::finish(RequestId id) {
    Run& run = runs_.at(id);
    if (run.state == RunState::Running) {
        run.state = run.plan.request.dry_run ? RunState::DryRun : RunState::Succeeded;
    }
    const auto names = affected_deployments(run.plan.request.action);
    // Verified when something changed: a rollback that ended (well or not) after acting.
    const bool acted = run.marks.first_action.has_value() && !run.plan.request.dry_run &&
                       (run.state == RunState::Succeeded || run.state == RunState::Failed);
    if (acted) {
        auto [after, verification, start] =
            co_await (observe(names, id) && verify_now(names, run.state == RunState::Succeeded) &&
                      incident_start(run.plan, run.received_at));
        run.after = std::move(after);
        run.verification = std::move(verification);
        run.verdict = judge(*run.verification, deps_.settings.verify);
        run.incident_start = start.at;
        run.incident_note = std::move(start.note);
        const auto now = deps_.clock.steady_now();
        if (run.verification->health && run.verification->health->healthy) {
            run.marks.healthy = now;
        }
        // rollback.sh waits for its rollouts itself: its pods are healthy when rollbot sees them
        // so.
        const auto& checks = run.verification->pods;
        const bool pods_healthy =
            !checks.empty() && std::all_of(checks.begin(), checks.end(), [](const PodsCheck& c) {
                return c.healthy();
            });
        if (!run.marks.rollout_done && run.state == RunState::Succeeded && pods_healthy) {
            run.marks.rollout_done = now;
        }
    } else {
        run.after = co_await observe(names, id);
    }
    run.marks.finished = deps_.clock.steady_now();
    const std::string action(to_string(run.plan.request.action));
    std::string outcome(to_string(run.state));
    if (run.state == RunState::Succeeded) {
        outcome = run.restored() ? "restored" : "not_restored";
    }
    std::replace(outcome.begin(), outcome.end(), ' ', '_');  // "no change" -> no_change
    count("rollbot_runs_total", {action, outcome});
    if (deps_.metrics != nullptr) {
        const std::chrono::duration<double> took = *run.marks.finished - run.marks.received;
        deps_.metrics->observe("rollbot_run_duration_seconds", {action}, took.count());
    }
    // The report is stored before the run is recorded as finished: a restart in between
    // delivers it, and never reports the run as interrupted.
    OutboundMessage message{run.channel, std::nullopt, deps_.reporter.final_report(run)};
    auto ticket = outbox_.store(message, id.value + "/report");
    if (auto saved =
            deps_.store.run_finished(id, std::string(to_string(run.state)), deps_.clock.now());
        !saved) {
        co_await state_not_saved(id, "run_finished", saved.error());
    }
    std::string reasons;
    if (run.verdict) {
        for (const auto& reason : run.verdict->reasons) {
            reasons += (reasons.empty() ? "" : "; ") + reason;
        }
    }
    record(
        "report",
        id,
        {},
        fmt::format("state={} restored={} verdict={} elapsed_ms={}",
                    to_string(run.state),
                    run.restored(),
                    log_quote(run.verdict ? (run.verdict->restored ? "restored" : reasons)
                                          : "not verified"),
                    std::chrono::duration_cast<Duration>(*run.marks.finished - run.marks.received)
                        .count()));
    auto report = co_await outbox_.send(std::move(ticket));
    if (!report) {
        deps_.log->warn("rollback.report_queued id={} error={} (the outbox retries it)",
                        id,
                        report.error().message);
    }
    // The verification goes under the report; if the report is still queued, under the card.
    std::optional<MessageTs> thread;
    if (report) {
        thread = report->ts;
    } else if (run.card) {
        thread = run.card->ts;
    }
    co_await post_verification(id, thread);
    co_await update_card(id, deps_.reporter.final_status(run));
    if (run.state == RunState::Succeeded && run.verification &&
        deps_.settings.verify.watch > Duration::zero()) {
        spawn_background(watch_window(id, *run.verification, names, run.channel, thread), "watch");
    }
    locks_.release(id);
    runs_.erase(id);
}

}  // namespace rollbot::core
