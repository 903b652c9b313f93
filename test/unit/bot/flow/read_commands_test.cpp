// The read commands (help, status, history, verify, advise, log): what each answers, and that
// none of them runs anything. Built from the harness's parts; in-progress requests for status
// come through the coordinator.
#include "bot/flow/read_commands.hpp"

#include "bot/command.hpp"
#include "test/support/flow_harness.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace rollbot::test {
namespace {

using core::StepKind;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using namespace std::chrono_literals;

// A line of the grammar (command_usage()) without the <…> the templates escape.
constexpr std::string_view kGrammar =
    "/rollback status | history [backend|frontend] | verify | advise";

core::Command parsed(std::string_view text) {
    auto command = core::parse_command(text);
    EXPECT_TRUE(command.has_value()) << text;
    return command ? *command : core::Command{};
}

core::RevisionInfo revision(std::int64_t n, std::string tag, std::string cause) {
    core::RevisionInfo r;
    r.revision = n;
    r.tag = std::move(tag);
    r.image = "ghcr.io/your-org/preskool-backend:" + r.tag;
    r.created = "2026-11-24T00:30:00Z";
    r.change_cause = std::move(cause);
    return r;
}

class ReadCommandsTest : public ::testing::Test {
protected:
    ~ReadCommandsTest() override {
        // Whatever a test asked, nothing ran and nothing was recorded as a run.
        EXPECT_THAT(h.runbook.steps_run(), IsEmpty());
        EXPECT_EQ(h.runbook.cancel_all_calls(), 0);
    }

    /// Runs `task` to its end; the answer is the last reply.
    std::string ask(boost::asio::awaitable<void> task) {
        const std::size_t before = h.chat.replies().size();
        h.spawn(std::move(task));
        EXPECT_EQ(h.chat.replies().size(), before + 1) << "one answer per command";
        if (h.chat.replies().size() == before) {
            return {};
        }
        EXPECT_EQ(h.chat.replies().back().visibility, core::Visibility::Ephemeral);
        return h.chat.replies().back().text;
    }
    /// Stores a finished run with its card (and records), as the run executor leaves it.
    void stored_run(const std::string& id, std::optional<core::MessageRef> card) {
        core::StoredRun run{core::RequestId{id},
                            core::UserId{"U0ALICE"},
                            "backend rollback to the previous revision",
                            core::RunState::Running,
                            h.clock.now(),
                            std::nullopt,
                            std::move(card),
                            {}};
        ASSERT_TRUE(h.sqlite->run_started(run).has_value());
        EXPECT_TRUE(h.finish(audit.record({core::AuditKind::Request,
                                           core::RequestId{id},
                                           core::UserId{"U0ALICE"},
                                           "request=\"backend rollback\""})));
        EXPECT_TRUE(
            h.finish(audit.record({core::AuditKind::Step,
                                   core::RequestId{id},
                                   {},
                                   "n=1 command=\"kubectl rollout undo deployment/backend\""})));
        ASSERT_TRUE(
            h.sqlite->run_finished(core::RequestId{id}, core::RunState::Succeeded, h.clock.now())
                .has_value());
    }
    static core::MessageRef card(std::string ts) {
        return core::MessageRef{core::ChannelId{std::string(FlowHarness::kChannel)},
                                core::MessageTs{std::move(ts)}};
    }

    FlowHarness h;
    core::ChatOut chat{h.chat, h.log};
    core::AuditTrail audit{h.store, h.clock, h.audit_log, h.log, &h.metrics};
    core::Outbox outbox{h.tasks, h.chat, h.store, h.clock, h.log};
    core::RolloutWatch watch{
        h.tasks, h.runbook, h.verifier, h.clock, h.settings, h.reporter, outbox, audit, h.log};
    std::vector<core::ActiveRun> active;
    core::ReadCommands reads{{h.settings,
                              chat,
                              h.runbook,
                              h.verifier,
                              watch,
                              h.store,
                              audit,
                              h.reporter,
                              h.clock,
                              [this] {
                                  return active;
                              }}};
};

TEST_F(ReadCommandsTest, HelpShowsTheGrammarAndExamples) {
    const std::string text = ask(reads.help(FlowHarness::slash("help")));
    EXPECT_THAT(text, HasSubstr(kGrammar));
    EXPECT_THAT(text, HasSubstr("/rollback backend --reason error rate spike"));
    EXPECT_EQ(h.chat.replies().back().to.user, core::UserId{"U0ALICE"});
    EXPECT_THAT(h.chat.posts(), IsEmpty());
}

TEST_F(ReadCommandsTest, StatusListsEachDeploymentHealthAndErrorRate) {
    const std::string text = ask(reads.status(FlowHarness::slash("status"), false));
    EXPECT_THAT(text, HasSubstr("*backend*: e4d5c6b7 (revision 3, 2/2 ready, restarts 0)"));
    EXPECT_THAT(text, HasSubstr("*frontend*: 5e6f7a8b (revision 5, 2/2 ready, restarts 0)"));
    EXPECT_THAT(text, HasSubstr("✅ Health: 200 in 35 ms"));
    EXPECT_THAT(text, HasSubstr("✅ Error rate: 1 % (threshold 10 %)"));
    EXPECT_THAT(text, HasSubstr("No rollback is running."));
    EXPECT_THAT(text, Not(HasSubstr(kGrammar)));
    EXPECT_EQ(h.verifier.checks, 1);
}

TEST_F(ReadCommandsTest, StatusShowsAnUnreadableDeploymentAndWhy) {
    h.runbook.set_unreadable("frontend");
    const std::string text = ask(reads.status(FlowHarness::slash("status"), false));
    EXPECT_THAT(text, HasSubstr("*backend*: e4d5c6b7"));
    EXPECT_THAT(text,
                HasSubstr("*frontend*: unknown: kubectl get deployment frontend: connection "
                          "refused"));
}

TEST_F(ReadCommandsTest, StatusShowsAnIncidentsHealthAndErrorRate) {
    h.verifier.set_incident();
    const std::string text = ask(reads.status(FlowHarness::slash("status"), false));
    EXPECT_THAT(text, HasSubstr("Health: 503 in 12 ms"));
    EXPECT_THAT(text, HasSubstr("Error rate: 27 % (threshold 10 %)"));
}

TEST_F(ReadCommandsTest, StatusListsWhatIsInProgressWithTheTargetsEachHolds) {
    active.push_back(core::ActiveRun{core::RequestId{"R4"},
                                     "backend rollback to the previous revision",
                                     core::UserId{"U0CAROL"},
                                     "running",
                                     h.clock.now() - 90s,
                                     "backend"});
    const std::string text = ask(reads.status(FlowHarness::slash("status"), false));
    EXPECT_THAT(text,
                HasSubstr("R4 backend rollback to the previous revision by <@U0CAROL>: running "
                          "since 1m 30s ago; holds backend"));
    EXPECT_THAT(text, Not(HasSubstr("No rollback is running.")));
}

TEST_F(ReadCommandsTest, TheBareCommandShowsHelpThenStatus) {
    const std::string text = ask(reads.status(FlowHarness::slash(""), true));
    const auto help = text.find(kGrammar);
    const auto status = text.find("rollbot status");
    ASSERT_NE(help, std::string::npos);
    ASSERT_NE(status, std::string::npos);
    EXPECT_LT(help, status);
    EXPECT_THAT(text, HasSubstr("*backend*: e4d5c6b7"));
}

TEST_F(ReadCommandsTest, HistoryListsEachDeploymentsRevisionsNewestFirst) {
    auto backend = deployment("backend", 3, "e4d5c6b7");
    backend.history = {revision(2, "a1b2c3d4", "deploy a1b2c3d4"),
                       revision(3, "e4d5c6b7", "deploy e4d5c6b7")};
    backend.history_known = true;
    h.runbook.set_deployment(backend);

    const std::string text = ask(reads.history(FlowHarness::slash("history"), parsed("history")));
    EXPECT_THAT(text, HasSubstr("*backend* — revisions, newest first"));
    EXPECT_THAT(text, HasSubstr("*frontend* — revisions, newest first"));
    const auto now = text.find("▶ now revision 3 · `e4d5c6b7`");
    const auto older = text.find("• revision 2 · `a1b2c3d4`");
    ASSERT_NE(now, std::string::npos) << text;
    ASSERT_NE(older, std::string::npos) << text;
    EXPECT_LT(now, older);
    EXPECT_THAT(text, HasSubstr("deploy a1b2c3d4"));
}

TEST_F(ReadCommandsTest, HistoryOfOneDeploymentShowsOnlyIt) {
    const std::string text =
        ask(reads.history(FlowHarness::slash("history frontend"), parsed("history frontend")));
    EXPECT_THAT(text, HasSubstr("*frontend* — revisions"));
    EXPECT_THAT(text, Not(HasSubstr("*backend*")));
}

TEST_F(ReadCommandsTest, VerifySaysRestoredWhenTheServiceIsHealthy) {
    const std::string text = ask(reads.verify(FlowHarness::slash("verify")));
    EXPECT_THAT(text, HasSubstr("Post-rollback verification"));
    EXPECT_THAT(text, HasSubstr("Rollout: finished"));
    EXPECT_THAT(text, HasSubstr("✅ Service restored"));
    EXPECT_THAT(text, Not(HasSubstr("Still investigating")));
}

TEST_F(ReadCommandsTest, VerifySaysStillInvestigatingDuringAnIncident) {
    h.verifier.set_incident();
    const std::string text = ask(reads.verify(FlowHarness::slash("verify")));
    EXPECT_THAT(text, HasSubstr("🔴 Still investigating"));
    EXPECT_THAT(text, HasSubstr("Error rate: 27 % (threshold 10 %)"));
    EXPECT_THAT(text, Not(HasSubstr("Service restored")));
}

TEST_F(ReadCommandsTest, AdviseAnswersAndRecordsAnAuditLogLine) {
    h.verifier.set_incident();
    const std::string text = ask(reads.advise(FlowHarness::slash("advise")));
    EXPECT_THAT(text, HasSubstr("Roll back or hotfix?"));
    EXPECT_THAT(h.logs(), HasSubstr("audit info advise user=U0ALICE kind="));
    auto records = h.sqlite->audit_log(std::nullopt);
    ASSERT_TRUE(records.has_value());
    EXPECT_THAT(*records, IsEmpty());  // advice is not part of any request's trail
}

TEST_F(ReadCommandsTest, LogShowsARunsTimelineInTheRunsThread) {
    stored_run("R3", card("1699999999.000100"));
    const std::string before = h.logs();
    h.spawn(reads.log(FlowHarness::slash("log R3"), parsed("log R3")));

    ASSERT_EQ(h.chat.posts().size(), 1U);
    const auto& post = h.chat.posts()[0];
    EXPECT_EQ(post.message.thread_ts, core::MessageTs{"1699999999.000100"});
    EXPECT_THAT(post.message.text,
                HasSubstr("Timeline of R3* — backend rollback to the previous revision (2 audit "
                          "records, UTC)"));
    const auto request = post.message.text.find("request · <@U0ALICE>");
    const auto step = post.message.text.find("step · n=1");
    ASSERT_NE(request, std::string::npos) << post.message.text;
    ASSERT_NE(step, std::string::npos) << post.message.text;
    EXPECT_LT(request, step);
    EXPECT_THAT(h.chat.replies(), IsEmpty());
}

TEST_F(ReadCommandsTest, LogWithoutAnIdShowsTheLatestRun) {
    stored_run("R1", card("1699999999.000001"));
    h.clock.advance(1min);
    stored_run("R2", card("1699999999.000002"));
    h.spawn(reads.log(FlowHarness::slash("log"), parsed("log")));
    ASSERT_EQ(h.chat.posts().size(), 1U);
    EXPECT_THAT(h.chat.posts()[0].message.text, HasSubstr("Timeline of R2"));
    EXPECT_EQ(h.chat.posts()[0].message.thread_ts, core::MessageTs{"1699999999.000002"});
}

TEST_F(ReadCommandsTest, LogRepliesWhenThereIsNoRunYet) {
    const std::string text = ask(reads.log(FlowHarness::slash("log"), parsed("log")));
    EXPECT_THAT(text, HasSubstr("there is no run to show yet"));
    EXPECT_THAT(h.chat.posts(), IsEmpty());
}

TEST_F(ReadCommandsTest, LogRepliesWhenTheThreadCannotBePostedTo) {
    stored_run("R3", card("1699999999.000100"));
    h.chat.fail_posts(1);
    const std::string text = ask(reads.log(FlowHarness::slash("log R3"), parsed("log R3")));
    EXPECT_THAT(text, HasSubstr("Timeline of R3"));
    EXPECT_THAT(text, HasSubstr("step · n=1"));
}

TEST_F(ReadCommandsTest, LogOfARunWithoutACardReplies) {
    stored_run("R3", std::nullopt);
    const std::string text = ask(reads.log(FlowHarness::slash("log R3"), parsed("log R3")));
    EXPECT_THAT(text, HasSubstr("Timeline of R3"));
    EXPECT_THAT(h.chat.posts(), IsEmpty());
}

TEST_F(ReadCommandsTest, LogSaysWhenTheAuditTrailCannotBeRead) {
    stored_run("R3", card("1699999999.000100"));
    h.store.fail("audit_log");
    const std::string text = ask(reads.log(FlowHarness::slash("log R3"), parsed("log R3")));
    EXPECT_THAT(text, HasSubstr("rollbot cannot read its audit trail"));
    EXPECT_THAT(text, HasSubstr("state.audit_log: disk I/O error"));
    EXPECT_THAT(h.chat.posts(), IsEmpty());
}

// Through the coordinator: a run held at its first step and an open DB approval.
TEST(ReadCommands, StatusListsAHeldRunAndAnOpenApprovalWithTheTargetsEachHolds) {
    FlowHarness h;
    h.runbook.hold(StepKind::KubectlUndo);
    h.command("backend --reason error rate spike", "U0ALICE");
    h.command("db -1", "U0CAROL");
    h.clock.advance(2min);
    h.command("status", "U0DAVE");

    const std::string text = h.chat.replies().back().text;
    EXPECT_THAT(text,
                HasSubstr("R1 backend rollback to the previous revision by <@U0ALICE>: running "
                          "since 2m 00s ago; holds backend"));
    EXPECT_THAT(text,
                HasSubstr("R2 DB downgrade -1 by <@U0CAROL>: approval pending since 2m 00s ago; "
                          "holds db"));
    EXPECT_EQ(h.runbook.steps_run().size(), 1U);  // only the held step: status ran nothing

    h.runbook.release(StepKind::KubectlUndo);
    h.run();
    h.command("status", "U0DAVE");
    EXPECT_THAT(h.chat.replies().back().text, Not(HasSubstr("R1 backend")));
    EXPECT_THAT(h.chat.replies().back().text, HasSubstr("R2 DB downgrade -1"));
}

}  // namespace
}  // namespace rollbot::test
