// The flow layer wired as rollbotd wires it, in-process: a command or reaction in, the posts,
// steps and records that follow.
#include "test/support/flow_harness.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace rollbot::test {
namespace {

using core::StepKind;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

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

}  // namespace
}  // namespace rollbot::test
