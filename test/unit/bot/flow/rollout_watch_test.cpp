// The rollout watch built from the harness's fakes: the checks after a rollback, the crash-loop
// watch beside `rollout status`, the incident's start, and the watch window's follow-ups.
#include "bot/flow/rollout_watch.hpp"

#include "bot/flow/audit_trail.hpp"
#include "bot/flow/outbox.hpp"
#include "test/support/flow_harness.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace rollbot::test {
namespace {

namespace asio = boost::asio;
using core::PodsCheck;
using core::PodState;
using core::StepKind;
using core::StepOutcome;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using namespace std::chrono_literals;

template <class T>
asio::awaitable<void> store_into(asio::awaitable<T> task, std::optional<T>* out) {
    *out = co_await std::move(task);
}

/// The watch and what it posts and records through, built from the harness's members.
struct Watch {
    explicit Watch(FlowHarness& harness)
        : h(harness),
          audit(h.store, h.clock, h.audit_log, h.log, &h.metrics),
          outbox(h.tasks, h.chat, h.store, h.clock, h.log),
          watch(h.tasks,
                h.runbook,
                h.verifier,
                h.clock,
                h.settings,
                h.reporter,
                outbox,
                audit,
                h.log) {}

    FlowHarness& h;
    core::AuditTrail audit;
    core::Outbox outbox;
    core::RolloutWatch watch;
};

/// The backend's `kubectl rollout status` step, as the runbook plans it.
core::Step rollout_status(FlowHarness& h) {
    core::RollbackRequest request;
    request.action = core::ActionKind::Backend;
    auto plan = h.runbook.plan(request, {});
    EXPECT_TRUE(plan);
    return plan ? plan->steps.at(1) : core::Step{};
}

PodState pod(std::string name, int restarts = 0, std::string waiting = {}) {
    const bool up = waiting.empty();
    return PodState{std::move(name), "Running", up, restarts, std::move(waiting), ""};
}

PodsCheck pods(std::int64_t revision, std::vector<PodState> list) {
    PodsCheck check;
    check.revision = revision;
    check.pods = std::move(list);
    return check;
}

/// The deployment as it was before the rollback, deployed at `created` (RFC 3339).
core::DeploymentState deployed(std::string name,
                               std::int64_t revision,
                               std::string tag,
                               std::string created) {
    auto state = deployment(std::move(name), revision, std::move(tag));
    state.history = {core::RevisionInfo{revision, state.image, state.tag, std::move(created), ""}};
    state.history_known = true;
    return state;
}

std::vector<std::string> watch_posts(const FakeChat& chat) {
    std::vector<std::string> out;
    for (const auto& p : chat.posts()) {
        if (!p.failed && p.message.text.find("*Watch +") != std::string::npos) {
            out.push_back(p.message.text);
        }
    }
    return out;
}

std::vector<std::string> audit_kinds(FlowHarness& h, std::string id) {
    std::vector<std::string> kinds;
    auto records = h.sqlite->audit_log(core::RequestId{std::move(id)});
    EXPECT_TRUE(records);
    for (const auto& r : records ? *records : std::vector<core::AuditRecord>{}) {
        kinds.push_back(r.kind);
    }
    return kinds;
}

TEST(RolloutWatch, VerifyNowReadsHealthMetricsAndThePodsOfEachDeployment) {
    FlowHarness h;
    Watch w(h);
    h.verifier.p95_now = core::MetricReading{2.4, "2.4 s"};
    h.runbook.queue_pods("frontend", pods(5, {pod("frontend-1", 0, "CrashLoopBackOff")}));
    h.advance(42s);

    std::optional<core::Verification> v;
    std::vector<std::string> names{"backend", "frontend"};
    h.spawn(store_into(w.watch.verify_now(names, true), &v));
    ASSERT_TRUE(v);
    EXPECT_TRUE(v->rollout_finished);
    EXPECT_EQ(v->health, h.verifier.health);
    EXPECT_EQ(v->error_rate, h.verifier.error_rate_now);
    EXPECT_EQ(v->p95, h.verifier.p95_now);
    ASSERT_THAT(v->pods, SizeIs(2));
    EXPECT_EQ(v->pods[0].deployment, "backend");
    EXPECT_EQ(v->pods[0].revision, 3);
    EXPECT_THAT(v->pods[0].pods, SizeIs(2));
    EXPECT_EQ(v->pods[1].deployment, "frontend");
    EXPECT_TRUE(v->pods[1].crash_looping());
    EXPECT_EQ(v->at, h.clock.now());
    EXPECT_EQ(h.verifier.checks, 1);

    std::optional<core::Verification> unfinished;
    std::vector<std::string> none;
    h.spawn(store_into(w.watch.verify_now(none, false), &unfinished));
    ASSERT_TRUE(unfinished);
    EXPECT_FALSE(unfinished->rollout_finished);
    EXPECT_THAT(unfinished->pods, IsEmpty());
    EXPECT_EQ(h.verifier.checks, 2);
}

TEST(RolloutWatch, CrashLoopOfTheNewRevisionStopsTheWaitAndFailsTheStep) {
    FlowHarness h;
    Watch w(h);
    h.runbook.hold(StepKind::KubectlRolloutStatus);
    // The controller has not moved on yet: the old ReplicaSet's crash loop is the incident.
    h.runbook.queue_pods("backend", pods(3, {pod("backend-5f6e-old", 9, "CrashLoopBackOff")}));
    h.runbook.queue_pods("backend", pods(4, {pod("backend-7c9d-new")}));
    h.runbook.queue_pods("backend", pods(4, {pod("backend-7c9d-new", 3, "CrashLoopBackOff")}));

    std::optional<core::WatchedStep> watched;
    h.spawn(store_into(w.watch.run_watched(rollout_status(h), 3, core::RequestId{"R1"}), &watched));
    EXPECT_EQ(h.runbook.pods_calls(), 1U);  // the old revision's pods: no verdict on the target
    h.advance(2999ms);
    EXPECT_EQ(h.runbook.pods_calls(), 1U);  // every 3 s, not sooner
    h.advance(1ms);
    EXPECT_EQ(h.runbook.pods_calls(), 2U);  // the new revision, healthy: the baseline
    EXPECT_FALSE(watched);
    EXPECT_THAT(h.runbook.stopped_waiting(), IsEmpty());
    EXPECT_TRUE(h.runbook.waiting(StepKind::KubectlRolloutStatus));

    h.advance(3s);  // the new revision's pod goes into CrashLoopBackOff
    EXPECT_THAT(h.runbook.stopped_waiting(), ElementsAre("backend"));
    ASSERT_TRUE(watched);
    EXPECT_EQ(watched->result.outcome, StepOutcome::Failed);
    EXPECT_EQ(watched->failure, "backend-7c9d-new: CrashLoopBackOff (3 restarts)");
    EXPECT_THAT(watched->result.summary,
                HasSubstr("the pods of the revision rolled back to are failing "
                          "(backend-7c9d-new: CrashLoopBackOff (3 restarts)): rollbot stopped "
                          "waiting for the rollout"));
    EXPECT_THAT(h.logs(), HasSubstr("rollout.failing deployment=backend"));
    // The watch ends with the step: no more polls.
    const auto calls = h.runbook.pods_calls();
    h.advance(30s);
    EXPECT_EQ(h.runbook.pods_calls(), calls);
}

TEST(RolloutWatch, RestartsRisingOnTheNewRevisionStopTheWait) {
    FlowHarness h;
    Watch w(h);
    h.runbook.hold(StepKind::KubectlRolloutStatus);
    // One restart before the watch began is not this rollout's; the second is.
    h.runbook.queue_pods("backend", pods(4, {pod("backend-7c9d-a", 1), pod("backend-7c9d-b")}));
    h.runbook.queue_pods("backend", pods(4, {pod("backend-7c9d-a", 1), pod("backend-7c9d-b")}));
    h.runbook.queue_pods("backend", pods(4, {pod("backend-7c9d-a", 1), pod("backend-7c9d-b", 1)}));

    std::optional<core::WatchedStep> watched;
    h.spawn(store_into(w.watch.run_watched(rollout_status(h), 3, core::RequestId{"R1"}), &watched));
    h.advance(3s);
    EXPECT_FALSE(watched);
    EXPECT_THAT(h.runbook.stopped_waiting(), IsEmpty());
    h.advance(3s);
    EXPECT_THAT(h.runbook.stopped_waiting(), ElementsAre("backend"));
    ASSERT_TRUE(watched);
    EXPECT_EQ(watched->result.outcome, StepOutcome::Failed);
    EXPECT_THAT(watched->failure, HasSubstr("backend-7c9d-b"));
    EXPECT_THAT(watched->result.summary, HasSubstr("backend-7c9d-b"));
}

TEST(RolloutWatch, PodsOfTheOldRevisionDoNotCount) {
    FlowHarness h;
    Watch w(h);
    h.runbook.hold(StepKind::KubectlRolloutStatus);
    h.runbook.queue_pods("backend", pods(3, {pod("backend-5f6e-old", 9, "CrashLoopBackOff")}));
    h.runbook.queue_pods("backend", pods(3, {pod("backend-5f6e-old", 12, "CrashLoopBackOff")}));

    std::optional<core::WatchedStep> watched;
    h.spawn(store_into(w.watch.run_watched(rollout_status(h), 3, core::RequestId{"R1"}), &watched));
    for (int i = 0; i < 10; ++i) {
        h.advance(3s);
    }
    EXPECT_EQ(h.runbook.pods_calls(), 11U);  // it kept looking
    EXPECT_THAT(h.runbook.stopped_waiting(), IsEmpty());
    EXPECT_FALSE(watched);

    h.runbook.release(StepKind::KubectlRolloutStatus);
    h.run();
    ASSERT_TRUE(watched);
    EXPECT_EQ(watched->result.outcome, StepOutcome::Succeeded);
    EXPECT_EQ(watched->failure, "");
    EXPECT_THAT(watched->result.summary, Not(HasSubstr("failing")));
}

TEST(RolloutWatch, WithoutTheRevisionBeforeTheOldPodsAreNotTakenForTheNewOnes) {
    FlowHarness h;
    Watch w(h);
    h.runbook.hold(StepKind::KubectlRolloutStatus);
    // The deployment could not be read before the change (revision 0): the crash-looping pods
    // still shown as current are the incident's, not the target's.
    h.runbook.queue_pods("backend", pods(3, {pod("backend-5f6e-old", 9, "CrashLoopBackOff")}));

    std::optional<core::WatchedStep> watched;
    h.spawn(store_into(w.watch.run_watched(rollout_status(h), 0, core::RequestId{"R1"}), &watched));
    h.advance(3s);
    h.advance(3s);
    EXPECT_THAT(h.runbook.stopped_waiting(), IsEmpty());
    EXPECT_FALSE(watched);

    h.runbook.release(StepKind::KubectlRolloutStatus);
    h.run();
    ASSERT_TRUE(watched);
    EXPECT_EQ(watched->result.outcome, StepOutcome::Succeeded);
    EXPECT_EQ(watched->failure, "");
}

TEST(RolloutWatch, BackendUnreadableBeforeTheRollbackIsNotReportedAsTheTargetFailing) {
    FlowHarness h;
    h.runbook.set_unreadable("backend");  // kubectl get deployment failed when it was planned
    h.runbook.hold(StepKind::KubectlRolloutStatus);
    h.runbook.queue_pods("backend", pods(3, {pod("backend-5f6e-old", 9, "CrashLoopBackOff")}));
    h.command("backend --reason crash loop after deploy");
    h.runbook.set_unreadable("backend", false);
    h.advance(3s);
    EXPECT_EQ(h.chat.count_posts("ROLLBACK FAILED"), 0U);
    EXPECT_THAT(h.runbook.stopped_waiting(), IsEmpty());

    h.runbook.release(StepKind::KubectlRolloutStatus);
    h.run();
    // The rollout is reported as done; the verification under it shows the pods as they are.
    EXPECT_EQ(h.chat.count_posts("ROLLBACK FAILED"), 0U);
    EXPECT_EQ(h.chat.count_posts("fails as well"), 0U);
    EXPECT_THAT(h.post("⏪ ROLLBACK EXECUTED").message.text,
                HasSubstr("Rolled back from: backend unknown"));
    EXPECT_EQ(h.runbook.ran(StepKind::KubectlRolloutStatus), 1U);
}

TEST(RolloutWatch, CrashLoopDuringARollbackFailsItsRolloutStepInTheReport) {
    FlowHarness h;
    h.runbook.set_deployment_after(StepKind::KubectlUndo, deployment("backend", 4, "a1b2c3d4"));
    h.runbook.hold(StepKind::KubectlRolloutStatus);
    h.runbook.queue_pods("backend", pods(4, {pod("backend-7c9d-new")}));
    h.runbook.queue_pods("backend", pods(4, {pod("backend-7c9d-new", 2, "CrashLoopBackOff")}));
    h.command("backend --reason error rate spike");
    EXPECT_EQ(h.chat.count_posts("ROLLBACK"), 0U);

    h.advance(3s);
    const auto report = h.post("🔴 ROLLBACK FAILED");
    const auto& text = report.message.text;
    EXPECT_THAT(text, HasSubstr("Failed step:      2/2 `kubectl rollout status"));
    EXPECT_THAT(text,
                HasSubstr("What happened:    the pods of the revision rolled back to are failing "
                          "(backend-7c9d-new: CrashLoopBackOff (2 restarts))"));
    EXPECT_THAT(text, HasSubstr("The revision rolled back to fails as well"));
    EXPECT_EQ(h.chat.count_posts("🔴 2/2 `kubectl rollout status"), 1U);  // its step line
    EXPECT_EQ(h.counter("rollbot_runs_total", {"backend", "failed"}), 1);
    EXPECT_EQ(h.coordinator().running(), 0U);
}

TEST(RolloutWatch, IncidentStartsAtTheErrorRateRise) {
    FlowHarness h;
    Watch w(h);
    core::Plan plan;
    plan.before.deployments["backend"] = deployed("backend", 3, "e4d5c6b7", "2026-11-24T00:20:00Z");
    h.verifier.rise = h.clock.now() - 15min;

    std::optional<core::IncidentStart> start;
    h.spawn(store_into(w.watch.incident_start(plan, h.clock.now()), &start));
    ASSERT_TRUE(start);
    EXPECT_EQ(start->at, h.clock.now() - 15min);  // the rise wins over the deploy
    EXPECT_EQ(start->note, "from the error-rate rise above 10 % at 00:45 UTC");
}

TEST(RolloutWatch, RiseAtTheStartOfTheLookBackMeansAtLeastThatLong) {
    FlowHarness h;
    Watch w(h);
    h.verifier.rise = h.clock.now() - 2h + 30s;

    const core::Plan plan;
    std::optional<core::IncidentStart> start;
    h.spawn(store_into(w.watch.incident_start(plan, h.clock.now()), &start));
    ASSERT_TRUE(start);
    EXPECT_EQ(start->at, h.verifier.rise);
    EXPECT_THAT(start->note,
                HasSubstr("already above 10 % at 23:00 UTC, the start of the 2-hour look-back"));
}

TEST(RolloutWatch, IncidentStartsAtTheNewestDeployWithoutARise) {
    FlowHarness h;
    Watch w(h);
    core::Plan plan;
    plan.before.deployments["backend"] = deployed("backend", 3, "e4d5c6b7", "2026-11-24T00:20:00Z");
    plan.before.deployments["frontend"] =
        deployed("frontend", 5, "5e6f7a8b", "2026-11-24T00:40:00Z");

    std::optional<core::IncidentStart> start;
    h.spawn(store_into(w.watch.incident_start(plan, h.clock.now()), &start));
    ASSERT_TRUE(start);
    EXPECT_EQ(start->at, h.clock.now() - 20min);
    EXPECT_EQ(start->note,
              "from the deploy of frontend 5e6f7a8b at 00:40 UTC (no error-rate rise found)");
}

TEST(RolloutWatch, IncidentStartNotMeasuredWithoutARiseOrADeployTime) {
    FlowHarness h;
    Watch w(h);
    core::Plan plan;
    plan.before.deployments["backend"] = deployment("backend", 3, "e4d5c6b7");  // no history

    std::optional<core::IncidentStart> start;
    h.spawn(store_into(w.watch.incident_start(plan, h.clock.now()), &start));
    ASSERT_TRUE(start);
    EXPECT_FALSE(start->at);
    EXPECT_EQ(start->note, "not measured: no error-rate rise and no deploy time found");
}

TEST(RolloutWatch, FollowUpsComeAtTwoFiveAndTenMinutesInTheReportsThread) {
    FlowHarness h;
    h.command("backend");
    const auto report = h.post("ROLLBACK EXECUTED");

    h.advance(2min - 1s);
    EXPECT_THAT(watch_posts(h.chat), IsEmpty());
    h.advance(1s);
    ASSERT_THAT(watch_posts(h.chat), SizeIs(1));
    const auto first = h.post("*Watch +");
    EXPECT_EQ(first.message.thread_ts, report.ts);
    EXPECT_THAT(first.message.text, HasSubstr("👀 *Watch +2.0 min* after ROLLBACK EXECUTED"));
    EXPECT_THAT(first.message.text, HasSubstr("Next check at +5.0 min."));
    EXPECT_THAT(first.message.text, Not(HasSubstr("Watch verdict")));

    h.advance(3min - 1s);
    EXPECT_THAT(watch_posts(h.chat), SizeIs(1));
    h.advance(1s);
    ASSERT_THAT(watch_posts(h.chat), SizeIs(2));
    EXPECT_THAT(watch_posts(h.chat)[1], HasSubstr("*Watch +5.0 min*"));
    EXPECT_THAT(watch_posts(h.chat)[1], HasSubstr("Next check at +10.0 min."));
    EXPECT_THAT(audit_kinds(h, "R1"), Not(Contains("watch")));

    h.advance(5min - 1s);
    EXPECT_THAT(watch_posts(h.chat), SizeIs(2));
    h.advance(1s);
    ASSERT_THAT(watch_posts(h.chat), SizeIs(3));
    const auto last = watch_posts(h.chat)[2];
    EXPECT_THAT(last, HasSubstr("*Watch +10.0 min*"));
    EXPECT_THAT(last, HasSubstr("*Watch verdict:* ✅ Recovered"));
    EXPECT_THAT(last, Not(HasSubstr("Next check")));
    EXPECT_THAT(last, Not(HasSubstr("Suggested next step")));

    // The trend is on the record; and the window is over.
    auto records = h.sqlite->audit_log(core::RequestId{"R1"});
    ASSERT_TRUE(records);
    ASSERT_FALSE(records->empty());
    EXPECT_EQ(records->back().kind, "watch");
    EXPECT_THAT(records->back().detail, HasSubstr("Recovered"));
    EXPECT_THAT(records->back().detail, HasSubstr("restored=true"));
    h.advance(1h);
    EXPECT_THAT(watch_posts(h.chat), SizeIs(3));
}

TEST(RolloutWatch, WorseAtTheEndSuggestsRollingBackFurther) {
    FlowHarness h;
    h.command("backend");
    EXPECT_THAT(h.post("ROLLBACK EXECUTED").message.text, HasSubstr("Service restored"));
    h.advance(5min);
    h.verifier.set_incident();  // it breaks again
    h.advance(5min);

    const auto posts = watch_posts(h.chat);
    ASSERT_THAT(posts, SizeIs(3));
    EXPECT_THAT(posts[0], Not(HasSubstr("Suggested next step")));
    EXPECT_THAT(posts[2], HasSubstr("*Watch verdict:* 🔴 Worse"));
    EXPECT_THAT(posts[2], HasSubstr("Error rate: 27 % ↑ (at the report 1 %; threshold 10 %)"));
    EXPECT_THAT(posts[2],
                HasSubstr("*Suggested next step* (rollbot does not run it by itself): roll back "
                          "further to an older known-good SHA"));
    auto records = h.sqlite->audit_log(core::RequestId{"R1"});
    ASSERT_TRUE(records);
    EXPECT_EQ(records->back().kind, "watch");
    EXPECT_THAT(records->back().detail, HasSubstr("Worse"));
    EXPECT_THAT(records->back().detail, HasSubstr("restored=false"));
}

TEST(RolloutWatch, RecoveredAfterAnUnhealthyReport) {
    FlowHarness h;
    h.verifier.set_incident();
    h.command("backend");
    EXPECT_THAT(h.post("ROLLBACK EXECUTED").message.text, HasSubstr("🔴 Still investigating"));
    h.advance(5min);
    EXPECT_THAT(watch_posts(h.chat), SizeIs(2));
    h.verifier.set_healthy();
    h.advance(5min);

    const auto posts = watch_posts(h.chat);
    ASSERT_THAT(posts, SizeIs(3));
    EXPECT_THAT(posts[2], HasSubstr("*Watch verdict:* ✅ Recovered"));
    EXPECT_THAT(posts[2], HasSubstr("Error rate: 1 % ↓ (at the report 27 %"));
    EXPECT_THAT(posts[2], Not(HasSubstr("Suggested next step")));
}

TEST(RolloutWatch, NoFollowUpsWhenTheWatchIsZero) {
    FlowHarness h;
    h.settings.verify.watch = core::Duration::zero();
    h.command("backend");
    EXPECT_EQ(h.chat.count_posts("ROLLBACK EXECUTED"), 1U);
    const auto posts = h.chat.posts().size();
    h.advance(2h);
    EXPECT_THAT(watch_posts(h.chat), IsEmpty());
    EXPECT_EQ(h.chat.posts().size(), posts);
    auto records = h.sqlite->audit_log(core::RequestId{"R1"});
    ASSERT_TRUE(records);
    EXPECT_EQ(records->back().kind, "report");
}

TEST(RolloutWatch, WindowPostsWhereItIsToldAndComparesWithTheReport) {
    FlowHarness h;
    Watch w(h);
    h.settings.verify.watch = 5min;
    std::optional<core::Verification> at_report;
    std::vector<std::string> names{"backend"};
    h.spawn(store_into(w.watch.verify_now(names, true), &at_report));
    ASSERT_TRUE(at_report);

    const core::MessageTs thread{"1699999999.000001"};
    w.watch.start_window(core::WatchWindow{
        core::RequestId{"R7"}, *at_report, names, core::ChannelId{"C0INCIDENTS"}, thread});
    h.run();
    h.verifier.p95_now = core::MetricReading{1.2, "1.2 s"};
    h.advance(1min);  // a fifth of 5 minutes
    ASSERT_THAT(watch_posts(h.chat), SizeIs(1));
    const auto first = h.post("*Watch +1.0 min*");
    EXPECT_EQ(first.message.thread_ts, thread);
    EXPECT_THAT(first.message.text, HasSubstr("p95 latency: 1.2 s ↑ (at the report 300 ms"));
    EXPECT_THAT(first.message.text, HasSubstr("Next check at +2.5 min."));
    h.advance(90s);
    ASSERT_THAT(watch_posts(h.chat), SizeIs(2));
    h.advance(150s - 1s);
    EXPECT_THAT(watch_posts(h.chat), SizeIs(2));
    h.advance(1s);
    ASSERT_THAT(watch_posts(h.chat), SizeIs(3));
    EXPECT_THAT(watch_posts(h.chat)[2], HasSubstr("*Watch verdict:*"));
    auto records = h.sqlite->audit_log(core::RequestId{"R7"});
    ASSERT_TRUE(records);
    ASSERT_THAT(*records, SizeIs(1));
    EXPECT_EQ(records->front().kind, "watch");
}

}  // namespace
}  // namespace rollbot::test
