// The real daemon, in console mode, against the fake kubectl / rollback.sh and a fake health
// endpoint on 127.0.0.1: what an on-call engineer sees after `deploy/dev.sh demo`.
#include "test/integration/console_fixture.hpp"
#include "test/support/child_process.hpp"
#include "test/support/daemon_config.hpp"
#include "test/support/fake_http_server.hpp"
#include "test/support/temp_dir.hpp"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <fstream>
#include <sstream>

namespace rollbot::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

class ConsoleRollback : public ConsoleDaemonTest {};

TEST_F(ConsoleRollback, BackendToAShaEndsInTheRunbookBlock) {
    auto bot = start();
    bot->write_stdin("/rollback backend abc1234f --reason error rate spike\n");
    ASSERT_TRUE(bot->wait_for_stdout("⏪ ROLLBACK EXECUTED", kWait));
    ASSERT_TRUE(bot->wait_for_stdout("On-Call: @alice", kWait));
    const auto& out = bot->out();
    EXPECT_THAT(out, HasSubstr("Rolled back from: e4d5c6b7\n"));
    EXPECT_THAT(out, HasSubstr("Rolled back to:   abc1234f\n"));
    EXPECT_THAT(out, HasSubstr("Reason:           error rate spike\n"));
    EXPECT_THAT(out, HasSubstr("Status:           ✅ Service restored\n"));
    EXPECT_THAT(out, HasSubstr("Next Step:        Root cause investigation\n"));
    EXPECT_THAT(out,
                HasSubstr("cluster.json rollout undo deployment/backend -n preskool "
                          "--to-revision=2`"))
        << "abc1234f is revision 2: back to that known-good ReplicaSet";
    EXPECT_THAT(out, HasSubstr("deployment \"backend\" successfully rolled out"));
    EXPECT_EQ(image_of("backend"), "ghcr.io/your-org/preskool-backend:abc1234f");
    EXPECT_TRUE(health_.wait_for_requests(1, kWait));
    bot->close_stdin();
    EXPECT_EQ(bot->wait_exit(kWait), 0);
    EXPECT_THAT(bot->err(), HasSubstr("report id=R1 actor=rollbot state=succeeded restored=true"));
}

TEST_F(ConsoleRollback, BackendUndoGoesToThePreviousRevision) {
    auto bot = start();
    bot->write_stdin("/rollback backend\n");
    ASSERT_TRUE(bot->wait_for_stdout("⏪ ROLLBACK EXECUTED", kWait));
    ASSERT_TRUE(bot->wait_for_stdout("On-Call:", kWait));
    EXPECT_THAT(bot->out(), HasSubstr("Rolled back from: e4d5c6b7\n"));
    EXPECT_THAT(bot->out(), HasSubstr("Rolled back to:   abc1234f\n"));
    EXPECT_THAT(bot->out(), HasSubstr("Reason:           not given\n"));
    EXPECT_TRUE(any_call_contains(calls(), "rollout undo deployment/backend -n preskool"));
}

TEST_F(ConsoleRollback, CrashLoopingTargetFailsWithTheStepAndItsOutput) {
    edit_cluster([](json& s) { s["bad_images"]["abc1234f"] = "crashloop"; });
    auto bot = start();
    bot->write_stdin("/rollback backend abc1234f\n");
    ASSERT_TRUE(bot->wait_for_stdout("🔴 ROLLBACK FAILED", kWait));
    ASSERT_TRUE(bot->wait_for_stdout("On-Call: @alice", kWait));
    const auto& out = bot->out();
    EXPECT_THAT(out, HasSubstr("Failed step:      2/2 `kubectl --kubeconfig="));
    EXPECT_THAT(out,
                HasSubstr("cluster.json rollout status deployment/backend -n preskool "
                          "--timeout=120s`"));
    EXPECT_THAT(out, HasSubstr("the rollout did not finish within 120s"));
    EXPECT_THAT(out, HasSubstr("Exit code:        1"));
    EXPECT_THAT(out, HasSubstr("error: timed out waiting for the condition"));
    EXPECT_THAT(out, Not(HasSubstr("ROLLBACK EXECUTED")));
    bot->close_stdin();
    EXPECT_EQ(bot->wait_exit(kWait), 0);
    EXPECT_THAT(bot->err(), HasSubstr("state=failed"));
}

TEST_F(ConsoleRollback, UnhealthyServiceAfterRollbackIsStillInvestigating) {
    set_healthy(false);
    auto bot = start();
    bot->write_stdin("/rollback backend --reason p95\n");
    ASSERT_TRUE(bot->wait_for_stdout("⏪ ROLLBACK EXECUTED", kWait));
    ASSERT_TRUE(bot->wait_for_stdout("On-Call:", kWait));
    EXPECT_THAT(bot->out(), HasSubstr("Status:           🔴 Still investigating"));
}

TEST_F(ConsoleRollback, SkippedRollbackIsNotReportedAsARollback) {
    auto bot = start();
    // The first undo swaps revisions 2 and 3; undoing again is real. Setting the image that is
    // already deployed changes nothing at all.
    bot->write_stdin("/rollback backend e4d5c6b7\n");
    ASSERT_TRUE(bot->wait_for_stdout("⚪ NOTHING ROLLED BACK", kWait));
    EXPECT_THAT(bot->out(), HasSubstr("already runs this image"));
    EXPECT_THAT(bot->out(), Not(HasSubstr("ROLLBACK EXECUTED")));
}

TEST_F(ConsoleRollback, FrontendAndFullUseTheScript) {
    auto bot = start();
    bot->write_stdin("/rollback frontend --reason ui broke\n/wait\n/rollback full\n");
    ASSERT_TRUE(bot->wait_for_stdout(
        "`bash " + std::string(ROLLBOT_FAKES_DIR) + "/rollback.sh --frontend-only`", kWait));
    ASSERT_TRUE(bot->wait_for_stdout("Rolled back from: backend e4d5c6b7, frontend", kWait));
    bot->close_stdin();
    EXPECT_EQ(bot->wait_exit(kWait), 0);
    const std::string log = dir_.read("cluster.json.rollback.log");
    EXPECT_THAT(log, HasSubstr("--frontend-only"));
    const auto executed = bot->out().find("ROLLBACK EXECUTED");
    ASSERT_NE(executed, std::string::npos);
    EXPECT_NE(bot->out().find("ROLLBACK EXECUTED", executed + 1), std::string::npos)
        << "both the frontend and the full rollback report";
}

TEST_F(ConsoleRollback, DryRunChangesNothing) {
    auto bot = start();
    bot->write_stdin("/rollback backend abc1234f --dry-run\n/rollback full --dry-run\n");
    ASSERT_TRUE(bot->wait_for_stdout("🧪 DRY RUN — nothing changed", kWait));
    const auto first = bot->out().find("DRY RUN");
    ASSERT_TRUE(bot->wait_for_stdout("DRY RUN — nothing changed", kWait, first + 1));
    bot->close_stdin();
    EXPECT_EQ(bot->wait_exit(kWait), 0);
    EXPECT_THAT(bot->out(), HasSubstr("--dry-run=server"));
    EXPECT_THAT(bot->out(), Not(HasSubstr("ROLLBACK EXECUTED")));
    EXPECT_EQ(image_of("backend"), "ghcr.io/your-org/preskool-backend:e4d5c6b7");
    EXPECT_EQ(image_of("frontend"), "ghcr.io/your-org/preskool-frontend:5e6f7a8b");
    EXPECT_THAT(dir_.read("cluster.json.rollback.log"), HasSubstr("DRY_RUN=true"));
}

TEST_F(ConsoleRollback, DaemonDryRunFlagMakesEveryRollbackADryRun) {
    auto bot = start({"--dry-run"});
    bot->write_stdin("/rollback backend abc1234f\n");
    ASSERT_TRUE(bot->wait_for_stdout("DRY RUN — nothing changed", kWait));
    bot->close_stdin();
    EXPECT_EQ(bot->wait_exit(kWait), 0);
    EXPECT_EQ(image_of("backend"), "ghcr.io/your-org/preskool-backend:e4d5c6b7");
}

TEST_F(ConsoleRollback, BadInputChangesNothing) {
    auto bot = start();
    bot->write_stdin(
        "/rollback backend abc123g\n"
        "/rollback backend $(reboot)\n"
        "/rollback b\xD0\xB0"
        "ckend\n"
        "/as U0DAVE\n/rollback backend\n"
        "/as U0ALICE\n/in C0RANDOM\n/rollback status\n");
    bot->close_stdin();
    ASSERT_EQ(bot->wait_exit(kWait), 0);
    const auto& out = bot->out();
    EXPECT_THAT(out, HasSubstr("'abc123g' is not a commit SHA"));
    EXPECT_THAT(out, HasSubstr("'$(reboot)' is not a commit SHA"));
    EXPECT_THAT(out, HasSubstr("U+0430"));
    EXPECT_THAT(out, HasSubstr("only rollbot operators may run a rollback"));
    EXPECT_THAT(out, HasSubstr("rollbot takes commands only in #C0INCIDENTS"));
    EXPECT_THAT(out, HasSubstr("Nothing was run. Usage:"));
    for (const auto& call : calls()) {
        EXPECT_THAT(call, Not(HasSubstr("undo")));
        EXPECT_THAT(call, Not(HasSubstr("set image")));
    }
}

TEST_F(ConsoleRollback, DbDowngradeWaitsForApprovalAndShowsItsSql) {
    auto bot = start();
    bot->write_stdin("/rollback db -1 --reason migration broke fees\n");
    bot->close_stdin();
    ASSERT_EQ(bot->wait_exit(kWait), 0);
    EXPECT_THAT(bot->out(), HasSubstr("Approval needed: DB downgrade -1"));
    EXPECT_THAT(bot->out(), HasSubstr("now at `3f2a1b4c5d6e`"));
    EXPECT_THAT(bot->out(), HasSubstr("DROP TABLE fee_payments"));
    EXPECT_THAT(bot->out(), HasSubstr("restore from backup"));
    EXPECT_FALSE(any_call_contains(calls(), "downgrade ae1027a6acf")) << "nothing ran yet";
}

TEST_F(ConsoleRollback, SecondRollbackOfTheSameTargetIsToldWhoHoldsIt) {
    edit_cluster([](json& s) { s["status_delay_ms"] = 1500; });
    auto bot = start();
    bot->write_stdin("/rollback backend --reason first\n/as U0BOB\n/rollback backend abc1234f\n");
    ASSERT_TRUE(
        bot->wait_for_stdout("backend is busy: R1 (backend rollback to the previous "
                             "revision) by @alice, started",
                             kWait));
    ASSERT_TRUE(bot->wait_for_stdout("⏪ ROLLBACK EXECUTED", kWait));
    bot->close_stdin();
    EXPECT_EQ(bot->wait_exit(kWait), 0);
    EXPECT_FALSE(any_call_contains(calls(), "set image"));
}

TEST_F(ConsoleRollback, ShaNotInTheHistoryIsSetImage) {
    auto bot = start();
    bot->write_stdin("/rollback backend 0a1b2c3d4e --reason a build never deployed here\n");
    ASSERT_TRUE(bot->wait_for_stdout("⏪ ROLLBACK EXECUTED", kWait));
    bot->close_stdin();
    ASSERT_EQ(bot->wait_exit(kWait), 0);
    EXPECT_THAT(bot->out(),
                HasSubstr("cluster.json set image deployment/backend "
                          "backend=ghcr.io/your-org/preskool-backend:0a1b2c3d4e -n preskool`"));
    EXPECT_EQ(image_of("backend"), "ghcr.io/your-org/preskool-backend:0a1b2c3d4e");
}

TEST_F(ConsoleRollback, AmbiguousShaPrefixIsRefusedWithTheCandidates) {
    edit_cluster([](json& s) {
        auto& oldest = s["deployments"]["backend"]["replicasets"][0];
        oldest["containers"][0]["image"] = "ghcr.io/your-org/preskool-backend:abc1234e";
    });
    auto bot = start();
    bot->write_stdin("/rollback backend abc1234\n");
    bot->close_stdin();
    ASSERT_EQ(bot->wait_exit(kWait), 0);
    EXPECT_THAT(bot->out(), HasSubstr("abc1234 matches more than one revision of backend"));
    EXPECT_THAT(bot->out(), Not(HasSubstr("ROLLBACK EXECUTED")));
    EXPECT_EQ(image_of("backend"), "ghcr.io/your-org/preskool-backend:e4d5c6b7");
}

TEST_F(ConsoleRollback, HistoryListsRevisionsNewestFirst) {
    auto bot = start();
    bot->write_stdin("/rollback history backend\n");
    bot->close_stdin();
    ASSERT_EQ(bot->wait_exit(kWait), 0);
    const auto& out = bot->out();
    const auto now = out.find("▶ now revision 3 · `e4d5c6b7` · 40 min ago · deploy e4d5c6b7");
    const auto second = out.find("• revision 2 · `abc1234f` · 3 days ago · deploy abc1234f");
    const auto first = out.find("• revision 1 · `9f8e7d6c` · 10 days ago");
    ASSERT_NE(now, std::string::npos) << out;
    ASSERT_NE(second, std::string::npos) << out;
    ASSERT_NE(first, std::string::npos) << out;
    EXPECT_LT(now, second);
    EXPECT_LT(second, first);
    EXPECT_THAT(out, Not(HasSubstr("*frontend*"))) << "only the deployment asked for";
    for (const auto& call : calls()) {
        EXPECT_THAT(call, ::testing::Not(HasSubstr("undo")));
    }
}

TEST_F(ConsoleRollback, StatusAndHelpRunNothing) {
    auto bot = start();
    bot->write_stdin("/rollback\n/rollback status\n");
    bot->close_stdin();
    ASSERT_EQ(bot->wait_exit(kWait), 0);
    EXPECT_THAT(bot->out(), HasSubstr("*backend*: e4d5c6b7 (revision 3, 2/2 ready, restarts 0)"));
    EXPECT_THAT(bot->out(), HasSubstr("✅ Error rate: 0.4 % (threshold 10 %)"));
    EXPECT_THAT(bot->out(), ::testing::ContainsRegex("✅ Health: 200 in [0-9]+ ms"));
    EXPECT_THAT(bot->out(), HasSubstr("*frontend*: 5e6f7a8b (revision 2"));
    EXPECT_THAT(bot->out(), HasSubstr("/rollback backend [<sha>]"));
    for (const auto& call : calls()) {  // reads only
        EXPECT_THAT(call,
                    ::testing::AnyOf(::testing::ContainsRegex("json get (deployment|replicasets|"
                                                              "pods|events) "),
                                     HasSubstr("rollout history")));
    }
}

TEST_F(ConsoleRollback, SigtermStopsCleanly) {
    auto bot = start();
    bot->send_signal(SIGTERM);
    EXPECT_EQ(bot->wait_exit(kWait), 0);
    EXPECT_THAT(bot->err(), HasSubstr("daemon.stopping why=\"SIGTERM\""));
    EXPECT_THAT(bot->err(), HasSubstr("daemon.shutdown_done outbox_drained=true"));
}

TEST_F(ConsoleRollback, BrokenConfigExits78WithEveryProblem) {
    dir_.write("bad.yaml",
               "slack:\n  incidents_channel: nope\napprovals:\n  db:\n    tiemout: 5m\n");
    ChildProcess bot({ROLLBOTD_PATH, "--config", dir_.file("bad.yaml").string(), "--console"});
    EXPECT_EQ(bot.wait_exit(kWait), 78);
    EXPECT_THAT(bot.err(), HasSubstr("bad.yaml:2: slack.incidents_channel"));
    EXPECT_THAT(bot.err(), HasSubstr("bad.yaml:5: approvals.db.tiemout"));
}

TEST_F(ConsoleRollback, CheckConfigAndVersion) {
    ChildProcess check({ROLLBOTD_PATH,
                        "--config",
                        dir_.file("config.yaml").string(),
                        "--console",
                        "--check-config"});
    EXPECT_EQ(check.wait_exit(kWait), 0) << check.err();
    ChildProcess version({ROLLBOTD_PATH, "--version"});
    EXPECT_EQ(version.wait_exit(kWait), 0);
    EXPECT_THAT(version.out(), HasSubstr("rollbotd 0.1.0"));
    ChildProcess bad_flag({ROLLBOTD_PATH, "--log-format", "xml", "--config", "x"});
    EXPECT_EQ(bad_flag.wait_exit(kWait), 78);
}

}  // namespace
}  // namespace rollbot::test
