// DB downgrades held for a DBA's reaction, end to end in console mode: the real daemon, the fake
// kubectl with its alembic, and the SQLite state file in a temp dir.
#include "test/integration/console_fixture.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <csignal>
#include <string>
#include <vector>

namespace rollbot::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class ConsoleApproval : public ConsoleDaemonTest {
protected:
    // The config with a different DB approval timeout.
    void set_timeout(const std::string& timeout) {
        std::string config = daemon_config(
            DaemonConfig{.dir = dir_.path().string(), .health_url = health_.url("/api/v1/health")});
        const std::string approvers = "approvers: {usergroups: [S0DBA]}";
        config.replace(
            config.find(approvers), approvers.size(), approvers + "\n    timeout: " + timeout);
        dir_.write("config.yaml", config);
    }

    std::string db_revision() const {
        return cluster()["alembic"].value("current", std::string("none"));
    }

    int verify_audit() {
        ChildProcess check(
            {ROLLBOTD_PATH, "--config", dir_.file("config.yaml").string(), "--verify-audit"});
        const auto code = check.wait_exit(kWait);
        audit_output_ = check.out() + check.err();
        return code.value_or(-1);
    }

    // What an attacker with write access to the file could do: drop the append-only triggers
    // and rewrite one record.
    void tamper_with_audit_record(int seq) {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open(dir_.file("state.db").c_str(), &db), SQLITE_OK);
        std::vector<std::string> triggers;
        sqlite3_stmt* stmt = nullptr;
        ASSERT_EQ(
            sqlite3_prepare_v2(
                db, "SELECT name FROM sqlite_master WHERE type = 'trigger'", -1, &stmt, nullptr),
            SQLITE_OK);
        while (sqlite3_step(stmt) == SQLITE_ROW) {
            triggers.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
        }
        sqlite3_finalize(stmt);
        for (const auto& t : triggers) {
            ASSERT_EQ(
                sqlite3_exec(db, ("DROP TRIGGER \"" + t + "\"").c_str(), nullptr, nullptr, nullptr),
                SQLITE_OK);
        }
        const std::string update =
            "UPDATE audit SET detail = 'rule=approved (forged)' WHERE seq = " + std::to_string(seq);
        ASSERT_EQ(sqlite3_exec(db, update.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
        EXPECT_EQ(sqlite3_changes(db), 1);
        sqlite3_close(db);
    }

    std::string audit_output_;
};

TEST_F(ConsoleApproval, RequesterAndNonApproverDoNotCountTheDbaRunsIt) {
    auto bot = start();
    bot->write_stdin("/rollback db -1 --reason migration broke fees\n/wait\n");
    ASSERT_TRUE(bot->wait_for_stdout("Approval needed: DB downgrade -1", kWait));
    bot->write_stdin("+white_check_mark\n/wait\n");
    ASSERT_TRUE(bot->wait_for_stdout("did not count", kWait));
    EXPECT_EQ(db_revision(), "3f2a1b4c5d6e") << "the requester's own approval ran nothing";
    bot->write_stdin("/as U0DAVE\n+white_check_mark\n/wait\n");
    ASSERT_TRUE(bot->wait_for_stdout("not an approver", kWait));
    EXPECT_EQ(db_revision(), "3f2a1b4c5d6e") << "a non-approver's approval ran nothing";
    bot->write_stdin("/as U0BOB\n+white_check_mark::skin-tone-3\n/wait\n");
    ASSERT_TRUE(bot->wait_for_stdout("ROLLBACK EXECUTED", kWait)) << bot->out();
    bot->close_stdin();
    ASSERT_EQ(bot->wait_exit(kWait), 0);
    EXPECT_EQ(db_revision(), "ae1027a6acf");
    EXPECT_TRUE(any_call_contains(calls(), "alembic downgrade ae1027a6acf"))
        << "the downgrade names the revision the card showed, not -1";
    EXPECT_EQ(verify_audit(), 0) << audit_output_;
    EXPECT_THAT(audit_output_, HasSubstr("intact"));
}

TEST_F(ConsoleApproval, RejectByTheDbaRunsNothingAndFreesTheLock) {
    auto bot = start();
    bot->write_stdin("/rollback db -1\n/wait\n/as U0BOB\n+x\n/wait\n");
    ASSERT_TRUE(bot->wait_for_stdout("Rejected", kWait));
    bot->write_stdin("/as U0ALICE\n/rollback db -1 --reason again\n/wait\n");
    ASSERT_TRUE(bot->wait_for_stdout("R2 needs approval", kWait)) << "the lock was released";
    bot->close_stdin();
    ASSERT_EQ(bot->wait_exit(kWait), 0);
    EXPECT_EQ(db_revision(), "3f2a1b4c5d6e");
    EXPECT_FALSE(any_call_contains(calls(), "downgrade ae1027a6acf"));
}

TEST_F(ConsoleApproval, SecondRequestWhileOneWaitsIsToldWhoHoldsTheLock) {
    auto bot = start();
    bot->write_stdin("/rollback db -1\n/wait\n/as U0BOB\n/rollback db -2\n/wait\n");
    ASSERT_TRUE(bot->wait_for_stdout("db is busy: R1", kWait));
    bot->close_stdin();
    ASSERT_EQ(bot->wait_exit(kWait), 0);
}

TEST_F(ConsoleApproval, RequesterCancelsAndALaterApprovalDoesNothing) {
    auto bot = start();
    bot->write_stdin("/rollback db -1\n/wait\n/rollback cancel R1\n/wait\n");
    ASSERT_TRUE(bot->wait_for_stdout("R1 is cancelled", kWait));
    bot->write_stdin("/as U0BOB\n+white_check_mark\n/wait\n");
    bot->close_stdin();
    ASSERT_EQ(bot->wait_exit(kWait), 0);
    EXPECT_EQ(db_revision(), "3f2a1b4c5d6e");
    EXPECT_THAT(bot->out(), Not(HasSubstr("ROLLBACK EXECUTED")));
}

TEST_F(ConsoleApproval, ExpiresAfterTheTimeout) {
    set_timeout("1s");
    auto bot = start();
    bot->write_stdin("/rollback db -1\n");
    ASSERT_TRUE(bot->wait_for_stdout("Expired", kWait));
    bot->write_stdin("/as U0BOB\n+white_check_mark\n/wait\n");
    bot->close_stdin();
    ASSERT_EQ(bot->wait_exit(kWait), 0);
    EXPECT_EQ(db_revision(), "3f2a1b4c5d6e");
}

TEST_F(ConsoleApproval, DatabaseMovedAfterApprovalAsksAgain) {
    auto bot = start();
    bot->write_stdin("/rollback db -1\n/wait\n");
    ASSERT_TRUE(bot->wait_for_stdout("now at `3f2a1b4c5d6e`", kWait));
    // Somebody downgrades by hand while the card waits: -1 would now mean another migration.
    run_kubectl("exec -n preskool deployment/backend -c backend -- alembic downgrade -1");
    bot->write_stdin("/as U0BOB\n+white_check_mark\n/wait\n");
    ASSERT_TRUE(bot->wait_for_stdout("the plan changed between approval and execution", kWait));
    ASSERT_TRUE(bot->wait_for_stdout("now at `ae1027a6acf`", kWait)) << "a new card";
    bot->close_stdin();
    ASSERT_EQ(bot->wait_exit(kWait), 0);
    EXPECT_EQ(db_revision(), "ae1027a6acf") << "nothing more ran";
}

TEST_F(ConsoleApproval, PendingApprovalSurvivesARestart) {
    {
        auto bot = start();
        bot->write_stdin("/rollback db -1 --reason before the restart\n/wait\n");
        ASSERT_TRUE(bot->wait_for_stdout("R1 needs approval", kWait));
        bot->send_signal(SIGKILL);
        EXPECT_TRUE(bot->wait_exit(kWait).has_value());
    }
    auto bot = start();
    ASSERT_TRUE(bot->wait_for_stdout("still waiting", kWait));
    bot->write_stdin("/as U0BOB\n+white_check_mark\n/wait\n");
    ASSERT_TRUE(bot->wait_for_stdout("ROLLBACK EXECUTED", kWait)) << bot->out();
    bot->close_stdin();
    ASSERT_EQ(bot->wait_exit(kWait), 0);
    EXPECT_EQ(db_revision(), "ae1027a6acf");
}

TEST_F(ConsoleApproval, LogShowsTheTimelineAndATamperedTrailIsCaught) {
    auto bot = start();
    bot->write_stdin("/rollback db -1\n/wait\n/as U0BOB\n+white_check_mark\n/wait\n");
    ASSERT_TRUE(bot->wait_for_stdout("ROLLBACK EXECUTED", kWait));
    bot->write_stdin("/rollback log R1\n/wait\n");
    ASSERT_TRUE(bot->wait_for_stdout("Timeline of R1", kWait));
    bot->close_stdin();
    ASSERT_EQ(bot->wait_exit(kWait), 0);
    EXPECT_THAT(bot->out(), HasSubstr("state=executing"));
    EXPECT_THAT(bot->out(), HasSubstr("alembic downgrade ae1027a6acf"));
    ASSERT_EQ(verify_audit(), 0) << audit_output_;
    tamper_with_audit_record(2);
    EXPECT_EQ(verify_audit(), 1) << audit_output_;
    EXPECT_THAT(audit_output_, HasSubstr("BROKEN at record 2"));
}

}  // namespace
}  // namespace rollbot::test
