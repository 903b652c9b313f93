// The flow layer wired as rollbotd wires it, in-process: a command or reaction in, the posts,
// steps and records that follow.
#include "test/support/flow_harness.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace rollbot::test {
namespace {

namespace asio = boost::asio;
using core::StepKind;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using namespace std::chrono_literals;

/// An earlier run of rollbotd over the same store and chat, with its own loop and runbook:
/// destroying it is the crash (its coroutines go with its io_context, never resumed).
struct EarlierDaemon {
    explicit EarlierDaemon(FlowHarness& h)
        : runbook(io.get_executor()),
          tasks(io.get_executor(), h.log),
          coordinator(core::FlowDeps{h.settings,
                                     h.chat,
                                     h.chat,
                                     runbook,
                                     h.verifier,
                                     h.clock,
                                     h.reporter,
                                     h.store,
                                     tasks,
                                     h.log,
                                     h.audit_log}) {}
    void command(std::string_view text, std::string_view user = "U0ALICE") {
        coordinator.on_inbound(FlowHarness::slash(text, user));
        io.restart();
        while (io.poll() > 0) {
        }
    }
    asio::io_context io;
    FakeRunbook runbook;
    core::TaskGroup tasks;
    core::Coordinator coordinator;
};

/// Where `text` first appears in `in` (npos when it does not), for "this before that".
std::size_t at(const std::string& in, std::string_view text) {
    const auto pos = in.find(text);
    EXPECT_NE(pos, std::string::npos) << "no \"" << text << "\"";
    return pos;
}

void shutdown(FlowHarness& h, std::chrono::milliseconds grace, std::chrono::milliseconds flush) {
    // Background, as rollbotd runs it: the shutdown is not one of the commands it waits for.
    h.tasks.spawn("daemon.stop",
                  h.coordinator().shutdown("SIGTERM", grace, flush),
                  core::TaskGroup::Kind::Background);
    h.run();
}

TEST(Coordinator, BackendRollbackRunsItsStepsAndReportsRestored) {
    FlowHarness h;
    h.command("backend --reason error rate spike");
    EXPECT_EQ(h.runbook.ran(StepKind::KubectlUndo), 1U);
    EXPECT_EQ(h.runbook.ran(StepKind::KubectlRolloutStatus), 1U);
    const auto report = h.post("ROLLBACK EXECUTED");
    EXPECT_THAT(report.message.text, HasSubstr("error rate spike"));
    EXPECT_THAT(report.message.text, HasSubstr("Service restored"));
    EXPECT_EQ(h.counter("rollbot_commands_total", {"backend", "ran"}), 1);
    EXPECT_EQ(h.counter("rollbot_runs_total", {"backend", "restored"}), 1);
    EXPECT_EQ(h.coordinator().running(), 0U);
    EXPECT_EQ(h.tasks.active(), 0);
}

TEST(Coordinator, DbDowngradeWaitsForADbaAndRunsOnTheApproval) {
    FlowHarness h;
    h.command("db -1 --reason migration broke logins");
    EXPECT_EQ(h.runbook.ran(StepKind::AlembicDowngrade), 0U);
    const auto card = h.post("alembic");
    EXPECT_EQ(h.coordinator().pending_approvals(), 1U);
    h.react("U0BOB", "white_check_mark", card.ts);
    EXPECT_EQ(h.runbook.ran(StepKind::AlembicDowngrade), 1U);
    EXPECT_EQ(h.coordinator().pending_approvals(), 0U);
    EXPECT_EQ(h.chat.count_posts("ROLLBACK EXECUTED"), 1U);
    EXPECT_EQ(h.counter("rollbot_approvals_total", {"approved"}), 1);
}

TEST(Coordinator, ApprovalExpiresOnTheManualClock) {
    FlowHarness h;
    h.command("db -1");
    const auto card = h.post("alembic");
    h.advance(14min);
    EXPECT_EQ(h.coordinator().pending_approvals(), 1U);
    h.advance(1min);
    EXPECT_EQ(h.coordinator().pending_approvals(), 0U);
    EXPECT_THAT(h.chat.text_of(card.ts), HasSubstr("Expired"));
    h.react("U0BOB", "white_check_mark", card.ts);
    EXPECT_EQ(h.runbook.ran(StepKind::AlembicDowngrade), 0U);
}

TEST(Coordinator, RestoreDeliversTheOutboxFirstThenReportsInterruptedRunsAndRestoresApprovals) {
    FlowHarness h;
    {
        EarlierDaemon earlier(h);
        earlier.command("db -1 --reason migration broke logins", "U0CAROL");  // R1 waits
        earlier.runbook.hold(StepKind::KubectlUndo);
        earlier.command("backend --reason error rate spike");  // R2 runs, then the crash
        ASSERT_TRUE(earlier.runbook.waiting(StepKind::KubectlUndo));
        core::OutboxEntry report;  // a report it stored but could not deliver
        report.channel = core::ChannelId{std::string(FlowHarness::kChannel)};
        report.text = "⏪ ROLLBACK EXECUTED (R0, left by the earlier daemon)";
        report.key = "R0/report";
        ASSERT_TRUE(h.sqlite->outbox_add(report).has_value());
    }
    const auto card = h.post("alembic");
    const auto r2_card = h.post("R2");
    const std::size_t before = h.chat.posts().size();

    h.spawn(h.coordinator().restore());

    ASSERT_EQ(h.chat.posts().size(), before + 2);
    EXPECT_THAT(h.chat.posts()[before].message.text, HasSubstr("left by the earlier daemon"));
    const auto& interrupted = h.chat.posts()[before + 1].message;
    EXPECT_THAT(interrupted.text, HasSubstr("R2 was interrupted"));
    EXPECT_THAT(interrupted.text, HasSubstr("It will not be re-run by itself"));
    EXPECT_EQ(interrupted.thread_ts, r2_card.ts);         // under the run's card
    EXPECT_EQ(h.runbook.ran(StepKind::KubectlUndo), 0U);  // never re-run

    EXPECT_EQ(h.coordinator().pending_approvals(), 1U);
    EXPECT_THAT(h.chat.text_of(card.ts), HasSubstr("rollbot restarted; this request is still"));
    const std::string logs = h.logs();
    EXPECT_LT(at(logs, "outbox.resuming undelivered=1"), at(logs, "interrupted id=R2"));
    EXPECT_LT(at(logs, "interrupted id=R2"),
              at(logs, "approval id=R1 actor=rollbot state=restored"));
    EXPECT_LT(at(logs, "state=restored"),
              at(logs, "state.restored approvals=1 interrupted_runs=1"));

    // The restored approval still works, and still holds the database.
    h.command("db -2", "U0ALICE");
    EXPECT_THAT(h.chat.replies().back().text, HasSubstr("db is busy: R1"));
    h.react("U0BOB", "white_check_mark", card.ts);
    EXPECT_EQ(h.runbook.ran(StepKind::AlembicDowngrade), 1U);
    EXPECT_EQ(h.chat.count_posts("ROLLBACK EXECUTED"), 2U);  // R0's and R1's
}

TEST(Coordinator, RestoreWithNothingStoredPostsNothing) {
    FlowHarness h;
    h.spawn(h.coordinator().restore());
    EXPECT_THAT(h.chat.posts(), IsEmpty());
    EXPECT_THAT(h.logs(), HasSubstr("state.restored approvals=0 interrupted_runs=0"));
}

TEST(Coordinator, ShutdownWithNothingPendingPostsNoNotice) {
    FlowHarness h;
    h.command("backend");
    const std::size_t before = h.chat.posts().size();
    shutdown(h, 30s, 10s);
    EXPECT_EQ(h.chat.posts().size(), before);
    EXPECT_EQ(h.chat.count_posts("rollbot is restarting"), 0U);
    EXPECT_THAT(h.logs(), HasSubstr("daemon.shutdown why=\"SIGTERM\" runs=0 approvals=0"));
    EXPECT_THAT(h.logs(), HasSubstr("daemon.shutdown_done outbox_drained=true left=0"));
}

TEST(Coordinator, ShutdownNoticeForAPendingApprovalAloneSaysItResumes) {
    FlowHarness h;
    h.command("db -1", "U0CAROL");
    shutdown(h, 30s, 10s);
    const auto notice = h.post("rollbot is restarting");
    EXPECT_THAT(notice.message.text, HasSubstr("Pending approvals will resume"));
    EXPECT_THAT(notice.message.text, HasSubstr("R1: DB downgrade -1 (requested by U0CAROL)"));
    EXPECT_THAT(notice.message.text, Not(HasSubstr("Running now")));
    EXPECT_THAT(h.logs(), HasSubstr("daemon.shutdown why=\"SIGTERM\" runs=0 approvals=1"));
}

TEST(Coordinator, ShutdownNoticeForARunAloneSaysHowLongItHas) {
    FlowHarness h;
    h.runbook.hold(StepKind::KubectlUndo);
    h.command("backend");
    shutdown(h, 30s, 10s);
    const auto notice = h.post("rollbot is restarting");
    EXPECT_THAT(notice.message.text, HasSubstr("Running now (given "));
    EXPECT_THAT(notice.message.text, HasSubstr("R1: backend rollback to the previous revision"));
    EXPECT_THAT(notice.message.text, Not(HasSubstr("Pending approvals")));
    h.runbook.release(StepKind::KubectlUndo);
    h.run();
}

TEST(Coordinator, ShutdownStopsAHeldStepAfterTheGraceAndReportsTheRunAsStopped) {
    FlowHarness h;
    h.command("db -1 --reason migration broke logins", "U0CAROL");  // R1 waits for a DBA
    h.runbook.hold(StepKind::KubectlUndo);
    h.command("backend --reason error rate spike");  // R2 runs its first step
    ASSERT_TRUE(h.runbook.waiting(StepKind::KubectlUndo));

    shutdown(h, 30s, 10s);
    EXPECT_TRUE(h.coordinator().stopping());
    const auto notice = h.post("rollbot is restarting");
    EXPECT_THAT(notice.message.text, HasSubstr("(SIGTERM)"));
    EXPECT_THAT(notice.message.text, HasSubstr("R1: DB downgrade -1 (requested by U0CAROL)"));
    EXPECT_THAT(notice.message.text, HasSubstr("R2: backend rollback to the previous revision"));
    EXPECT_EQ(notice.message.channel, core::ChannelId{std::string(FlowHarness::kChannel)});

    h.advance(30s - 1ms);
    EXPECT_EQ(h.runbook.cancel_all_calls(), 0) << "stopped before the grace was over";
    EXPECT_TRUE(h.runbook.waiting(StepKind::KubectlUndo));
    h.advance(1ms);
    EXPECT_EQ(h.runbook.cancel_all_calls(), 1);
    EXPECT_FALSE(h.runbook.waiting(StepKind::KubectlUndo));

    const auto report = h.post("ROLLBACK FAILED");
    EXPECT_THAT(report.message.text, HasSubstr("grace period ran out"));
    EXPECT_EQ(h.chat.count_posts("ROLLBACK EXECUTED"), 0U);
    EXPECT_EQ(h.runbook.ran(StepKind::KubectlRolloutStatus), 0U);  // nothing after the stop
    EXPECT_EQ(h.coordinator().running(), 0U);
    const std::string logs = h.logs();
    EXPECT_THAT(logs, HasSubstr("daemon.grace_over runs=1"));
    EXPECT_THAT(logs, HasSubstr("audit info shutdown id=R2"));
    EXPECT_THAT(logs, HasSubstr("daemon.shutdown_done outbox_drained=true left=0"));

    // The approval stays stored for the restart.
    auto open = h.sqlite->open_approvals();
    ASSERT_TRUE(open.has_value());
    ASSERT_EQ(open->size(), 1U);
    EXPECT_EQ(open->front().request.id, core::RequestId{"R1"});
}

TEST(Coordinator, ShutdownLetsAStepThatEndsWithinTheGraceFinish) {
    FlowHarness h;
    h.runbook.hold(StepKind::KubectlUndo);
    h.command("backend");
    shutdown(h, 30s, 10s);
    h.advance(10s);
    h.runbook.release(StepKind::KubectlUndo);
    h.run();
    EXPECT_EQ(h.chat.count_posts("ROLLBACK EXECUTED"), 1U);
    EXPECT_EQ(h.runbook.cancel_all_calls(), 0);
    EXPECT_THAT(h.logs(), Not(HasSubstr("daemon.grace_over")));
    EXPECT_THAT(h.logs(), HasSubstr("daemon.shutdown_done outbox_drained=true"));
}

TEST(Coordinator, ShutdownDrainsTheOutbox) {
    FlowHarness h;
    h.chat.fail_posts(1);  // the card fails: everything after it waits behind it
    h.command("backend");
    ASSERT_EQ(h.chat.count_posts("ROLLBACK EXECUTED"), 0U);
    ASSERT_GT(h.coordinator().outbox_depth(), 0U);

    shutdown(h, 30s, 10s);  // no time passes: the drain retries at once
    EXPECT_EQ(h.chat.count_posts("ROLLBACK EXECUTED"), 1U);
    EXPECT_EQ(h.coordinator().outbox_depth(), 0U);
    EXPECT_THAT(h.logs(), HasSubstr("daemon.shutdown_done outbox_drained=true left=0"));
}

TEST(Coordinator, ShutdownLeavesWhatItCannotDeliverStored) {
    FlowHarness h;
    h.chat.fail_posts(1000);
    h.command("backend");
    shutdown(h, 30s, 10s);
    for (int i = 0; i < 40; ++i) {
        h.advance(250ms);
    }
    EXPECT_THAT(h.logs(), HasSubstr("outbox.not_drained"));
    EXPECT_THAT(h.logs(), HasSubstr("daemon.shutdown_done outbox_drained=false"));
    auto left = h.sqlite->outbox_pending();
    ASSERT_TRUE(left.has_value());
    EXPECT_FALSE(left->empty());
    EXPECT_EQ(h.coordinator().outbox_depth(), left->size());
}

TEST(Coordinator, InboundEventsAfterStoppingAreDropped) {
    FlowHarness h;
    h.command("db -1");
    const auto card = h.post("alembic");
    shutdown(h, 30s, 10s);
    const std::size_t replies = h.chat.replies().size();

    h.command("backend");
    h.react("U0BOB", "white_check_mark", card.ts);
    EXPECT_THAT(h.runbook.steps_run(), IsEmpty());
    EXPECT_EQ(h.chat.replies().size(), replies);
    EXPECT_EQ(h.coordinator().pending_approvals(), 1U);
    EXPECT_EQ(h.tasks.active(), 0);
    EXPECT_THAT(h.logs(), HasSubstr("inbound.dropped why=\"rollbot is stopping\""));
}

}  // namespace
}  // namespace rollbot::test
