// Golden texts: the verification summary and the time-to-rollback table as on-call engineers read
// them in the run's thread.
#include "bot/reporter.hpp"
#include "bot/run.hpp"
#include "bot/verification.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace rollbot::core {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::Not;

PodState pod(std::string name) {
    PodState p;
    p.name = std::move(name);
    p.phase = "Running";
    p.ready = true;
    return p;
}

class VerificationMessage : public ::testing::Test {
protected:
    VerificationMessage()
        : renderer_(templates::Renderer::builtin()), reporter_(renderer_, settings_) {}

    static Verification restored_service() {
        Verification v;
        v.rollout_finished = true;
        v.health = HealthCheck{true, 200, milliseconds(35), "200 OK in 35 ms"};
        v.error_rate = MetricReading{0.048, "4.8 %"};
        v.p95 = MetricReading{0.4, "0.4 s"};
        PodsCheck backend;
        backend.deployment = "backend";
        backend.pods = {pod("backend-7d9f-a"), pod("backend-7d9f-b")};
        v.pods = {backend};
        v.at = std::chrono::system_clock::time_point{} + hours(14) + minutes(5) + seconds(12);
        return v;
    }

    [[nodiscard]] std::string summary(const Verification& v) const {
        return reporter_.verification_summary(v, judge(v, settings_.verify), settings_.verify);
    }

    [[nodiscard]] PhaseMarks marks() const {
        PhaseMarks m;
        m.received = t0_;
        m.script_done = t0_ + seconds(24);
        m.rollout_done = t0_ + seconds(90);
        m.healthy = t0_ + seconds(96);
        m.finished = t0_ + seconds(100);
        return m;
    }

    Settings settings_;
    templates::Renderer renderer_;
    Reporter reporter_;
    const std::chrono::steady_clock::time_point t0_ =
        std::chrono::steady_clock::time_point{} + seconds(5000);
    const std::chrono::system_clock::time_point received_at_ =
        std::chrono::system_clock::time_point{} + hours(14) + minutes(9);
};

TEST_F(VerificationMessage, RestoredRunListsEveryCheckAndServiceRestored) {
    EXPECT_EQ(summary(restored_service()),
              "🔎 *Post-rollback verification* at 14:05:12 UTC\n"
              "✅ Rollout: finished\n"
              "✅ Pods *backend*: 2 of 2 ready, restarts 0, OOMKills 0, crash-looping 0\n"
              "✅ Error rate: 4.8 % (threshold 10 %)\n"
              "✅ p95 latency: 400 ms (threshold 2 s)\n"
              "✅ Health: 200 in 35 ms\n"
              "*Verdict:* ✅ Service restored\n");
}

TEST_F(VerificationMessage, NotRestoredRunMarksEachCheckAndListsTheReasons) {
    auto v = restored_service();
    auto& crashing = v.pods[0].pods[0];
    crashing.ready = false;
    crashing.waiting_reason = "CrashLoopBackOff";
    crashing.restarts = 4;
    v.error_rate = MetricReading{0.142, "14.2 %"};
    v.p95 = MetricReading{std::nullopt, "no data: empty result"};
    EXPECT_EQ(summary(v),
              "🔎 *Post-rollback verification* at 14:05:12 UTC\n"
              "✅ Rollout: finished\n"
              "⚠️ Pods *backend*: 1 of 2 ready, restarts 4, OOMKills 0, crash-looping 1\n"
              "⚠️ Error rate: 14.2 % (threshold 10 %)\n"
              "❔ p95 latency: unknown — no data: empty result (threshold 2 s)\n"
              "✅ Health: 200 in 35 ms\n"
              "*Verdict:* 🔴 Still investigating\n"
              "• backend-7d9f-a: CrashLoopBackOff (4 restarts)\n"
              "• error rate 14.2 % is above the 10 % threshold\n"
              "• p95 unknown (no data: empty result): not counted as passing\n");
}

TEST_F(VerificationMessage, UnreadablePodsMissingHealthAndOomKillsAreShown) {
    auto v = restored_service();
    v.rollout_finished = false;
    v.pods[0].pods[1].last_terminated_reason = "OOMKilled";
    v.pods[0].pods[1].waiting_reason = "ErrImagePull";
    PodsCheck frontend;
    frontend.deployment = "frontend";
    frontend.error = "kubectl exited 1";
    v.pods.push_back(frontend);
    v.health.reset();
    const auto text = summary(v);
    EXPECT_THAT(text, HasSubstr("⚠️ Rollout: not finished\n"));
    EXPECT_THAT(text,
                HasSubstr("⚠️ Pods *backend*: 2 of 2 ready, restarts 0, OOMKills 1, "
                          "crash-looping 0, image pull failing 1\n"));
    EXPECT_THAT(text, HasSubstr("❔ Pods *frontend*: unreadable: kubectl exited 1\n"));
    EXPECT_THAT(text, HasSubstr("❔ Health: not checked\n"));
    EXPECT_THAT(text, HasSubstr("• backend-7d9f-b: ErrImagePull, OOMKilled\n"));
    EXPECT_THAT(text, HasSubstr("🔴 Still investigating"));
}

TEST_F(VerificationMessage, DatabaseOnlyRunWithoutPodChecksHasNoPodLines) {
    auto v = restored_service();
    v.pods.clear();
    EXPECT_EQ(summary(v),
              "🔎 *Post-rollback verification* at 14:05:12 UTC\n"
              "✅ Rollout: finished\n"
              "✅ Error rate: 4.8 % (threshold 10 %)\n"
              "✅ p95 latency: 400 ms (threshold 2 s)\n"
              "✅ Health: 200 in 35 ms\n"
              "*Verdict:* ✅ Service restored\n");
}

TEST_F(VerificationMessage, UnhealthyEndpointShowsStatusAndLatency) {
    auto v = restored_service();
    v.health = HealthCheck{false, 503, milliseconds(35), "503 Service Unavailable"};
    const auto text = summary(v);
    EXPECT_THAT(text, HasSubstr("⚠️ Health: 503 in 35 ms\n"));
    EXPECT_THAT(text, HasSubstr("• health: 503 in 35 ms\n"));
}

TEST_F(VerificationMessage, ClusterAndPrometheusTextCannotMentionOrLink) {
    auto v = restored_service();
    v.pods[0].pods[0].name = "<!channel>";
    v.pods[0].pods[0].restarts = 1;
    v.pods[0].deployment = "back<end>";
    v.error_rate = MetricReading{std::nullopt, "error: <https://evil.example|click> & more"};
    const auto text = summary(v);
    EXPECT_THAT(text, Not(HasSubstr("<!channel>")));
    EXPECT_THAT(text, Not(HasSubstr("<https://")));
    EXPECT_THAT(text, HasSubstr("• &lt;!channel&gt;: 1 restart\n"));
    EXPECT_THAT(text, HasSubstr("Pods *back&lt;end&gt;*"));
    EXPECT_THAT(text, HasSubstr("unknown — error: &lt;https://evil.example|click&gt; &amp; more"));
}

TEST_F(VerificationMessage, TimeTableMarksAMissedTarget) {
    auto m = marks();
    m.rollout_done = t0_ + minutes(6);
    m.healthy = t0_ + minutes(7);
    const auto rows = core::time_table(m,
                                       settings_.targets,
                                       received_at_ - minutes(6),
                                       received_at_,
                                       "from the error-rate rise at 14:03 UTC");
    EXPECT_EQ(reporter_.time_table(rows),
              "⏱ *Time to rollback* (runbook targets)\n"
              "✅ Decision to rollback: 6.0 min (target &lt; 10 min) — from the error-rate rise "
              "at 14:03 UTC\n"
              "✅ Script executed: 0.4 min (target &lt; 2 min)\n"
              "⚠️ K8s pods healthy: 6.0 min (target &lt; 5 min)\n"
              "✅ Health endpoint 200: 7.0 min (target &lt; 8 min)\n"
              "✅ Total E2E: 13.0 min (target &lt; 15 min) — from the incident start\n");
}

TEST_F(VerificationMessage, TimeTableShowsPhasesNotReachedAndAMissingIncidentStart) {
    auto m = marks();
    m.rollout_done.reset();
    m.healthy.reset();
    m.finished.reset();
    const auto rows = core::time_table(m, settings_.targets, std::nullopt, received_at_, "");
    EXPECT_EQ(reporter_.time_table(rows),
              "⏱ *Time to rollback* (runbook targets)\n"
              "— Decision to rollback: not measured: no incident start was given "
              "(target &lt; 10 min)\n"
              "✅ Script executed: 0.4 min (target &lt; 2 min)\n"
              "— K8s pods healthy: not reached (target &lt; 5 min)\n"
              "— Health endpoint 200: not reached (target &lt; 8 min)\n"
              "— Total E2E: not reached (target &lt; 15 min)\n");
}

TEST_F(VerificationMessage, TimeTableNotesAreEscapedAndOddTargetsReadable) {
    std::vector<TimeRow> rows{
        TimeRow{"Decision to rollback", minutes(3), seconds(90), "from <!here> alert"}};
    EXPECT_EQ(reporter_.time_table(rows),
              "⏱ *Time to rollback* (runbook targets)\n"
              "⚠️ Decision to rollback: 3.0 min (target &lt; 1.5 min) — from &lt;!here&gt; "
              "alert\n");
}

TEST_F(VerificationMessage, WatchFollowUpShowsTheTrendSinceTheReport) {
    const Verification at_report = restored_service();
    Verification now = restored_service();
    now.error_rate = MetricReading{0.012, ""};
    now.p95 = MetricReading{0.41, ""};
    const auto text = reporter_.watch_update(
        at_report, now, minutes(2), minutes(5), std::nullopt, judge(now, settings_.verify), "");
    EXPECT_EQ(text,
              "👀 *Watch +2.0 min* after ROLLBACK EXECUTED\n"
              "✅ Error rate: 1.2 % ↓ (at the report 4.8 %; threshold 10 %)\n"
              "✅ p95 latency: 410 ms → (at the report 400 ms; threshold 2 s)\n"
              "✅ Health: 200 in 35 ms\n"
              "✅ Pods *backend*: 2 of 2 ready, restarts 0, OOMKills 0, crash-looping 0\n"
              "Next check at +5.0 min.\n");
}

TEST_F(VerificationMessage, LastWatchFollowUpGivesTheVerdictAndSuggestsNeverRuns) {
    const Verification at_report = restored_service();
    Verification now = restored_service();
    now.error_rate = MetricReading{0.31, ""};
    now.health = HealthCheck{false, 503, milliseconds(9), "503"};
    const Verdict verdict = judge(now, settings_.verify);
    const auto text = reporter_.watch_update(at_report,
                                             now,
                                             minutes(10),
                                             minutes(0),
                                             trend(at_report, now, settings_.verify),
                                             verdict,
                                             "roll back further");
    EXPECT_THAT(text,
                HasSubstr("⚠️ Error rate: 31 % ↑ (at the report 4.8 %; threshold 10 %)\n"));
    EXPECT_THAT(text,
                HasSubstr("*Watch verdict:* 🔴 Worse\n"
                          "• health: 503 in 9 ms\n"
                          "• error rate 31 % is above the 10 % threshold\n"
                          "*Suggested next step* (rollbot does not run it by itself): roll back "
                          "further\n"));
    EXPECT_THAT(text, Not(HasSubstr("Next check")));
}

TEST_F(VerificationMessage, NoDataInTheWatchIsUnknownNotZero) {
    const Verification at_report = restored_service();
    Verification now = restored_service();
    now.error_rate = MetricReading{std::nullopt, "no data: NaN"};
    const auto text = reporter_.watch_update(at_report,
                                             now,
                                             minutes(10),
                                             minutes(0),
                                             trend(at_report, now, settings_.verify),
                                             judge(now, settings_.verify),
                                             "");
    EXPECT_THAT(text, HasSubstr("❔ Error rate: unknown — no data: NaN ? (at the report 4.8 %"));
    // Unknown is not a pass (so not Recovered), and not measured worse either (Prometheus may be
    // what is down): No change, with the reason listed.
    EXPECT_THAT(text,
                HasSubstr("*Watch verdict:* 🟡 No change\n"
                          "• error rate unknown (no data: NaN): not counted as passing\n"));
    EXPECT_THAT(text, Not(HasSubstr("Error rate: 0 %")));
}

TEST_F(VerificationMessage, AdviceRollbackNow) {
    Advice a;
    a.kind = AdviceKind::RollbackNow;
    a.evidence = {"🆕 backend e4d5c6b7: deployed 40 min ago (revision 3)",
                  "🔴 error rate 27 % (above the 10 % threshold)"};
    a.unknown = {"data corruption: ask"};
    a.command = "/rollback backend";
    EXPECT_EQ(reporter_.advice(a),
              "🧭 *Roll back or hotfix?* The runbook's \"When to Rollback vs. Hotfix\", on what "
              "rollbot can measure now\n"
              "🔴 *ROLLBACK NOW*: a deploy in the last 2 hours and the service is hurting. Don't "
              "debate: roll back first.\n"
              "*Evidence*\n"
              "🆕 backend e4d5c6b7: deployed 40 min ago (revision 3)\n"
              "🔴 error rate 27 % (above the 10 % threshold)\n"
              "*Not measured*\n"
              "❔ data corruption: ask\n"
              "Run: `/rollback backend --reason …`\n");
}

TEST_F(VerificationMessage, AdviceHotfixAndUnrelated) {
    Advice a;
    a.kind = AdviceKind::ProbablyHotfix;
    a.command = "/rollback backend";
    EXPECT_THAT(reporter_.advice(a), HasSubstr("🟡 *Probably a hotfix*"));
    EXPECT_THAT(reporter_.advice(a), HasSubstr("If you roll back, run: `/rollback backend"));
    a.kind = AdviceKind::NotDeploymentRelated;
    a.command.clear();
    EXPECT_THAT(reporter_.advice(a), HasSubstr("⚪ *Not deployment-related*"));
    EXPECT_THAT(reporter_.advice(a), HasSubstr("incident-response-plan.md (Contain phase)"));
    EXPECT_THAT(reporter_.advice(a), Not(HasSubstr("run:")));
    a.kind = AdviceKind::CannotTell;
    EXPECT_THAT(reporter_.advice(a), HasSubstr("❔ *Cannot tell*"));
    EXPECT_THAT(reporter_.advice(a), Not(HasSubstr("Not deployment-related")));
}

}  // namespace
}  // namespace rollbot::core
