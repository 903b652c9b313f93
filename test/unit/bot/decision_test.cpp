// The crash-loop signal, the runbook's rollback-or-hotfix tree and the watch window's trend.
#include "bot/verification.hpp"

#include <fmt/chrono.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace rollbot::core {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using ::testing::HasSubstr;

const auto kNow = std::chrono::system_clock::time_point{} + hours(24 * 20000);

PodState pod(std::string name, int restarts = 0, std::string waiting = "") {
    PodState p;
    p.name = std::move(name);
    p.phase = "Running";
    p.ready = waiting.empty() && restarts == 0;
    p.restarts = restarts;
    p.waiting_reason = std::move(waiting);
    return p;
}

PodsCheck pods(std::vector<PodState> list, std::string deployment = "backend") {
    PodsCheck c;
    c.deployment = std::move(deployment);
    c.pods = std::move(list);
    return c;
}

// ── failing_signal ────────────────────────────────────────────────────────────

TEST(FailingSignal, HealthyPodsSayNothing) {
    const auto now = pods({pod("backend-a"), pod("backend-b")});
    EXPECT_EQ(failing_signal(now, now), "");
}

TEST(FailingSignal, CrashLoopBackOffFailsEvenInTheFirstPoll) {
    const auto now = pods({pod("backend-a"), pod("backend-b", 4, "CrashLoopBackOff")});
    EXPECT_EQ(failing_signal(now, now), "backend-b: CrashLoopBackOff (4 restarts)");
}

TEST(FailingSignal, TheFirstRestartFailsBeforeCrashLoopBackOffShows) {
    const auto baseline = pods({pod("backend-a")});
    auto now = pods({pod("backend-a", 1)});
    now.pods[0].last_terminated_reason = "OOMKilled";
    EXPECT_EQ(failing_signal(baseline, now), "backend-a: 1 restart, OOMKilled");
}

TEST(FailingSignal, RestartsFromBeforeTheWatchDoNotCount) {
    const auto baseline = pods({pod("backend-a", 2)});
    EXPECT_EQ(failing_signal(baseline, pods({pod("backend-a", 2)})), "");
    EXPECT_EQ(failing_signal(baseline, pods({pod("backend-a", 3)})), "backend-a: 3 restarts");
}

TEST(FailingSignal, APodNewSinceTheBaselineCountsFromZero) {
    const auto baseline = pods({});
    EXPECT_EQ(failing_signal(baseline, pods({pod("backend-new", 1)})), "backend-new: 1 restart");
}

TEST(FailingSignal, ImagePullAndConfigErrorsFail) {
    const auto pull = pods({pod("backend-a", 0, "ImagePullBackOff")});
    EXPECT_EQ(failing_signal(pull, pull), "backend-a: ImagePullBackOff");
    const auto config = pods({pod("backend-a", 0, "CreateContainerConfigError")});
    EXPECT_EQ(failing_signal(config, config), "backend-a: CreateContainerConfigError");
}

TEST(FailingSignal, ContainerCreatingIsNotAFailure) {
    const auto now = pods({pod("backend-a", 0, "ContainerCreating")});
    EXPECT_EQ(failing_signal(now, now), "");
}

// ── deployed_at ───────────────────────────────────────────────────────────────

DeploymentState deployment(std::string name,
                           std::string tag,
                           std::int64_t revision,
                           std::string created) {
    DeploymentState d;
    d.name = std::move(name);
    d.tag = tag;
    d.image = "repo:" + tag;
    d.revision = revision;
    d.desired = d.ready = d.available = d.updated = 2;
    RevisionInfo old;
    old.revision = revision - 1;
    old.tag = "0ld0ld00";
    old.created = "2020-01-01T00:00:00Z";
    RevisionInfo current;
    current.revision = revision;
    current.tag = tag;
    current.created = std::move(created);
    d.history = {old, current};
    d.history_known = true;
    return d;
}

std::string iso(std::chrono::system_clock::time_point t) {
    return fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", std::chrono::floor<std::chrono::seconds>(t));
}

TEST(DeployedAt, IsTheCurrentRevisionsCreation) {
    const auto d = deployment("backend", "e4d5c6b7", 3, "2026-11-24T05:10:00Z");
    ASSERT_TRUE(deployed_at(d).has_value());
    EXPECT_EQ(iso(*deployed_at(d)), "2026-11-24T05:10:00Z");
}

TEST(DeployedAt, UnknownWithoutHistoryOrWithABadTime) {
    auto d = deployment("backend", "e4d5c6b7", 3, "yesterday");
    EXPECT_FALSE(deployed_at(d).has_value());
    d.history.clear();
    EXPECT_FALSE(deployed_at(d).has_value());
}

// ── advise ────────────────────────────────────────────────────────────────────

class Advise : public ::testing::Test {
protected:
    Advise() {
        input_.now = kNow;
        input_.deployments["backend"] =
            deployment("backend", "e4d5c6b7", 3, iso(kNow - minutes(40)));
        input_.deployments["frontend"] =
            deployment("frontend", "5e6f7a8b", 2, iso(kNow - hours(3)));
        input_.error_rate = MetricReading{0.004, "0.004"};
        input_.health = HealthCheck{true, 200, milliseconds(5), "200 in 5 ms"};
        input_.pods = {pods({pod("backend-a")}), pods({pod("frontend-a")}, "frontend")};
    }
    VerifySettings settings_;
    AdviceInput input_;
};

TEST_F(Advise, RecentDeployAndHighErrorRateIsRollbackNow) {
    input_.error_rate = MetricReading{0.27, "0.27"};
    const Advice a = advise(input_, settings_);
    EXPECT_EQ(a.kind, AdviceKind::RollbackNow);
    EXPECT_EQ(a.command, "/rollback backend");
    EXPECT_THAT(a.evidence, ::testing::Contains("🔴 error rate 27 % (above the 10 % threshold)"));
    EXPECT_THAT(a.evidence,
                ::testing::Contains("🆕 backend e4d5c6b7: deployed 40 min ago (revision 3)"));
    EXPECT_THAT(a.evidence,
                ::testing::Contains("• frontend 5e6f7a8b: deployed 3 h ago (revision 2)"));
}

TEST_F(Advise, RecentDeployAndCrashLoopingPodsIsRollbackNow) {
    input_.pods[0] = pods({pod("backend-a", 3, "CrashLoopBackOff")});
    EXPECT_EQ(advise(input_, settings_).kind, AdviceKind::RollbackNow);
}

TEST_F(Advise, RecentDeployAndFailingHealthIsRollbackNow) {
    input_.health = HealthCheck{false, 503, milliseconds(5), "503 in 5 ms"};
    EXPECT_EQ(advise(input_, settings_).kind, AdviceKind::RollbackNow);
}

TEST_F(Advise, TwoRecentDeploysSuggestTheFullRollback) {
    input_.deployments["frontend"] = deployment("frontend", "5e6f7a8b", 2, iso(kNow - minutes(90)));
    input_.error_rate = MetricReading{0.27, "0.27"};
    EXPECT_EQ(advise(input_, settings_).command, "/rollback full");
}

TEST_F(Advise, RecentDeployWithoutHarmIsProbablyAHotfix) {
    const Advice a = advise(input_, settings_);
    EXPECT_EQ(a.kind, AdviceKind::ProbablyHotfix);
    EXPECT_EQ(a.command, "/rollback backend");
}

TEST_F(Advise, NoRecentDeployIsNotDeploymentRelatedEvenWhenItHurts) {
    input_.deployments["backend"] = deployment("backend", "e4d5c6b7", 3, iso(kNow - hours(5)));
    input_.error_rate = MetricReading{0.5, "0.5"};
    const Advice a = advise(input_, settings_);
    EXPECT_EQ(a.kind, AdviceKind::NotDeploymentRelated);
    EXPECT_EQ(a.command, "");
}

TEST_F(Advise, NoDataIsUnknownNeverZeroAndDataCorruptionIsAlwaysAsked) {
    input_.error_rate = MetricReading{std::nullopt, "no data: NaN"};
    input_.pods[0].error = "kubectl: connection refused";
    const Advice a = advise(input_, settings_);
    EXPECT_EQ(a.kind, AdviceKind::ProbablyHotfix);  // nothing measured hurts; unknowns are listed
    EXPECT_THAT(a.unknown, ::testing::Contains("the error rate (no data: NaN)"));
    EXPECT_THAT(a.unknown, ::testing::Contains("pods of backend (kubectl: connection refused)"));
    EXPECT_THAT(a.unknown.back(), HasSubstr("data corruption: rollbot cannot measure it"));
    for (const auto& line : a.evidence) {
        EXPECT_THAT(line, ::testing::Not(HasSubstr("error rate")));
    }
}

TEST_F(Advise, AnUnreadableDeploymentIsCannotTellEvenIfTheOtherIsOld) {
    input_.deployments["backend"] = deployment("backend", "e4d5c6b7", 3, iso(kNow - hours(5)));
    input_.deployments.erase("frontend");
    input_.unreadable["frontend"] = "kubectl: timed out";
    EXPECT_EQ(advise(input_, settings_).kind, AdviceKind::CannotTell);
}

TEST_F(Advise, UnreadableHistoryIsUnknown) {
    input_.deployments["backend"].history.clear();
    input_.unreadable["frontend"] = "kubectl: forbidden";
    input_.deployments.erase("frontend");
    const Advice a = advise(input_, settings_);
    EXPECT_EQ(a.kind, AdviceKind::CannotTell) << "unknown deploy times never mean no deploy";
    EXPECT_THAT(a.unknown, ::testing::Contains(HasSubstr("when backend e4d5c6b7 was deployed")));
    EXPECT_THAT(a.unknown, ::testing::Contains("frontend: kubectl: forbidden"));
}

// ── trend ─────────────────────────────────────────────────────────────────────

Verification reading(double rate, double p95, bool healthy) {
    Verification v;
    v.rollout_finished = true;
    v.error_rate = MetricReading{rate, ""};
    v.p95 = MetricReading{p95, ""};
    v.health = HealthCheck{healthy, healthy ? 200 : 503, milliseconds(5), ""};
    v.pods = {pods({pod("backend-a")})};
    return v;
}

TEST(Trend, EveryCheckPassingIsRecovered) {
    const VerifySettings s;
    EXPECT_EQ(trend(reading(0.2, 0.4, true), reading(0.01, 0.4, true), s), Trend::Recovered);
}

TEST(Trend, StillBadButNoWorseIsNoChange) {
    const VerifySettings s;
    EXPECT_EQ(trend(reading(0.2, 0.4, true), reading(0.21, 0.4, true), s), Trend::NoChange);
    EXPECT_EQ(trend(reading(0.2, 0.4, true), reading(0.15, 0.4, true), s), Trend::NoChange);
}

TEST(Trend, ErrorRateOrP95RisingByAFifthIsWorse) {
    const VerifySettings s;
    EXPECT_EQ(trend(reading(0.2, 0.4, true), reading(0.25, 0.4, true), s), Trend::Worse);
    EXPECT_EQ(trend(reading(0.2, 2.5, true), reading(0.2, 3.1, true), s), Trend::Worse);
}

TEST(Trend, NoiseAboveZeroIsNotWorse) {
    const VerifySettings s;
    auto before = reading(0.0, 3.0, true);  // p95 above its threshold: not restored
    EXPECT_EQ(trend(before, reading(0.0001, 3.0, true), s), Trend::NoChange);
    EXPECT_EQ(trend(before, reading(0.02, 3.0, true), s), Trend::Worse);
}

TEST(Trend, RestartsRisingIsWorse) {
    const VerifySettings s;
    auto before = reading(0.2, 0.4, true);
    before.pods = {pods({pod("backend-a", 2)})};
    auto now = before;
    now.pods = {pods({pod("backend-a", 3)})};
    EXPECT_EQ(trend(before, now, s), Trend::Worse);
    EXPECT_EQ(trend(before, before, s), Trend::NoChange);
}

TEST(Trend, RestoredAtTheReportAndFailingNowIsWorse) {
    const VerifySettings s;
    EXPECT_EQ(trend(reading(0.01, 0.4, true), reading(0.11, 0.4, true), s), Trend::Worse);
}

TEST(Trend, HealthLostOrANewPodProblemIsWorse) {
    const VerifySettings s;
    EXPECT_EQ(trend(reading(0.2, 0.4, true), reading(0.2, 0.4, false), s), Trend::Worse);
    auto now = reading(0.2, 0.4, true);
    now.pods = {pods({pod("backend-a", 1)})};
    EXPECT_EQ(trend(reading(0.2, 0.4, true), now, s), Trend::Worse);
}

TEST(Trend, UnknownNowIsNoChangeNotRecoveredNorWorse) {
    const VerifySettings s;
    auto now = reading(0.2, 0.4, true);
    now.error_rate = MetricReading{std::nullopt, "no data: empty result"};
    EXPECT_EQ(trend(reading(0.2, 0.4, true), now, s), Trend::NoChange);
    EXPECT_EQ(trend(reading(0.01, 0.4, true), now, s), Trend::NoChange);  // restored, then no data
}

TEST(TrendArrow, ATenthEitherWayIsSteady) {
    const MetricReading before{0.2, ""};
    EXPECT_EQ(trend_arrow(before, MetricReading{0.21, ""}), "→");
    EXPECT_EQ(trend_arrow(before, MetricReading{0.25, ""}), "↑");
    EXPECT_EQ(trend_arrow(before, MetricReading{0.1, ""}), "↓");
    EXPECT_EQ(trend_arrow(before, MetricReading{std::nullopt, "no data"}), "?");
    EXPECT_EQ(trend_arrow(MetricReading{0.0, ""}, MetricReading{0.001, ""}), "↑");
}

}  // namespace
}  // namespace rollbot::core
