// Golden texts: what on-call engineers read in #preskool-incidents.
#include "bot/reporter.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace rollbot::core {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;

class Messages : public ::testing::Test {
protected:
    Messages() : renderer_(templates::Renderer::builtin()), reporter_(renderer_, settings_) {
        settings_.kubernetes.namespace_name = "preskool";
    }

    static DeploymentState deployment(std::string name, std::string tag, std::int64_t revision) {
        DeploymentState d;
        d.name = std::move(name);
        d.tag = tag;
        d.image = "ghcr.io/your-org/preskool-" + d.name + ":" + tag;
        d.revision = revision;
        d.desired = 2;
        d.ready = 2;
        return d;
    }

    core::Run backend_run() {
        core::Run run;
        run.id = RequestId{"R7"};
        run.requester = UserId{"U0ALICE"};
        run.channel = ChannelId{"C0INCIDENTS"};
        run.reason = "error rate spike";
        run.plan.id = "1a2b3c4d";
        run.plan.request = RollbackRequest{ActionKind::Backend, std::string("abc1234f"), {}, false};
        run.plan.before.deployments["backend"] = deployment("backend", "e4d5c6b7", 3);
        run.after.deployments["backend"] = deployment("backend", "abc1234f", 4);
        Step set;
        set.argv = {"kubectl",
                    "set",
                    "image",
                    "deployment/backend",
                    "backend=ghcr.io/your-org/preskool-backend:abc1234f",
                    "-n",
                    "preskool"};
        Step status;
        status.argv = {"kubectl",
                       "rollout",
                       "status",
                       "deployment/backend",
                       "-n",
                       "preskool",
                       "--timeout=120s"};
        run.plan.steps = {set, status};
        const auto t0 = std::chrono::steady_clock::time_point{} + seconds(1000);
        run.marks.received = t0;
        run.marks.finished = t0 + seconds(42);
        return run;
    }

    Settings settings_;
    templates::Renderer renderer_;
    Reporter reporter_;
};

TEST_F(Messages, RollbackExecutedIsTheRunbookBlock) {
    core::Run run = backend_run();
    run.state = RunState::Succeeded;
    run.verdict = Verdict{true, {}};
    EXPECT_EQ(reporter_.final_report(run),
              "⏪ ROLLBACK EXECUTED\n"
              "━━━━━━━━━━━━━━━━━━━━\n"
              "Rolled back from: e4d5c6b7\n"
              "Rolled back to:   abc1234f\n"
              "Reason:           error rate spike\n"
              "Status:           ✅ Service restored\n"
              "Time elapsed:     0.7 minutes\n"
              "Next Step:        Root cause investigation\n"
              "━━━━━━━━━━━━━━━━━━━━\n"
              "On-Call: <@U0ALICE>\n");
}

TEST_F(Messages, UnhealthyServiceIsStillInvestigating) {
    core::Run run = backend_run();
    run.state = RunState::Succeeded;
    run.reason.reset();
    run.verdict = Verdict{false, {"health: 503 in 12 ms"}};
    const auto text = reporter_.final_report(run);
    EXPECT_THAT(text, HasSubstr("Status:           🔴 Still investigating\n"));
    EXPECT_THAT(text, HasSubstr("Reason:           not given\n"));
    EXPECT_THAT(text, HasSubstr("503 in 12 ms"));
}

TEST_F(Messages, FullRollbackNamesBothTagsWhenTheyDiffer) {
    core::Run run = backend_run();
    run.plan.request = RollbackRequest{ActionKind::Full, std::nullopt, {}, false};
    run.plan.before.deployments["frontend"] = deployment("frontend", "5e6f7a8b", 2);
    run.after.deployments["frontend"] = deployment("frontend", "1a2b3c4d", 3);
    run.after.deployments["backend"] = deployment("backend", "9f8e7d6c", 4);
    run.state = RunState::Succeeded;
    run.verdict = Verdict{true, {}};
    const auto text = reporter_.final_report(run);
    EXPECT_THAT(text, HasSubstr("Rolled back from: backend e4d5c6b7, frontend 5e6f7a8b\n"));
    EXPECT_THAT(text, HasSubstr("Rolled back to:   backend 9f8e7d6c, frontend 1a2b3c4d\n"));
}

TEST_F(Messages, StoppedByShutdownSaysSoInTheNextStep) {
    core::Run run = backend_run();
    run.state = RunState::Cancelled;
    run.stopped_by_shutdown = true;
    StepResult stopped;
    stopped.outcome = StepOutcome::Cancelled;
    stopped.summary = "cancelled: its process group was killed";
    run.results = {stopped};
    const auto text = reporter_.final_report(run);
    EXPECT_THAT(text, HasSubstr("Next Step:        rollbot was stopping and ended this step"));
}

TEST_F(Messages, FailureShowsStepCommandExitCodeAndOutput) {
    core::Run run = backend_run();
    run.state = RunState::Failed;
    run.after = run.plan.before;
    StepResult ok;
    ok.outcome = StepOutcome::Succeeded;
    ok.summary = "deployment.apps/backend image updated";
    StepResult bad;
    bad.outcome = StepOutcome::Failed;
    bad.exit_code = 1;
    bad.duration = milliseconds(2500);
    bad.summary = "the rollout did not finish within 120s";
    bad.output = "Waiting for deployment...\nerror: timed out waiting for the condition";
    run.results = {ok, bad};
    const auto text = reporter_.final_report(run);
    EXPECT_THAT(text, HasSubstr("🔴 ROLLBACK FAILED — backend rollback to abc1234f (R7)"));
    EXPECT_THAT(text,
                HasSubstr("Failed step:      2/2 `kubectl rollout status deployment/backend "
                          "-n preskool --timeout=120s`"));
    EXPECT_THAT(text, HasSubstr("Exit code:        1 after 2.5 s"));
    EXPECT_THAT(text,
                HasSubstr("```\nWaiting for deployment...\nerror: timed out waiting for the "
                          "condition\n```"));
    EXPECT_THAT(text, ::testing::Not(HasSubstr("ROLLBACK EXECUTED")));
}

TEST_F(Messages, ShutdownNoticeListsOnlyWhatIsPending) {
    const auto both = reporter_.shutdown_notice("SIGTERM",
                                                {"R3: DB downgrade -1 (requested by U0ALICE)"},
                                                {"R4: backend rollback to abc1234f"},
                                                std::chrono::seconds(20));
    EXPECT_EQ(both,
              "🔄 *rollbot is restarting* (SIGTERM). Commands typed now get no answer until it is "
              "back.\nPending approvals will resume when it is back (a reaction added while it "
              "is away may have to be added again):\n• R3: DB downgrade -1 (requested by "
              "U0ALICE)\nRunning now (given 20.0 s to finish; a step still running then is "
              "stopped and the run reported as stopped):\n• R4: backend rollback to abc1234f\n");
    const auto runs_only =
        reporter_.shutdown_notice("SIGINT", {}, {"R4: x"}, std::chrono::seconds(1));
    EXPECT_THAT(runs_only, ::testing::Not(HasSubstr("Pending approvals")));
    EXPECT_THAT(runs_only, HasSubstr("\n• R4: x"));
    const auto hostile = reporter_.shutdown_notice("SIGTERM", {"R5: <!channel> *x*"}, {}, {});
    EXPECT_THAT(hostile, ::testing::Not(HasSubstr("<!channel>"))) << "values are escaped";
}

TEST_F(Messages, StateNotSavedSaysWhatItMeansWhileRunningAndAfter) {
    core::Run run = backend_run();
    const auto running = reporter_.state_not_saved(run, "state.step_finished: disk I/O error");
    EXPECT_THAT(
        running,
        HasSubstr("⚠️ *R7: rollbot cannot save its state* (state.step_finished: disk I/O "
                  "error). The rollback goes on and its report follows"));
    EXPECT_THAT(running, HasSubstr("New requests are refused until the state file can be written"));
    run.state = RunState::Succeeded;
    const auto ended = reporter_.state_not_saved(run, "database or disk is full");
    EXPECT_THAT(ended, HasSubstr("R7 has ended; its record may be incomplete."));
    EXPECT_THAT(ended, ::testing::Not(HasSubstr("goes on")));
    const auto hostile = reporter_.state_not_saved(run, "<!channel> *x*");
    EXPECT_THAT(hostile, ::testing::Not(HasSubstr("<!channel>"))) << "the error is escaped";
}

TEST_F(Messages, DryRunSaysNothingChanged) {
    core::Run run = backend_run();
    run.state = RunState::DryRun;
    run.plan.request.dry_run = true;
    run.plan.steps.resize(1);
    run.plan.notes = {"kubectl rollout status deployment/backend (nothing rolls out in a dry run)"};
    StepResult r;
    r.outcome = StepOutcome::Succeeded;
    r.summary = "deployment.apps/backend image updated (server dry run)";
    run.results = {r};
    run.after = run.plan.before;
    const auto text = reporter_.final_report(run);
    EXPECT_THAT(text, HasSubstr("🧪 DRY RUN — nothing changed"));
    EXPECT_THAT(text, HasSubstr("Would roll back:  e4d5c6b7 → abc1234f\n"));
    EXPECT_THAT(text,
                HasSubstr("1. `kubectl set image deployment/backend "
                          "backend=ghcr.io/your-org/preskool-backend:abc1234f -n preskool` → "
                          "deployment.apps/backend image updated (server dry run)"));
    EXPECT_THAT(text, HasSubstr("Not run in a dry run: kubectl rollout status"));
    EXPECT_THAT(text, ::testing::Not(HasSubstr("ROLLBACK EXECUTED")));
}

TEST_F(Messages, RequestCardListsThePlan) {
    core::Run run = backend_run();
    const auto text = reporter_.request_card(run, "running step 1/2");
    EXPECT_EQ(text,
              "⏳ *backend rollback to abc1234f* — R7, requested by <@U0ALICE>\n"
              "Reason: error rate spike\n"
              "Deployed now: e4d5c6b7\n"
              "Plan 1a2b3c4d:\n"
              "1. `kubectl set image deployment/backend "
              "backend=ghcr.io/your-org/preskool-backend:abc1234f -n preskool`\n"
              "2. `kubectl rollout status deployment/backend -n preskool --timeout=120s`\n"
              "Status: running step 1/2\n");
}

TEST_F(Messages, ReasonIsEscapedEverywhere) {
    core::Run run = backend_run();
    run.reason = "<!channel> look";
    run.state = RunState::Succeeded;
    run.verdict = Verdict{true, {}};
    EXPECT_THAT(reporter_.final_report(run), HasSubstr("&lt;!channel&gt; look"));
    EXPECT_THAT(reporter_.request_card(run, "x"), HasSubstr("&lt;!channel&gt; look"));
}

TEST_F(Messages, StepLine) {
    core::Run run = backend_run();
    StepResult r;
    r.outcome = StepOutcome::Succeeded;
    r.summary = "deployment.apps/backend image updated";
    r.duration = milliseconds(120);
    run.results = {r};
    EXPECT_EQ(reporter_.step_line(run, 0),
              "✅ 1/2 `kubectl set image deployment/backend "
              "backend=ghcr.io/your-org/preskool-backend:abc1234f -n preskool` — "
              "deployment.apps/backend image updated (0.1 s)\n");
}

TEST_F(Messages, StatusListsDeploymentsAndRuns) {
    std::vector<DeploymentStatus> ds{{"backend", deployment("backend", "e4d5c6b7", 3), ""},
                                     {"frontend", std::nullopt, "kubectl: connection refused"}};
    const auto now = std::chrono::system_clock::time_point{} + seconds(100000);
    std::vector<ActiveRun> runs{
        {RequestId{"R2"}, "backend rollback", UserId{"U0BOB"}, "running", now - seconds(75)}};
    const auto text = reporter_.status(ds, runs, now);
    EXPECT_THAT(text, HasSubstr("• *backend*: e4d5c6b7 (revision 3, 2/2 ready)"));
    EXPECT_THAT(text, HasSubstr("• *frontend*: unknown: kubectl: connection refused"));
    EXPECT_THAT(text, HasSubstr("R2 backend rollback by <@U0BOB>: running since 1m 15s ago"));
    EXPECT_THAT(reporter_.status(ds, {}, now), HasSubstr("No rollback is running."));
}

TEST_F(Messages, StatusShowsPodsServiceAndLockHolder) {
    PodsCheck pods;
    pods.deployment = "backend";
    pods.pods = {PodState{"backend-7c9d-a1", "Running", true, 0, "", ""},
                 PodState{"backend-7c9d-b2", "Running", false, 4, "CrashLoopBackOff", "OOMKilled"}};
    std::vector<DeploymentStatus> ds{{"backend", deployment("backend", "e4d5c6b7", 3), "", pods}};
    const auto now = std::chrono::system_clock::time_point{} + seconds(100000);
    std::vector<ActiveRun> runs{{RequestId{"R2"},
                                 "backend rollback",
                                 UserId{"U0BOB"},
                                 "running",
                                 now - seconds(75),
                                 "backend"}};
    const ServiceNow service{HealthCheck{false, 503, milliseconds(12), "503"},
                             MetricReading{0.27, "0.27"}};
    EXPECT_EQ(reporter_.status(ds, runs, now, service),
              "📋 *rollbot status* — namespace preskool\n"
              "• *backend*: e4d5c6b7 (revision 3, 2/2 ready, restarts 4) ⚠️ backend-7c9d-b2: "
              "CrashLoopBackOff (4 restarts), OOMKilled\n"
              "• ⚠️ Health: 503 in 12 ms\n"
              "• ⚠️ Error rate: 27 % (threshold 10 %)\n"
              "• ⏳ R2 backend rollback by <@U0BOB>: running since 1m 15s ago; holds backend\n");
    // No data is unknown, never 0 %.
    const ServiceNow no_data{std::nullopt, MetricReading{std::nullopt, "no data: empty result"}};
    EXPECT_THAT(reporter_.status(ds, {}, now, no_data),
                HasSubstr("• ❔ Error rate: unknown — no data: empty result (threshold 10 %)"));
}

TEST_F(Messages, UsageErrorAndRefusal) {
    EXPECT_THAT(
        reporter_.usage_error("unknown command 'x'"),
        HasSubstr("⚠️ unknown command 'x'\nNothing was run. Usage:\n```\n/rollback full"));
    EXPECT_EQ(reporter_.refused("rollbot takes commands only in", ChannelId{"C0INCIDENTS"}),
              "🚫 rollbot takes commands only in <#C0INCIDENTS>\nNothing was run.\n");
}

TEST_F(Messages, BusyNamesTheHolderAsAMention) {
    EXPECT_EQ(reporter_.busy(
                  "backend", RequestId{"R1"}, "backend rollback", UserId{"U0ALICE"}, seconds(75)),
              "🚫 backend is busy: R1 (backend rollback) by <@U0ALICE>, started 1m 15s ago.\n"
              "One rollback at a time per target: wait for it to finish, or talk to <@U0ALICE>.\n"
              "Nothing was run.\n");
}

TEST(FormatElapsed, RunbookMinutes) {
    EXPECT_EQ(format_elapsed(seconds(42)), "0.7 minutes");
    EXPECT_EQ(format_elapsed(seconds(0)), "0.0 minutes");
    EXPECT_EQ(format_elapsed(std::chrono::minutes(12)), "12 minutes");
    EXPECT_EQ(format_duration(milliseconds(420)), "0.4 s");
    EXPECT_EQ(format_duration(seconds(125)), "2m 05s");
}

TEST(Mention, OnlyValidUserIdsBecomeMentions) {
    EXPECT_EQ(mention(UserId{"U0ALICE"}), "<@U0ALICE>");
    EXPECT_EQ(mention(UserId{"<!channel>"}), "&lt;!channel&gt;");
}

}  // namespace
}  // namespace rollbot::core
