// The post-rollback verdict and the time-to-rollback table (runbook "Post-Rollback Verification"
// and "Time-to-Rollback Targets"): unknown never passes, every reason names its threshold.
#include "bot/run.hpp"
#include "bot/verification.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace rollbot::core {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

PodState running_pod(std::string name) {
    PodState pod;
    pod.name = std::move(name);
    pod.phase = "Running";
    pod.ready = true;
    return pod;
}

// Everything the runbook checks, passing: the starting point each test breaks one thing in.
Verification healthy_service() {
    Verification v;
    v.rollout_finished = true;
    v.health = HealthCheck{true, 200, milliseconds(35), "200 OK in 35 ms"};
    v.error_rate = MetricReading{0.048, "4.8 %"};
    v.p95 = MetricReading{0.4, "0.4 s"};
    PodsCheck backend;
    backend.deployment = "backend";
    backend.pods = {running_pod("backend-7d9f-a"), running_pod("backend-7d9f-b")};
    v.pods = {backend};
    return v;
}

MetricReading no_data(std::string detail) {
    return MetricReading{std::nullopt, std::move(detail)};
}

class VerdictJudge : public ::testing::Test {
protected:
    VerifySettings settings_;  // max error rate 10 %, max p95 2 s
};

TEST_F(VerdictJudge, RestoredWhenEveryCheckPasses) {
    const auto verdict = judge(healthy_service(), settings_);
    EXPECT_TRUE(verdict.restored);
    EXPECT_THAT(verdict.reasons, IsEmpty());
}

TEST_F(VerdictJudge, RestoredAtExactlyTheThresholds) {
    auto v = healthy_service();
    v.error_rate.value = 0.10;
    v.p95.value = 2.0;
    EXPECT_TRUE(judge(v, settings_).restored);
}

TEST_F(VerdictJudge, ZeroErrorRateIsKnownAndPasses) {
    auto v = healthy_service();
    v.error_rate = MetricReading{0.0, "0 %"};
    EXPECT_TRUE(judge(v, settings_).restored);
}

TEST_F(VerdictJudge, UnfinishedRolloutIsNotRestored) {
    auto v = healthy_service();
    v.rollout_finished = false;
    const auto verdict = judge(v, settings_);
    EXPECT_FALSE(verdict.restored);
    EXPECT_THAT(verdict.reasons, ElementsAre("the rollout did not finish"));
}

TEST_F(VerdictJudge, CrashLoopingPodIsNamedWithItsRestarts) {
    auto v = healthy_service();
    auto& pod = v.pods[0].pods[0];
    pod.ready = false;
    pod.waiting_reason = "CrashLoopBackOff";
    pod.restarts = 4;
    const auto verdict = judge(v, settings_);
    EXPECT_FALSE(verdict.restored);
    EXPECT_THAT(verdict.reasons, ElementsAre("backend-7d9f-a: CrashLoopBackOff (4 restarts)"));
}

TEST_F(VerdictJudge, ARestartWithoutCrashLoopBackOffStillFails) {
    auto v = healthy_service();
    v.pods[0].pods[1].restarts = 1;
    const auto verdict = judge(v, settings_);
    EXPECT_FALSE(verdict.restored);
    EXPECT_THAT(verdict.reasons, ElementsAre("backend-7d9f-b: 1 restart"));
}

TEST_F(VerdictJudge, OomKilledPodFails) {
    auto v = healthy_service();
    v.pods[0].pods[0].last_terminated_reason = "OOMKilled";
    const auto verdict = judge(v, settings_);
    EXPECT_FALSE(verdict.restored);
    EXPECT_THAT(verdict.reasons, ElementsAre("backend-7d9f-a: OOMKilled"));
}

TEST_F(VerdictJudge, OtherTerminationReasonsWithoutRestartsPass) {
    auto v = healthy_service();
    v.pods[0].pods[0].last_terminated_reason = "Completed";
    EXPECT_TRUE(judge(v, settings_).restored);
}

TEST_F(VerdictJudge, OnePodWithSeveralProblemsIsOneReason) {
    auto v = healthy_service();
    auto& pod = v.pods[0].pods[0];
    pod.waiting_reason = "CrashLoopBackOff";
    pod.restarts = 3;
    pod.last_terminated_reason = "OOMKilled";
    EXPECT_THAT(judge(v, settings_).reasons,
                ElementsAre("backend-7d9f-a: CrashLoopBackOff (3 restarts), OOMKilled"));
}

TEST_F(VerdictJudge, AnUnreadyPodFails) {
    auto v = healthy_service();
    v.pods[0].pods[1].ready = false;
    const auto verdict = judge(v, settings_);
    EXPECT_FALSE(verdict.restored);
    EXPECT_THAT(verdict.reasons, ElementsAre("backend-7d9f-b: not ready"));
}

TEST_F(VerdictJudge, NoPodsInTheCurrentReplicaSetFails) {
    auto v = healthy_service();
    v.pods[0].pods.clear();
    const auto verdict = judge(v, settings_);
    EXPECT_FALSE(verdict.restored);
    EXPECT_THAT(verdict.reasons,
                ElementsAre("no pods of backend's current ReplicaSet are running"));
}

TEST_F(VerdictJudge, ImagePullFailuresFail) {
    for (const char* reason : {"ImagePullBackOff", "ErrImagePull", "InvalidImageName"}) {
        auto v = healthy_service();
        v.pods[0].pods[1].waiting_reason = reason;
        v.pods[0].pods[1].ready = false;
        const auto verdict = judge(v, settings_);
        EXPECT_FALSE(verdict.restored) << reason;
        EXPECT_THAT(verdict.reasons, ElementsAre(std::string("backend-7d9f-b: ") + reason));
    }
}

TEST_F(VerdictJudge, UnreadablePodsAreNotCountedAsPassing) {
    auto v = healthy_service();
    PodsCheck frontend;
    frontend.deployment = "frontend";
    frontend.error = "kubectl exited 1: connection refused";
    v.pods.push_back(frontend);
    const auto verdict = judge(v, settings_);
    EXPECT_FALSE(verdict.restored);
    EXPECT_THAT(verdict.reasons,
                ElementsAre("pods of frontend unreadable (kubectl exited 1: connection refused): "
                            "not counted as passing"));
}

TEST_F(VerdictJudge, MissingHealthCheckIsNotCountedAsPassing) {
    auto v = healthy_service();
    v.health.reset();
    const auto verdict = judge(v, settings_);
    EXPECT_FALSE(verdict.restored);
    EXPECT_THAT(verdict.reasons, ElementsAre("health: not checked: not counted as passing"));
}

TEST_F(VerdictJudge, UnhealthyHealthEndpointShowsStatusAndLatency) {
    auto v = healthy_service();
    v.health = HealthCheck{false, 503, milliseconds(35), "503 Service Unavailable in 35 ms"};
    const auto verdict = judge(v, settings_);
    EXPECT_FALSE(verdict.restored);
    EXPECT_THAT(verdict.reasons, ElementsAre("health: 503 in 35 ms"));
}

TEST_F(VerdictJudge, HealthEndpointThatDidNotAnswerSaysWhy) {
    auto v = healthy_service();
    v.health = HealthCheck{false, std::nullopt, milliseconds(5000), "connection refused"};
    EXPECT_THAT(judge(v, settings_).reasons, ElementsAre("health: no answer (connection refused)"));
}

TEST_F(VerdictJudge, HealthyFlagWithANon2xxStatusFails) {
    auto v = healthy_service();
    v.health = HealthCheck{true, 302, milliseconds(12), "302 Found"};
    EXPECT_THAT(judge(v, settings_).reasons, ElementsAre("health: 302 in 12 ms"));
}

TEST_F(VerdictJudge, ErrorRateAboveThresholdNamesValueAndThreshold) {
    auto v = healthy_service();
    v.error_rate = MetricReading{0.142, "14.2 %"};
    const auto verdict = judge(v, settings_);
    EXPECT_FALSE(verdict.restored);
    EXPECT_THAT(verdict.reasons, ElementsAre("error rate 14.2 % is above the 10 % threshold"));
}

TEST_F(VerdictJudge, ErrorRateJustAboveThresholdNeverReadsAsEqual) {
    auto v = healthy_service();
    v.error_rate.value = 0.1004;
    EXPECT_THAT(judge(v, settings_).reasons,
                ElementsAre("error rate 10.04 % is above the 10 % threshold"));
}

TEST_F(VerdictJudge, ErrorRateThresholdComesFromSettings) {
    settings_.max_error_rate = 0.02;
    EXPECT_THAT(judge(healthy_service(), settings_).reasons,
                ElementsAre("error rate 4.8 % is above the 2 % threshold"));
}

TEST_F(VerdictJudge, ErrorRateNoDataIsUnknownNotZero) {
    auto v = healthy_service();
    v.error_rate = no_data("no data: NaN (no traffic in 5 minutes)");
    const auto verdict = judge(v, settings_);
    EXPECT_FALSE(verdict.restored);
    EXPECT_THAT(verdict.reasons,
                ElementsAre("error rate unknown (no data: NaN (no traffic in 5 minutes)): "
                            "not counted as passing"));
}

TEST_F(VerdictJudge, ErrorRateEmptyResultIsUnknown) {
    auto v = healthy_service();
    v.error_rate = no_data("no data: empty result");
    EXPECT_THAT(judge(v, settings_).reasons,
                ElementsAre("error rate unknown (no data: empty result): not counted as passing"));
}

TEST_F(VerdictJudge, ErrorRateQueryErrorIsUnknown) {
    auto v = healthy_service();
    v.error_rate = no_data("error: 503 timeout");
    EXPECT_THAT(judge(v, settings_).reasons,
                ElementsAre("error rate unknown (error: 503 timeout): not counted as passing"));
}

TEST_F(VerdictJudge, NaNSmuggledInAsAValueIsStillUnknown) {
    auto v = healthy_service();
    v.error_rate = MetricReading{std::numeric_limits<double>::quiet_NaN(), "no data: NaN"};
    v.p95 = MetricReading{std::numeric_limits<double>::infinity(), "no data: +Inf"};
    const auto verdict = judge(v, settings_);
    EXPECT_FALSE(verdict.restored);
    EXPECT_THAT(verdict.reasons,
                ElementsAre("error rate unknown (no data: NaN): not counted as passing",
                            "p95 unknown (no data: +Inf): not counted as passing"));
}

TEST_F(VerdictJudge, UnknownWithoutDetailStillSaysItDoesNotPass) {
    auto v = healthy_service();
    v.p95 = MetricReading{};
    EXPECT_THAT(judge(v, settings_).reasons, ElementsAre("p95 unknown: not counted as passing"));
}

TEST_F(VerdictJudge, P95AboveThresholdNamesValueAndThreshold) {
    auto v = healthy_service();
    v.p95 = MetricReading{2.4, "2.4 s"};
    const auto verdict = judge(v, settings_);
    EXPECT_FALSE(verdict.restored);
    EXPECT_THAT(verdict.reasons, ElementsAre("p95 2.4 s is above 2 s"));
}

TEST_F(VerdictJudge, P95ThresholdComesFromSettingsInSecondsOrMilliseconds) {
    settings_.max_p95_latency = milliseconds(300);
    EXPECT_THAT(judge(healthy_service(), settings_).reasons,
                ElementsAre("p95 400 ms is above 300 ms"));
}

TEST_F(VerdictJudge, P95UnknownForEmptyResultAndError) {
    for (const char* detail : {"no data: empty result", "error: connection refused"}) {
        auto v = healthy_service();
        v.p95 = no_data(detail);
        EXPECT_THAT(
            judge(v, settings_).reasons,
            ElementsAre("p95 unknown (" + std::string(detail) + "): not counted as passing"));
    }
}

TEST_F(VerdictJudge, SeveralFailuresAreAllListedInCheckOrder) {
    auto v = healthy_service();
    v.rollout_finished = false;
    v.pods[0].pods[0].waiting_reason = "CrashLoopBackOff";
    v.pods[0].pods[0].restarts = 4;
    v.pods[0].pods[1].last_terminated_reason = "OOMKilled";
    v.health = HealthCheck{false, 503, milliseconds(35), ""};
    v.error_rate = MetricReading{0.142, "14.2 %"};
    v.p95 = no_data("no data: NaN");
    const auto verdict = judge(v, settings_);
    EXPECT_FALSE(verdict.restored);
    EXPECT_THAT(verdict.reasons,
                ElementsAre("the rollout did not finish",
                            "backend-7d9f-a: CrashLoopBackOff (4 restarts)",
                            "backend-7d9f-b: OOMKilled",
                            "health: 503 in 35 ms",
                            "error rate 14.2 % is above the 10 % threshold",
                            "p95 unknown (no data: NaN): not counted as passing"));
}

TEST(VerdictFormat, NumbersReadTheWayTheRunbookWritesThem) {
    EXPECT_EQ(format_percent(0.142), "14.2 %");
    EXPECT_EQ(format_percent(0.1), "10 %");
    EXPECT_EQ(format_percent(0.0), "0 %");
    EXPECT_EQ(format_seconds(2.4), "2.4 s");
    EXPECT_EQ(format_seconds(2.0), "2 s");
    EXPECT_EQ(format_seconds(0.35), "350 ms");
    EXPECT_EQ(format_minutes(seconds(24)), "0.4 min");
    EXPECT_EQ(format_minutes(minutes(12)), "12.0 min");
}

// --- time-to-rollback table ---------------------------------------------------------------------

class TimeTable : public ::testing::Test {
protected:
    TimeTable() {
        marks_.received = t0_;
        marks_.first_action = t0_ + seconds(2);
        marks_.script_done = t0_ + seconds(24);
        marks_.rollout_done = t0_ + seconds(90);
        marks_.healthy = t0_ + seconds(96);
        marks_.finished = t0_ + seconds(100);
    }

    [[nodiscard]] std::vector<TimeRow> table(
        std::optional<std::chrono::system_clock::time_point> incident_start) const {
        return time_table(marks_,
                          targets_,
                          incident_start,
                          received_at_,
                          "from the error-rate rise at 14:03 UTC");
    }

    const std::chrono::steady_clock::time_point t0_ =
        std::chrono::steady_clock::time_point{} + seconds(5000);
    const std::chrono::system_clock::time_point received_at_ =
        std::chrono::system_clock::time_point{} + minutes(600);
    const std::chrono::system_clock::time_point incident_ = received_at_ - minutes(6);
    PhaseMarks marks_;
    TargetSettings targets_;
};

TEST_F(TimeTable, AllTargetsMetInTheRunbooksOrderAndWords) {
    const auto rows = table(incident_);
    EXPECT_THAT(
        rows,
        ElementsAre(
            TimeRow{"Decision to rollback",
                    minutes(6),
                    minutes(10),
                    "from the error-rate rise at 14:03 UTC"},
            TimeRow{"Script executed", seconds(24), minutes(2), ""},
            TimeRow{"K8s pods healthy", seconds(90), minutes(5), ""},
            TimeRow{"Health endpoint 200", seconds(96), minutes(8), ""},
            TimeRow{
                "Total E2E", minutes(6) + seconds(96), minutes(15), "from the incident start"}));
    for (const auto& row : rows) {
        EXPECT_TRUE(row.met()) << row.phase;
    }
}

TEST_F(TimeTable, SlowDecisionMissesItsTargetAndCountsInTheTotal) {
    const auto rows = table(received_at_ - minutes(14));
    EXPECT_EQ(rows[0].measured, minutes(14));
    EXPECT_FALSE(rows[0].met());
    EXPECT_EQ(rows[4].measured, minutes(14) + seconds(96));
    EXPECT_FALSE(rows[4].met());
    EXPECT_TRUE(rows[1].met());
}

TEST_F(TimeTable, SlowScriptMissesOnlyItsTarget) {
    marks_.script_done = t0_ + seconds(150);
    marks_.rollout_done = t0_ + seconds(160);
    marks_.healthy = t0_ + seconds(170);
    const auto rows = table(incident_);
    EXPECT_EQ(rows[1].measured, seconds(150));
    EXPECT_FALSE(rows[1].met());
    EXPECT_TRUE(rows[2].met());
    EXPECT_TRUE(rows[3].met());
    EXPECT_TRUE(rows[4].met());
}

TEST_F(TimeTable, SlowPodsMissTheirTarget) {
    marks_.rollout_done = t0_ + minutes(6);
    marks_.healthy = t0_ + minutes(7);
    const auto rows = table(incident_);
    EXPECT_FALSE(rows[2].met());
    EXPECT_TRUE(rows[3].met());
}

TEST_F(TimeTable, SlowHealthMissesItsTargetAndTheTotal) {
    marks_.healthy = t0_ + minutes(10);
    const auto rows = table(incident_);
    EXPECT_EQ(rows[3].measured, minutes(10));
    EXPECT_FALSE(rows[3].met());
    EXPECT_EQ(rows[4].measured, minutes(16));
    EXPECT_FALSE(rows[4].met());
}

TEST_F(TimeTable, TargetsComeFromSettings) {
    targets_.script = seconds(20);
    const auto rows = table(incident_);
    EXPECT_EQ(rows[1].target, seconds(20));
    EXPECT_FALSE(rows[1].met());
}

TEST_F(TimeTable, PhasesNotReachedAreNotMeasuredAndNotMet) {
    marks_.rollout_done.reset();
    marks_.healthy.reset();
    marks_.finished.reset();
    const auto rows = table(incident_);
    EXPECT_EQ(rows[1].measured, seconds(24));
    for (std::size_t i : {2U, 3U, 4U}) {
        EXPECT_EQ(rows[i].measured, std::nullopt) << rows[i].phase;
        EXPECT_FALSE(rows[i].met()) << rows[i].phase;
    }
    EXPECT_EQ(rows[4].note, "");
}

TEST_F(TimeTable, NeverHealthyRunHasNotMetTheTotalAndSaysHowLongItRan) {
    marks_.healthy.reset();
    const auto rows = table(incident_);
    EXPECT_EQ(rows[3].measured, std::nullopt);
    EXPECT_EQ(rows[4].measured, std::nullopt) << "the total ends at the health 200";
    EXPECT_FALSE(rows[4].met());
    EXPECT_THAT(rows[4].note, ::testing::StartsWith("no health 200 yet; the run itself took "));
}

TEST_F(TimeTable, MissingIncidentStartIsNotMeasuredAndSaysWhy) {
    const auto rows = time_table(marks_, targets_, std::nullopt, received_at_, "");
    EXPECT_EQ(rows[0],
              (TimeRow{"Decision to rollback",
                       std::nullopt,
                       minutes(10),
                       "not measured: no incident start was given"}));
    EXPECT_FALSE(rows[0].met());
    EXPECT_EQ(rows[4],
              (TimeRow{"Total E2E", seconds(96), minutes(15), "from the /rollback command"}));
}

TEST_F(TimeTable, MissingIncidentStartKeepsTheCallersReason) {
    const auto rows = time_table(
        marks_, targets_, std::nullopt, received_at_, "not measured: Prometheus unreachable");
    EXPECT_EQ(rows[0].note, "not measured: Prometheus unreachable");
    EXPECT_EQ(rows[0].measured, std::nullopt);
}

TEST_F(TimeTable, IncidentStartAfterTheCommandCountsAsNoDelay) {
    const auto rows = table(received_at_ + seconds(30));
    EXPECT_EQ(rows[0].measured, milliseconds(0));
    EXPECT_EQ(rows[4].measured, seconds(96));
}

}  // namespace
}  // namespace rollbot::core
