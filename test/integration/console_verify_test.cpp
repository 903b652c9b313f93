// Verification after a run, the crash-loop watch, the watch window and the read commands: the real
// rollbotd in console mode, the fake cluster, and a fake health endpoint and Prometheus on
// 127.0.0.1.
#include "test/integration/console_fixture.hpp"

#include <gmock/gmock.h>

namespace rollbot::test {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

class ConsoleVerify : public ConsoleDaemonTest {
protected:
    // Waits for the verification and the time table in the report's thread, then for the
    // request card's last edit (`card_status`), which comes after them.
    static void wait_for_table(ChildProcess& bot, const std::string& card_status = "✅ done in") {
        ASSERT_TRUE(bot.wait_for_stdout("⏱ *Time to rollback*", kWait));
        ASSERT_TRUE(bot.wait_for_stdout("~ Status: " + card_status, kWait));
    }

    // The runbook's incident: the backend's current image crash-loops, health fails and the
    // error rate is 27 %.
    void backend_incident() {
        edit_cluster([](json& s) { s["bad_images"]["e4d5c6b7"] = "crashloop"; });
        set_healthy(false);
        FakeMetrics metrics;
        metrics.error_rate = "0.27";
        set_metrics(metrics);
    }

    [[nodiscard]] int changes() const {
        int n = 0;
        for (const auto& call : calls()) {
            n += call.find("rollout undo") != std::string::npos ||
                         call.find("set image") != std::string::npos
                     ? 1
                     : 0;
        }
        return n;
    }
};

TEST_F(ConsoleVerify, RestoredRollbackPostsTheVerificationAndTheTimeTable) {
    FakeMetrics metrics;
    metrics.rise = std::chrono::system_clock::now() - std::chrono::minutes(12);
    set_metrics(metrics);
    auto bot = start();
    bot->write_stdin("/rollback backend --reason error rate spike\n");
    ASSERT_TRUE(bot->wait_for_stdout("⏪ ROLLBACK EXECUTED", kWait));
    wait_for_table(*bot);
    const std::string out = bot->out();
    EXPECT_THAT(out, HasSubstr("Status:           ✅ Service restored"));
    EXPECT_THAT(out, HasSubstr("rollbot → thread \"⏪ ROLLBACK EXECUTED\""));
    EXPECT_THAT(out, HasSubstr("✅ Rollout: finished"));
    EXPECT_THAT(out,
                HasSubstr("✅ Pods *backend*: 2 of 2 ready, restarts 0, OOMKills 0, "
                          "crash-looping 0"));
    EXPECT_THAT(out, HasSubstr("✅ Error rate: 0.4 % (threshold 10 %)"));
    EXPECT_THAT(out, HasSubstr("✅ p95 latency: 350 ms (threshold 2 s)"));
    EXPECT_THAT(out, ContainsRegex("✅ Health: 200 in [0-9]+ ms"));
    EXPECT_THAT(out, HasSubstr("*Verdict:* ✅ Service restored"));
    // Decision: from the error-rate rise 12 minutes ago (Prometheus samples every 30 s).
    EXPECT_THAT(
        out,
        ContainsRegex("⚠️ Decision to rollback: 1[12]\\.[0-9] min \\(target < 10 min\\) — "
                      "from the error-rate rise above 10 % at [0-9]{2}:[0-9]{2} UTC"));
    EXPECT_THAT(out, HasSubstr("✅ Script executed: 0.0 min (target < 2 min)"));
    EXPECT_THAT(out, HasSubstr("✅ K8s pods healthy: 0.0 min (target < 5 min)"));
    EXPECT_THAT(out, HasSubstr("✅ Health endpoint 200: 0.0 min (target < 8 min)"));
    EXPECT_THAT(out, ContainsRegex("✅ Total E2E: 1[12]\\.[0-9] min \\(target < 15 min\\)"));
    // The report comes before its thread, and the pods were read from the new ReplicaSet.
    EXPECT_LT(out.find("⏪ ROLLBACK EXECUTED"), out.find("🔎 *Post-rollback verification*"));
    EXPECT_TRUE(any_call_contains(calls(), "get pods -l pod-template-hash="));
}

TEST_F(ConsoleVerify, WithoutAnErrorRateRiseTheDecisionCountsFromTheDeploy) {
    auto bot = start();  // the fake Prometheus never crosses 10 %
    bot->write_stdin("/rollback backend\n");
    wait_for_table(*bot);
    // The default cluster deployed e4d5c6b7 40 minutes ago.
    EXPECT_THAT(
        bot->out(),
        ContainsRegex("⚠️ Decision to rollback: (39|40)\\.[0-9] min \\(target < 10 min\\) "
                      "— from the deploy of backend e4d5c6b7 at [0-9:]+ UTC \\(no "
                      "error-rate rise found\\)"));
}

TEST_F(ConsoleVerify, ErrorRateStillHighIsStillInvestigating) {
    FakeMetrics metrics;
    metrics.error_rate = "0.27";
    set_metrics(metrics);
    auto bot = start();
    bot->write_stdin("/rollback backend --reason error rate spike\n");
    ASSERT_TRUE(bot->wait_for_stdout("⏪ ROLLBACK EXECUTED", kWait));
    wait_for_table(*bot, "⚠️ done, not healthy");
    const std::string out = bot->out();
    EXPECT_THAT(out, HasSubstr("Status:           🔴 Still investigating"));
    EXPECT_THAT(out,
                HasSubstr("Still investigating (error rate 27 % is above the 10 % threshold)"));
    EXPECT_THAT(out, HasSubstr("⚠️ Error rate: 27 % (threshold 10 %)"));
    EXPECT_THAT(out,
                HasSubstr("*Verdict:* 🔴 Still investigating\n"
                          "    • error rate 27 % is above the 10 % threshold"));
    EXPECT_THAT(out, Not(HasSubstr("✅ Service restored")));
}

TEST_F(ConsoleVerify, NanAndEmptyMetricsAreUnknownNeverZero) {
    FakeMetrics metrics;
    metrics.error_rate = "NaN";  // 0/0: no traffic
    metrics.p95 = std::nullopt;  // no series matched
    set_metrics(metrics);
    auto bot = start();
    bot->write_stdin("/rollback backend\n");
    wait_for_table(*bot, "⚠️ done, not healthy");
    const std::string out = bot->out();
    EXPECT_THAT(out, HasSubstr("Status:           🔴 Still investigating"));
    EXPECT_THAT(out, HasSubstr("❔ Error rate: unknown — no data"));
    EXPECT_THAT(out, HasSubstr("❔ p95 latency: unknown — no data"));
    EXPECT_THAT(out, HasSubstr("• error rate unknown (no data"));
    EXPECT_THAT(out, HasSubstr("): not counted as passing"));
    EXPECT_THAT(out, Not(HasSubstr("Error rate: 0 %")));
}

TEST_F(ConsoleVerify, CrashLoopingRollbackIsCaughtBeforeTheRolloutTimeout) {
    // The revision rolled back to crash-loops too, and `rollout status` would wait 120 s.
    edit_cluster([](json& s) {
        s["bad_images"]["abc1234f"] = "crashloop";
        s["status_delay_ms"] = 120000;
    });
    auto bot = start();
    bot->write_stdin("/rollback backend --reason error rate spike\n");
    // kWait (20 s) is far below the 120 s rollout timeout: only the watch can end it in time.
    ASSERT_TRUE(bot->wait_for_stdout("🔴 ROLLBACK FAILED", kWait));
    wait_for_table(*bot, "🔴 failed at step 2/2");
    const std::string out = bot->out();
    EXPECT_THAT(
        out,
        ContainsRegex("the pods of the revision rolled back to are failing \\(backend-[a-z0-9]+"
                      "-[a-z0-9]+: CrashLoopBackOff \\(4 restarts\\)\\): rollbot stopped "
                      "waiting for the rollout after [0-9.]+ s instead of its timeout"));
    EXPECT_THAT(out, HasSubstr("Next Step:        The revision rolled back to fails as well"));
    EXPECT_THAT(out, HasSubstr("⚠️ Pods *backend*: 0 of 1 ready"));
    EXPECT_THAT(out, HasSubstr("*Verdict:* 🔴 Still investigating"));
    EXPECT_THAT(out, Not(HasSubstr("ROLLBACK EXECUTED")));
    bot->close_stdin();
    EXPECT_EQ(bot->wait_exit(kWait), 0);
    EXPECT_THAT(bot->err(), HasSubstr("rollout.failing deployment=backend"));
    EXPECT_THAT(bot->err(), HasSubstr("process.kill"));
}

TEST_F(ConsoleVerify, ReadCommandsShowTheIncidentAndChangeNothing) {
    backend_incident();
    auto bot = start();
    bot->write_stdin(
        "/rollback status\n/wait\n/rollback history backend\n/wait\n"
        "/rollback verify\n/wait\n/rollback advise\n/wait\n");
    ASSERT_TRUE(bot->wait_for_stdout("Run: `/rollback backend --reason …`\n", kWait));
    const std::string out = bot->out();
    // status: image, revision, pods, restarts, health and error rate now.
    EXPECT_THAT(
        out,
        ContainsRegex("\\*backend\\*: e4d5c6b7 \\(revision 3, 2/2 ready, restarts 4\\) ⚠️ "
                      "backend-[a-z0-9]+-[a-z0-9]+: CrashLoopBackOff \\(4 restarts\\)"));
    EXPECT_THAT(out, HasSubstr("⚠️ Health: 503 in"));
    // history: newest first, with SHA, age and cause.
    EXPECT_THAT(out, HasSubstr("▶ now revision 3 · `e4d5c6b7` · 40 min ago · deploy e4d5c6b7"));
    // verify: the summary now.
    EXPECT_THAT(out, HasSubstr("🔎 *Post-rollback verification*"));
    EXPECT_THAT(out,
                HasSubstr("⚠️ Pods *backend*: 0 of 1 ready, restarts 4, OOMKills 0, "
                          "crash-looping 1"));
    EXPECT_THAT(out, HasSubstr("*Verdict:* 🔴 Still investigating"));
    // advise: a deploy 40 minutes ago, crash-looping pods, health failing: no debate.
    EXPECT_THAT(out, HasSubstr("🔴 *ROLLBACK NOW*"));
    EXPECT_THAT(out, HasSubstr("🆕 backend e4d5c6b7: deployed 40 min ago (revision 3)"));
    EXPECT_THAT(out, HasSubstr("🔴 pods of backend: 0 of 1 ready, crash-looping or OOM-killed"));
    EXPECT_THAT(out, HasSubstr("❔ data corruption: rollbot cannot measure it"));
    EXPECT_EQ(changes(), 0);
    for (const auto& call : calls()) {
        EXPECT_THAT(call, ContainsRegex("json (get|rollout history) "));
    }
}

TEST_F(ConsoleVerify, VerifyNamesOomKillsAndImagePullErrors) {
    edit_cluster([](json& s) {
        s["bad_images"]["e4d5c6b7"] = "oomkilled";
        s["bad_images"]["5e6f7a8b"] = "imagepull";
    });
    auto bot = start();
    bot->write_stdin("/rollback verify\n");
    ASSERT_TRUE(bot->wait_for_stdout("*Verdict:*", kWait));
    ASSERT_TRUE(bot->wait_for_stdout("OOMKilled\n", kWait));
    const std::string out = bot->out();
    EXPECT_THAT(out,
                HasSubstr("⚠️ Pods *backend*: 0 of 1 ready, restarts 3, OOMKills 1, "
                          "crash-looping 1"));
    EXPECT_THAT(out,
                HasSubstr("⚠️ Pods *frontend*: 0 of 1 ready, restarts 0, OOMKills 0, "
                          "crash-looping 0, image pull failing 1"));
    EXPECT_THAT(out, HasSubstr("*Verdict:* 🔴 Still investigating"));
    EXPECT_THAT(out, ContainsRegex("• frontend-[a-z0-9]+-[a-z0-9]+: ImagePullBackOff"));
    EXPECT_THAT(out,
                ContainsRegex("• backend-[a-z0-9]+-[a-z0-9]+: CrashLoopBackOff \\(3 restarts\\), "
                              "OOMKilled"));
}

TEST_F(ConsoleVerify, AdviseWithoutARecentDeployIsNotDeploymentRelated) {
    edit_cluster([](json& s) {
        s["deployments"]["backend"]["replicasets"][2]["created"] = "2020-01-01T00:00:00Z";
    });
    FakeMetrics metrics;
    metrics.error_rate = "0.4";
    set_metrics(metrics);
    auto bot = start();
    bot->write_stdin("/rollback advise\n");
    ASSERT_TRUE(bot->wait_for_stdout("❔ data corruption", kWait));
    EXPECT_THAT(bot->out(), HasSubstr("⚪ *Not deployment-related*"));
    EXPECT_THAT(bot->out(), HasSubstr("🔴 error rate 40 % (above the 10 % threshold)"));
}

TEST_F(ConsoleVerify, WatchWindowFollowsUpAndSaysRecovered) {
    watch_ = "3s";  // follow-ups at +0.6 s, +1.5 s and +3 s
    write_config();
    auto bot = start();
    bot->write_stdin("/rollback backend\n");
    ASSERT_TRUE(bot->wait_for_stdout("*Watch verdict:* ✅ Recovered\n", kWait));
    const std::string out = bot->out();
    EXPECT_THAT(out, HasSubstr("👀 *Watch +0.0 min* after ROLLBACK EXECUTED"));
    EXPECT_THAT(out, HasSubstr("✅ Error rate: 0.4 % → (at the report 0.4 %; threshold 10 %)"));
    EXPECT_THAT(out, HasSubstr("Next check at +0.0 min."));
    EXPECT_THAT(out, Not(HasSubstr("Suggested next step")));
    EXPECT_THAT(bot->err(), HasSubstr("watch id=R1 actor=rollbot trend=\"Recovered\""));
}

TEST_F(ConsoleVerify, WatchWindowThatGetsWorseSuggestsAndRunsNothing) {
    watch_ = "3s";
    write_config();
    auto bot = start();
    bot->write_stdin("/rollback backend\n");
    ASSERT_TRUE(bot->wait_for_stdout("Status:           ✅ Service restored", kWait));
    FakeMetrics worse;
    worse.error_rate = "0.31";
    set_metrics(worse);
    ASSERT_TRUE(bot->wait_for_stdout("*Watch verdict:* 🔴 Worse", kWait));
    ASSERT_TRUE(bot->wait_for_stdout("rollbot does not run it by itself", kWait));
    const std::string out = bot->out();
    EXPECT_THAT(out,
                HasSubstr("⚠️ Error rate: 31 % ↑ (at the report 0.4 %; threshold 10 %)"));
    EXPECT_THAT(out, HasSubstr("/rollback history"));
    EXPECT_EQ(changes(), 1);  // the rollback itself, nothing more
}

}  // namespace
}  // namespace rollbot::test
