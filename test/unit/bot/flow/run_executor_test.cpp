// The run executor built from the harness's fakes: a rollback from its request to its report,
// as the channel, the cluster, the state file, the audit trail and the metrics see it.
#include "bot/flow/run_executor.hpp"

#include "bot/flow/audit_trail.hpp"
#include "bot/flow/chat_out.hpp"
#include "bot/flow/outbox.hpp"
#include "bot/flow/plan_resolver.hpp"
#include "bot/flow/rollout_watch.hpp"
#include "bot/lock_table.hpp"
#include "test/support/flow_harness.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <deque>

namespace rollbot::test {
namespace {

namespace asio = boost::asio;
using core::CommandOutcome;
using core::RunState;
using core::StepKind;
using core::StepOutcome;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using namespace std::chrono_literals;

constexpr std::string_view kUndo = "kubectl rollout undo deployment/backend -n preskool";
constexpr std::string_view kStatus = "kubectl rollout status deployment/backend -n preskool";

asio::awaitable<void> direct_into(core::RunExecutor* executor,
                                  core::SlashCommand cmd,
                                  core::Command command,
                                  std::chrono::steady_clock::time_point received,
                                  std::optional<CommandOutcome>* out) {
    *out = co_await executor->direct(std::move(cmd), std::move(command), received);
}

asio::awaitable<void> interrupted_into(core::RunExecutor* executor,
                                       std::optional<std::size_t>* out) {
    *out = co_await executor->report_interrupted();
}

/// The parts rollbotd wires around a run executor, built here from the harness's members.
struct Flow {
    explicit Flow(FlowHarness& harness)
        : h(harness),
          chat(h.chat, h.log),
          audit(h.store, h.clock, h.audit_log, h.log, &h.metrics),
          outbox(h.tasks, h.chat, h.store, h.clock, h.log),
          plans(h.runbook, h.log),
          watch(h.tasks,
                h.runbook,
                h.verifier,
                h.clock,
                h.settings,
                h.reporter,
                outbox,
                audit,
                h.log),
          executor({h.settings,
                    chat,
                    h.runbook,
                    plans,
                    watch,
                    outbox,
                    audit,
                    h.store,
                    locks,
                    h.reporter,
                    h.clock,
                    h.log,
                    &h.metrics}) {}

    /// `/rollback <text>` typed by `user`, straight to the executor (no router, no approvals);
    /// what came of it once the command has ended, nullopt while its run goes on.
    const std::optional<CommandOutcome>& request(std::string_view text,
                                                 std::string_view user = "U0ALICE") {
        auto command = core::parse_command(text);
        EXPECT_TRUE(command) << text;
        auto& out = outcomes.emplace_back();
        if (command) {
            h.spawn(direct_into(&executor,
                                FlowHarness::slash(text, user),
                                std::move(*command),
                                h.clock.steady_now(),
                                &out));
        }
        return out;
    }

    std::size_t report_interrupted() {
        std::optional<std::size_t> n;
        h.spawn(interrupted_into(&executor, &n));
        EXPECT_TRUE(n.has_value());
        return n.value_or(0);
    }

    FlowHarness& h;
    core::ChatOut chat;
    core::AuditTrail audit;
    core::Outbox outbox;
    core::LockTable locks;
    core::PlanResolver plans;
    core::RolloutWatch watch;
    core::RunExecutor executor;
    std::deque<std::optional<CommandOutcome>> outcomes;  // stable references
};

/// The delivered posts in the thread under `ts`, in order.
std::vector<std::string> thread_of(const FakeChat& chat, const core::MessageTs& ts) {
    std::vector<std::string> out;
    for (const auto& p : chat.posts()) {
        if (!p.failed && p.message.thread_ts == ts) {
            out.push_back(p.message.text);
        }
    }
    return out;
}

std::vector<core::AuditRecord> audit_of(FlowHarness& h, std::string id) {
    auto records = h.sqlite->audit_log(core::RequestId{std::move(id)});
    EXPECT_TRUE(records);
    return records ? *records : std::vector<core::AuditRecord>{};
}

std::vector<std::string> audit_kinds(FlowHarness& h, std::string id) {
    std::vector<std::string> kinds;
    for (const auto& r : audit_of(h, std::move(id))) {
        kinds.push_back(r.kind);
    }
    return kinds;
}

std::optional<core::StoredRun> stored_run(FlowHarness& h, std::string id) {
    auto run = h.sqlite->find_run(core::RequestId{std::move(id)});
    EXPECT_TRUE(run);
    return run ? *run : std::nullopt;
}

core::StepResult step_result(StepOutcome outcome,
                             std::optional<int> exit_code,
                             core::Duration duration,
                             std::string summary) {
    core::StepResult r;
    r.outcome = outcome;
    r.exit_code = exit_code;
    r.duration = duration;
    r.summary = std::move(summary);
    r.output_digest = std::string(64, 'f');
    return r;
}

TEST(RunExecutor, DirectBackendRollbackRunsItsStepsAndReportsExecuted) {
    FlowHarness h;
    Flow f(h);
    h.runbook.set_deployment_after(StepKind::KubectlUndo, deployment("backend", 4, "a1b2c3d4"));
    h.runbook.hold(StepKind::KubectlRolloutStatus);
    h.verifier.rise = h.clock.now() - 5min;
    std::vector<std::string> held_at_report;
    h.store.before("run_finished", [&] {
        for (const auto& [target, holder] : f.locks.held()) {
            held_at_report.push_back(target + " " + holder.id.value);
        }
    });

    const auto& outcome = f.request("backend --reason error rate spike");
    EXPECT_FALSE(outcome);
    EXPECT_TRUE(f.executor.is_running(core::RequestId{"R1"}));
    h.advance(90s);  // the rollout takes a minute and a half
    h.runbook.release(StepKind::KubectlRolloutStatus);
    h.run();
    EXPECT_EQ(outcome, CommandOutcome::Ran);
    EXPECT_FALSE(f.executor.is_running(core::RequestId{"R1"}));

    ASSERT_THAT(h.runbook.steps_run(), SizeIs(2));
    EXPECT_EQ(h.runbook.steps_run()[0].kind, StepKind::KubectlUndo);
    EXPECT_EQ(h.runbook.steps_run()[1].kind, StepKind::KubectlRolloutStatus);

    // The request card comes first, in the channel, and is edited as the steps run.
    ASSERT_FALSE(h.chat.posts().empty());
    const auto card = h.chat.posts().front();
    EXPECT_FALSE(card.message.thread_ts);
    EXPECT_THAT(card.message.text,
                HasSubstr("backend rollback to the previous revision* — R1, requested by "
                          "<@U0ALICE>"));
    EXPECT_THAT(card.message.text, HasSubstr("Status: starting"));
    std::vector<std::string> edits;
    for (const auto& u : h.chat.updates()) {
        EXPECT_EQ(u.message.ts, card.ts);
        edits.push_back(u.text.substr(u.text.find("Status: ")));
    }
    EXPECT_THAT(edits,
                ElementsAre(fmt::format("Status: running step 1/2: `{}`\n", kUndo),
                            fmt::format("Status: running step 2/2: `{}`\n", kStatus),
                            "Status: ✅ done in 1m 30s\n"));

    // The step lines go into the card's thread.
    const auto steps = thread_of(h.chat, card.ts);
    ASSERT_THAT(steps, SizeIs(2));
    EXPECT_THAT(steps[0], HasSubstr(fmt::format("✅ 1/2 `{}`", kUndo)));
    EXPECT_THAT(steps[1], HasSubstr(fmt::format("✅ 2/2 `{}`", kStatus)));

    // The runbook's block, in the channel.
    const auto report = h.post("⏪ ROLLBACK EXECUTED");
    EXPECT_FALSE(report.message.thread_ts);
    EXPECT_EQ(report.message.channel.value, FlowHarness::kChannel);
    const auto& text = report.message.text;
    EXPECT_THAT(text, HasSubstr("Rolled back from: e4d5c6b7\n"));
    EXPECT_THAT(text, HasSubstr("Rolled back to:   a1b2c3d4\n"));
    EXPECT_THAT(text, HasSubstr("Reason:           error rate spike\n"));
    EXPECT_THAT(text, HasSubstr("Status:           ✅ Service restored\n"));
    EXPECT_THAT(text, HasSubstr("Time elapsed:     1.5 minutes\n"));
    EXPECT_THAT(text, HasSubstr("On-Call: <@U0ALICE>"));

    // The verification and the time table, under the report.
    const auto under = thread_of(h.chat, report.ts);
    ASSERT_THAT(under, SizeIs(1));
    EXPECT_THAT(under[0], HasSubstr("🔎 *Post-rollback verification*"));
    EXPECT_THAT(under[0], HasSubstr("Pods *backend*: 2 of 2 ready"));
    EXPECT_THAT(under[0], HasSubstr("*Verdict:* ✅ Service restored"));
    EXPECT_THAT(under[0], HasSubstr("⏱ *Time to rollback*"));
    EXPECT_THAT(under[0],
                HasSubstr("✅ Decision to rollback: 5.0 min (target &lt; 10 min) — from the "
                          "error-rate rise above 10 % at 00:55 UTC"));
    EXPECT_THAT(under[0], HasSubstr("✅ K8s pods healthy: 1.5 min (target &lt; 5 min)"));

    const auto run = stored_run(h, "R1");
    ASSERT_TRUE(run);
    EXPECT_EQ(run->state, RunState::Succeeded);
    EXPECT_EQ(run->requester.value, "U0ALICE");
    ASSERT_TRUE(run->finished);
    EXPECT_EQ(run->card, (core::MessageRef{card.message.channel, card.ts}));
    ASSERT_THAT(run->steps, SizeIs(2));
    EXPECT_EQ(run->steps[0].command, kUndo);
    EXPECT_EQ(run->steps[0].outcome, StepOutcome::Succeeded);
    EXPECT_EQ(run->steps[1].command, kStatus);

    EXPECT_THAT(audit_kinds(h, "R1"), ElementsAre("request", "step", "step", "report"));
    EXPECT_THAT(audit_of(h, "R1").back().detail, HasSubstr("state=succeeded restored=true"));
    EXPECT_EQ(h.counter("rollbot_runs_total", {"backend", "restored"}), 1);
    // The lock is held to the report and let go after it.
    EXPECT_THAT(held_at_report, ElementsAre("backend R1"));
    EXPECT_TRUE(f.locks.held().empty());
    EXPECT_EQ(h.tasks.active(), 0);
}

TEST(RunExecutor, DryRunChangesNothingPostsDryRunAndIsNotVerified) {
    FlowHarness h;
    Flow f(h);
    const auto& outcome = f.request("backend --dry-run --reason checking");
    EXPECT_EQ(outcome, CommandOutcome::DryRun);

    ASSERT_THAT(h.runbook.steps_run(), SizeIs(2));
    for (const auto& step : h.runbook.steps_run()) {
        EXPECT_EQ(step.effect, core::StepEffect::Read);
        EXPECT_THAT(step.env, ElementsAre(std::pair<std::string, std::string>("DRY_RUN", "true")));
    }
    const auto report = h.post("🧪 DRY RUN — nothing changed");
    EXPECT_THAT(report.message.text,
                HasSubstr("Would roll back:  e4d5c6b7 → the previous revision"));
    EXPECT_THAT(report.message.text, HasSubstr("Reason:           checking"));
    EXPECT_THAT(report.message.text, HasSubstr(fmt::format("1. `DRY_RUN=true {}`", kUndo)));
    EXPECT_EQ(h.chat.count_posts("ROLLBACK EXECUTED"), 0U);
    EXPECT_EQ(h.chat.count_posts("Post-rollback verification"), 0U);
    EXPECT_EQ(h.verifier.checks, 0);
    EXPECT_THAT(h.chat.text_of(h.chat.posts().front().ts),
                HasSubstr("Status: 🧪 dry run finished: nothing changed"));

    const auto run = stored_run(h, "R1");
    ASSERT_TRUE(run);
    EXPECT_EQ(run->state, RunState::DryRun);
    EXPECT_EQ(h.counter("rollbot_runs_total", {"backend", "dry_run"}), 1);
    // No watch window either.
    h.advance(15min);
    EXPECT_EQ(h.chat.count_posts("Watch +"), 0U);
}

TEST(RunExecutor, DryRunTakesNoLockAndWaitsForNone) {
    FlowHarness h;
    Flow f(h);
    h.runbook.hold(StepKind::KubectlRolloutStatus);
    const auto& live = f.request("backend");
    EXPECT_FALSE(live);
    const auto& dry = f.request("backend --dry-run", "U0CAROL");
    // The dry run's own rollout status waits behind the same hold; it was not told "busy".
    EXPECT_FALSE(dry);
    EXPECT_THAT(h.chat.all_replies(), Not(HasSubstr("busy")));
    EXPECT_EQ(f.locks.held().size(), 1U);
    EXPECT_EQ(f.locks.held().at("backend").id.value, "R1");
    h.runbook.release(StepKind::KubectlRolloutStatus);
    h.run();
    EXPECT_EQ(live, CommandOutcome::Ran);
    EXPECT_EQ(dry, CommandOutcome::DryRun);
}

TEST(RunExecutor, SecondRequestForAHeldTargetIsToldWhoHoldsItAndAnotherTargetRuns) {
    FlowHarness h;
    Flow f(h);
    h.runbook.hold(StepKind::KubectlRolloutStatus, "backend");
    const auto& first = f.request("backend --reason error rate spike");
    EXPECT_FALSE(first);
    ASSERT_EQ(f.locks.held().count("backend"), 1U);
    EXPECT_EQ(f.locks.held().at("backend").user.value, "U0ALICE");

    h.advance(90s);
    const auto& second = f.request("backend", "U0CAROL");
    EXPECT_EQ(second, CommandOutcome::Busy);
    ASSERT_THAT(h.chat.replies(), SizeIs(1));
    const auto& reply = h.chat.replies().back();
    EXPECT_EQ(reply.to.user.value, "U0CAROL");
    EXPECT_EQ(reply.visibility, core::Visibility::Ephemeral);
    EXPECT_THAT(reply.text,
                HasSubstr("backend is busy: R1 (backend rollback to the previous revision) by "
                          "<@U0ALICE>, started 1m 30s ago."));
    EXPECT_THAT(reply.text, HasSubstr("Nothing was run."));
    EXPECT_EQ(h.runbook.ran(StepKind::KubectlUndo), 1U);  // the second ran nothing
    EXPECT_EQ(h.chat.count_posts("R2"), 0U);

    // Another target is not held by the backend's run.
    const auto& other = f.request("frontend", "U0CAROL");
    EXPECT_EQ(other, CommandOutcome::Ran);
    EXPECT_THAT(h.post("ROLLBACK EXECUTED").message.text, HasSubstr("On-Call: <@U0CAROL>"));
    EXPECT_EQ(h.counter("rollbot_runs_total", {"frontend", "restored"}), 1);
    EXPECT_EQ(f.locks.held().size(), 1U);  // the frontend's lock went with its report
    EXPECT_FALSE(first);

    // The backend's lock goes with its report: the next backend request runs.
    h.runbook.release(StepKind::KubectlRolloutStatus);
    h.run();
    EXPECT_EQ(first, CommandOutcome::Ran);
    EXPECT_EQ(h.chat.count_posts("ROLLBACK EXECUTED"), 2U);
    EXPECT_TRUE(f.locks.held().empty());
    const auto& again = f.request("backend", "U0CAROL");
    EXPECT_EQ(again, CommandOutcome::Ran);
    EXPECT_EQ(h.runbook.ran(StepKind::KubectlUndo), 3U);
}

TEST(RunExecutor, FailedStepStopsTheRunAndTheReportSaysWhere) {
    FlowHarness h;
    Flow f(h);
    h.runbook.set_result(
        StepKind::KubectlUndo,
        step_result(StepOutcome::Failed, 1, 2s, "error: no rollout history found for backend"));
    EXPECT_EQ(f.request("backend --reason error rate spike"), CommandOutcome::Ran);

    EXPECT_EQ(h.runbook.ran(StepKind::KubectlUndo), 1U);
    EXPECT_EQ(h.runbook.ran(StepKind::KubectlRolloutStatus), 0U);  // not after a failed step
    EXPECT_EQ(h.chat.count_posts("ROLLBACK EXECUTED"), 0U);
    const auto report =
        h.post("🔴 ROLLBACK FAILED — backend rollback to the previous revision (R1)");
    const auto& text = report.message.text;
    EXPECT_THAT(text, HasSubstr(fmt::format("Failed step:      1/2 `{}`", kUndo)));
    EXPECT_THAT(text, HasSubstr("What happened:    error: no rollout history found for backend"));
    EXPECT_THAT(text, HasSubstr("Exit code:        1 after 2.0 s"));
    EXPECT_THAT(text, HasSubstr("Follow the runbook by hand"));

    const auto card = h.chat.posts().front();
    EXPECT_THAT(h.chat.text_of(card.ts), HasSubstr("Status: 🔴 failed at step 1/2"));
    const auto steps = thread_of(h.chat, card.ts);
    ASSERT_FALSE(steps.empty());
    EXPECT_THAT(steps[0], HasSubstr(fmt::format("🔴 1/2 `{}` — error: no rollout history", kUndo)));

    const auto run = stored_run(h, "R1");
    ASSERT_TRUE(run);
    EXPECT_EQ(run->state, RunState::Failed);
    ASSERT_THAT(run->steps, SizeIs(1));
    EXPECT_EQ(run->steps[0].outcome, StepOutcome::Failed);
    EXPECT_EQ(run->steps[0].exit_code, 1);
    EXPECT_THAT(audit_kinds(h, "R1"), ElementsAre("request", "step", "report"));
    EXPECT_THAT(audit_of(h, "R1")[1].detail, HasSubstr("n=1"));
    EXPECT_THAT(audit_of(h, "R1")[1].detail, HasSubstr("outcome=failed exit=1 duration_ms=2000"));
    EXPECT_EQ(h.counter("rollbot_runs_total", {"backend", "failed"}), 1);
    EXPECT_TRUE(f.locks.held().empty());
}

TEST(RunExecutor, TimedOutRolloutFailsTheRunAtItsStep) {
    FlowHarness h;
    Flow f(h);
    h.runbook.set_result(
        StepKind::KubectlRolloutStatus,
        step_result(StepOutcome::TimedOut, std::nullopt, 120s, "timed out after 2m 00s"));
    EXPECT_EQ(f.request("backend"), CommandOutcome::Ran);

    const auto report = h.post("🔴 ROLLBACK FAILED");
    EXPECT_THAT(report.message.text, HasSubstr(fmt::format("Failed step:      2/2 `{}`", kStatus)));
    EXPECT_THAT(report.message.text, HasSubstr("What happened:    timed out after 2m 00s"));
    EXPECT_THAT(report.message.text, HasSubstr("Exit code:        none after 2m 00s"));
    const auto run = stored_run(h, "R1");
    ASSERT_TRUE(run);
    EXPECT_EQ(run->state, RunState::Failed);
    ASSERT_THAT(run->steps, SizeIs(2));
    EXPECT_EQ(run->steps[1].outcome, StepOutcome::TimedOut);
    EXPECT_EQ(run->steps[1].exit_code, std::nullopt);
    EXPECT_EQ(h.counter("rollbot_runs_total", {"backend", "failed"}), 1);
    // The undo changed something, so the cluster is looked at and shown under the report.
    EXPECT_THAT(thread_of(h.chat, report.ts), ElementsAre(HasSubstr("Post-rollback verification")));
}

TEST(RunExecutor, NoChangeStepReportsNothingRolledBack) {
    FlowHarness h;
    Flow f(h);
    h.runbook.set_result(
        StepKind::KubectlUndo,
        step_result(StepOutcome::NoChange, 0, 1s, "skipped rollback: already at that revision"));
    EXPECT_EQ(f.request("backend"), CommandOutcome::Ran);

    EXPECT_EQ(h.runbook.ran(StepKind::KubectlRolloutStatus), 0U);
    const auto report = h.post("⚪ NOTHING ROLLED BACK — backend rollback to the previous revision");
    EXPECT_THAT(report.message.text, HasSubstr(fmt::format("Step:             1/2 `{}`", kUndo)));
    EXPECT_THAT(report.message.text, HasSubstr("skipped rollback: already at that revision"));
    EXPECT_THAT(report.message.text, HasSubstr("Deployed now:     e4d5c6b7"));
    EXPECT_EQ(h.chat.count_posts("ROLLBACK EXECUTED"), 0U);
    EXPECT_EQ(h.chat.count_posts("Post-rollback verification"), 0U);
    EXPECT_EQ(h.verifier.checks, 0);
    EXPECT_THAT(h.chat.text_of(h.chat.posts().front().ts), HasSubstr("⚪ nothing changed"));
    const auto run = stored_run(h, "R1");
    ASSERT_TRUE(run);
    EXPECT_EQ(run->state, RunState::NoChange);
    EXPECT_EQ(h.counter("rollbot_runs_total", {"backend", "no_change"}), 1);
}

TEST(RunExecutor, CancelledStepEndsTheRunCancelled) {
    FlowHarness h;
    Flow f(h);
    h.runbook.hold(StepKind::KubectlUndo);
    const auto& outcome = f.request("backend");
    EXPECT_TRUE(h.runbook.waiting(StepKind::KubectlUndo));
    h.runbook.cancel_all();
    h.run();
    EXPECT_EQ(outcome, CommandOutcome::Ran);

    EXPECT_EQ(h.runbook.ran(StepKind::KubectlRolloutStatus), 0U);
    const auto report = h.post("🔴 ROLLBACK FAILED");
    EXPECT_THAT(report.message.text, HasSubstr(fmt::format("Failed step:      1/2 `{}`", kUndo)));
    EXPECT_THAT(report.message.text, HasSubstr("Check /rollback status before trying again"));
    EXPECT_THAT(h.chat.text_of(h.chat.posts().front().ts), HasSubstr("⏹ cancelled"));
    const auto run = stored_run(h, "R1");
    ASSERT_TRUE(run);
    EXPECT_EQ(run->state, RunState::Cancelled);
    EXPECT_EQ(run->steps.at(0).outcome, StepOutcome::Cancelled);
    EXPECT_EQ(h.counter("rollbot_runs_total", {"backend", "cancelled"}), 1);
    EXPECT_TRUE(f.locks.held().empty());
}

TEST(RunExecutor, ServiceStillUnhealthyAfterASuccessfulRunIsStillInvestigating) {
    FlowHarness h;
    Flow f(h);
    h.verifier.set_incident();
    EXPECT_EQ(f.request("backend"), CommandOutcome::Ran);

    const auto report = h.post("⏪ ROLLBACK EXECUTED");
    EXPECT_THAT(report.message.text, HasSubstr("Status:           🔴 Still investigating\n"));
    EXPECT_THAT(report.message.text, HasSubstr("Next Step:        Still investigating ("));
    EXPECT_THAT(report.message.text, Not(HasSubstr("Service restored")));
    const auto under = thread_of(h.chat, report.ts);
    ASSERT_THAT(under, SizeIs(1));
    EXPECT_THAT(under[0], HasSubstr("*Verdict:* 🔴 Still investigating"));
    EXPECT_THAT(under[0], HasSubstr("Error rate: 27 % (threshold 10 %)"));
    EXPECT_THAT(under[0], HasSubstr("Health: 503 in 12 ms"));
    EXPECT_THAT(h.chat.text_of(h.chat.posts().front().ts), HasSubstr("⚠️ done, not healthy"));
    EXPECT_EQ(h.counter("rollbot_runs_total", {"backend", "not_restored"}), 1);
    EXPECT_EQ(h.counter("rollbot_runs_total", {"backend", "restored"}), 0);
    EXPECT_THAT(audit_of(h, "R1").back().detail, HasSubstr("restored=false"));
    const auto run = stored_run(h, "R1");
    ASSERT_TRUE(run);
    EXPECT_EQ(run->state, RunState::Succeeded);
}

TEST(RunExecutor, RunStartedNotSavedTheRunGoesOnAndTheChannelIsWarnedOnce) {
    FlowHarness h;
    Flow f(h);
    h.store.fail("run_started");
    EXPECT_EQ(f.request("backend"), CommandOutcome::Ran);

    EXPECT_EQ(h.runbook.ran(StepKind::KubectlRolloutStatus), 1U);
    EXPECT_EQ(h.chat.count_posts("ROLLBACK EXECUTED"), 1U);
    EXPECT_EQ(h.chat.count_posts("cannot save its state"), 1U);
    const auto warning = h.post("cannot save its state");
    EXPECT_EQ(warning.message.thread_ts, h.chat.posts().front().ts);  // under the card
    EXPECT_THAT(warning.message.text, HasSubstr("R1: rollbot cannot save its state"));
    EXPECT_THAT(warning.message.text, HasSubstr("state.run_started: disk I/O error"));
    EXPECT_THAT(warning.message.text, HasSubstr("The rollback goes on and its report follows"));
    EXPECT_EQ(h.counter("rollbot_state_write_errors_total", {"run_started"}), 1);
    EXPECT_FALSE(stored_run(h, "R1"));
    EXPECT_THAT(h.logs(), HasSubstr("state.not_saved id=R1 what=run_started"));
}

TEST(RunExecutor, StepsNotSavedAreEachCountedAndWarnedOnce) {
    FlowHarness h;
    Flow f(h);
    h.store.fail("step_finished");
    EXPECT_EQ(f.request("backend"), CommandOutcome::Ran);

    EXPECT_EQ(h.runbook.ran(StepKind::KubectlRolloutStatus), 1U);
    EXPECT_EQ(h.chat.count_posts("ROLLBACK EXECUTED"), 1U);
    EXPECT_EQ(h.chat.count_posts("cannot save its state"), 1U);
    EXPECT_EQ(h.counter("rollbot_state_write_errors_total", {"step"}), 2);
    const auto run = stored_run(h, "R1");
    ASSERT_TRUE(run);
    EXPECT_EQ(run->state, RunState::Succeeded);
    EXPECT_THAT(run->steps, IsEmpty());
    // The audit trail still has both steps.
    EXPECT_THAT(audit_kinds(h, "R1"), ElementsAre("request", "step", "step", "report"));
}

TEST(RunExecutor, RunFinishedNotSavedStillPostsTheReport) {
    FlowHarness h;
    Flow f(h);
    h.store.fail("run_finished");
    EXPECT_EQ(f.request("backend"), CommandOutcome::Ran);

    EXPECT_EQ(h.chat.count_posts("ROLLBACK EXECUTED"), 1U);
    EXPECT_EQ(h.chat.count_posts("cannot save its state"), 1U);
    EXPECT_THAT(h.post("cannot save its state").message.text,
                HasSubstr("R1 has ended; its record may be incomplete"));
    EXPECT_EQ(h.counter("rollbot_state_write_errors_total", {"run_finished"}), 1);
    const auto run = stored_run(h, "R1");
    ASSERT_TRUE(run);
    EXPECT_EQ(run->state, RunState::Running);
    EXPECT_THAT(run->steps, SizeIs(2));
    EXPECT_TRUE(f.locks.held().empty());
}

TEST(RunExecutor, EachRunIsWarnedOnceWhateverFails) {
    FlowHarness h;
    Flow f(h);
    for (const char* op : {"run_started", "step_finished", "run_finished"}) {
        h.store.fail(op);
    }
    EXPECT_EQ(f.request("backend"), CommandOutcome::Ran);
    EXPECT_EQ(f.request("frontend"), CommandOutcome::Ran);

    EXPECT_EQ(h.chat.count_posts("ROLLBACK EXECUTED"), 2U);
    EXPECT_EQ(h.chat.count_posts("cannot save its state"), 2U);
    EXPECT_EQ(h.chat.count_posts("R1: rollbot cannot save its state"), 1U);
    EXPECT_EQ(h.chat.count_posts("R2: rollbot cannot save its state"), 1U);
    EXPECT_EQ(h.counter("rollbot_state_write_errors_total", {"run_started"}), 2);
    EXPECT_EQ(h.counter("rollbot_state_write_errors_total", {"step"}), 4);
    EXPECT_EQ(h.counter("rollbot_state_write_errors_total", {"run_finished"}), 2);
}

TEST(RunExecutor, ReportIsInTheOutboxBeforeTheRunIsRecordedFinished) {
    FlowHarness h;
    Flow f(h);
    std::vector<core::OutboxEntry> pending_then;
    std::size_t reports_posted_then = 99;
    h.store.before("run_finished", [&] {
        auto pending = h.sqlite->outbox_pending();
        ASSERT_TRUE(pending);
        pending_then = *pending;
        reports_posted_then = h.chat.count_posts("ROLLBACK EXECUTED");
    });
    EXPECT_EQ(f.request("backend"), CommandOutcome::Ran);

    EXPECT_EQ(reports_posted_then, 0U);
    ASSERT_THAT(pending_then, SizeIs(1));
    EXPECT_EQ(pending_then[0].key, "R1/report");
    EXPECT_THAT(pending_then[0].text, HasSubstr("⏪ ROLLBACK EXECUTED"));
    EXPECT_EQ(h.chat.count_posts("ROLLBACK EXECUTED"), 1U);
    EXPECT_EQ(f.outbox.depth(), 0U);
}

TEST(RunExecutor, ReportTheChatRefusesStaysQueuedAndIsDeliveredLater) {
    FlowHarness h;
    Flow f(h);
    h.store.before("run_finished", [&] { h.chat.fail_posts(1); });
    EXPECT_EQ(f.request("backend"), CommandOutcome::Ran);

    EXPECT_EQ(h.chat.count_posts("ROLLBACK EXECUTED"), 0U);
    ASSERT_FALSE(h.chat.posts().empty());
    EXPECT_THAT(h.chat.posts().back().message.text, HasSubstr("ROLLBACK EXECUTED"));
    EXPECT_TRUE(h.chat.posts().back().failed);
    EXPECT_EQ(f.outbox.depth(), 2U);  // the report, and the verification queued behind it
    const auto run = stored_run(h, "R1");
    ASSERT_TRUE(run);
    EXPECT_EQ(run->state, RunState::Succeeded);

    h.advance(1s);  // the outbox's first retry
    EXPECT_EQ(h.chat.count_posts("ROLLBACK EXECUTED"), 1U);
    EXPECT_EQ(f.outbox.depth(), 0U);
    // In order: the report, then the verification (under the card: the report's ts was not
    // known when it was queued).
    const auto& posts = h.chat.posts();
    ASSERT_GE(posts.size(), 2U);
    EXPECT_THAT(posts[posts.size() - 2].message.text, HasSubstr("ROLLBACK EXECUTED"));
    EXPECT_THAT(posts.back().message.text, HasSubstr("Post-rollback verification"));
    EXPECT_EQ(posts.back().message.thread_ts, posts.front().ts);
}

TEST(RunExecutor, RunsARestartCutShortAreReportedAsInterruptedAndNeverRerun) {
    FlowHarness h;
    // The daemon before the restart: the backend's rollout and the frontend's undo are still
    // running when it stops (its coroutines stay suspended; nothing resumes them).
    h.runbook.hold(StepKind::KubectlRolloutStatus, "backend");
    h.runbook.hold(StepKind::KubectlUndo, "frontend");
    Flow before(h);
    EXPECT_FALSE(before.request("backend --reason error rate spike"));
    EXPECT_FALSE(before.request("frontend", "U0CAROL"));
    ASSERT_TRUE(h.runbook.waiting(StepKind::KubectlRolloutStatus));
    ASSERT_TRUE(h.runbook.waiting(StepKind::KubectlUndo));
    const auto card = h.chat.posts().front();
    const std::size_t steps_before = h.runbook.steps_run().size();
    const std::size_t posts_before = h.chat.posts().size();

    Flow after(h);
    EXPECT_EQ(after.report_interrupted(), 2U);

    EXPECT_EQ(h.runbook.steps_run().size(), steps_before);  // nothing re-run
    const auto backend = h.post("R1 was interrupted");
    EXPECT_EQ(backend.message.thread_ts, card.ts);
    EXPECT_THAT(backend.message.text,
                HasSubstr("backend rollback to the previous revision by <@U0ALICE>"));
    EXPECT_THAT(backend.message.text,
                HasSubstr(fmt::format("Steps that had finished:\n1. `{}` — succeeded", kUndo)));
    EXPECT_THAT(backend.message.text, Not(HasSubstr("2. `")));
    EXPECT_THAT(backend.message.text, HasSubstr("It will not be re-run by itself"));
    const auto frontend = h.post("R2 was interrupted");
    EXPECT_THAT(frontend.message.text, HasSubstr("No step had finished."));
    EXPECT_EQ(h.chat.count_posts("ROLLBACK EXECUTED"), 0U);

    for (const char* id : {"R1", "R2"}) {
        const auto run = stored_run(h, id);
        ASSERT_TRUE(run) << id;
        EXPECT_EQ(run->state, RunState::Interrupted) << id;
        EXPECT_TRUE(run->finished) << id;
    }
    EXPECT_EQ(audit_kinds(h, "R1").back(), "interrupted");
    EXPECT_EQ(audit_of(h, "R1").back().detail, "steps_finished=1");
    EXPECT_EQ(audit_of(h, "R2").back().detail, "steps_finished=0");

    // Once: a second start-up has nothing left to report.
    EXPECT_EQ(after.report_interrupted(), 0U);
    EXPECT_EQ(h.chat.posts().size(), posts_before + 2);
}

TEST(RunExecutor, StopForShutdownMarksTheRunningRunsAndAuditsThem) {
    FlowHarness h;
    Flow f(h);
    h.runbook.hold(StepKind::KubectlRolloutStatus);
    const auto& outcome = f.request("backend");
    ASSERT_TRUE(f.executor.is_running(core::RequestId{"R1"}));

    h.spawn(f.executor.stop_for_shutdown());
    EXPECT_EQ(audit_kinds(h, "R1").back(), "shutdown");
    EXPECT_THAT(audit_of(h, "R1").back().detail, HasSubstr("grace period over"));
    EXPECT_TRUE(f.executor.runs().at(core::RequestId{"R1"}).stopped_by_shutdown);
    EXPECT_FALSE(outcome);

    h.runbook.cancel_all();  // what the coordinator does next
    h.run();
    EXPECT_EQ(outcome, CommandOutcome::Ran);
    const auto report = h.post("🔴 ROLLBACK FAILED");
    EXPECT_THAT(report.message.text, HasSubstr(fmt::format("Failed step:      2/2 `{}`", kStatus)));
    EXPECT_THAT(
        report.message.text,
        HasSubstr("rollbot was stopping and ended this step when its grace period ran out"));
    const auto run = stored_run(h, "R1");
    ASSERT_TRUE(run);
    EXPECT_EQ(run->state, RunState::Cancelled);
    EXPECT_EQ(h.counter("rollbot_runs_total", {"backend", "cancelled"}), 1);
    EXPECT_TRUE(f.locks.held().empty());
    EXPECT_TRUE(f.executor.runs().empty());
}

}  // namespace
}  // namespace rollbot::test
