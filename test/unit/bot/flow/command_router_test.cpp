// The command router, through the coordinator: where and who (design §4), the grammar on a
// usage error, where each command goes, and rollbot_commands_total{kind,outcome}.
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

class CommandRouterTest : public ::testing::Test {
protected:
    /// The last reply's text ("" when there is none).
    [[nodiscard]] std::string last_reply() const {
        return h.chat.replies().empty() ? std::string() : h.chat.replies().back().text;
    }
    [[nodiscard]] double commands(std::string kind, std::string outcome) {
        return h.counter("rollbot_commands_total", {std::move(kind), std::move(outcome)});
    }

    FlowHarness h;
};

TEST_F(CommandRouterTest, AUsageErrorShowsTheGrammarAndRunsNothing) {
    h.command("bakend --reason typo");
    ASSERT_EQ(h.chat.replies().size(), 1U);
    const auto& reply = h.chat.replies()[0];
    EXPECT_EQ(reply.visibility, core::Visibility::Ephemeral);
    EXPECT_EQ(reply.to.user, core::UserId{"U0ALICE"});
    EXPECT_THAT(reply.text, HasSubstr("bakend"));
    EXPECT_THAT(reply.text, HasSubstr("Nothing was run. Usage:"));
    EXPECT_THAT(reply.text, HasSubstr(kGrammar));
    EXPECT_EQ(commands("unknown", "usage_error"), 1);
    EXPECT_THAT(h.runbook.steps_run(), IsEmpty());
    EXPECT_THAT(h.chat.posts(), IsEmpty());
    EXPECT_THAT(h.logs(), HasSubstr("audit info command.rejected user=U0ALICE error="));
}

TEST_F(CommandRouterTest, EveryCommandIsLoggedAsTyped) {
    h.command("status");
    EXPECT_THAT(h.logs(),
                HasSubstr("audit info command user=U0ALICE channel=C0INCIDENTS text=\"status\""));
}

TEST_F(CommandRouterTest, OutsideTheIncidentsChannelARollbackIsRefusedNamingTheChannel) {
    h.command("backend --reason error rate spike", "U0ALICE", "C0RANDOM");
    EXPECT_THAT(last_reply(), HasSubstr("rollbot takes commands only in <#C0INCIDENTS>"));
    EXPECT_THAT(last_reply(), HasSubstr("Nothing was run."));
    EXPECT_THAT(h.runbook.steps_run(), IsEmpty());
    EXPECT_THAT(h.chat.posts(), IsEmpty());
    EXPECT_EQ(commands("backend", "refused"), 1);
    EXPECT_THAT(
        h.logs(),
        HasSubstr("audit info command.refused user=U0ALICE channel=C0RANDOM kind=rollback"));
}

TEST_F(CommandRouterTest, OutsideTheIncidentsChannelAReadCommandIsRefusedToo) {
    h.command("status", "U0ALICE", "C0RANDOM");
    EXPECT_THAT(last_reply(), HasSubstr("rollbot takes commands only in <#C0INCIDENTS>"));
    EXPECT_THAT(last_reply(), Not(HasSubstr("rollbot status")));
    EXPECT_EQ(h.verifier.checks, 0);
    EXPECT_EQ(commands("status", "refused"), 1);
}

TEST_F(CommandRouterTest, OutsideTheIncidentsChannelAnUnparsedCommandNamesTheChannelNotTheGrammar) {
    h.command("bakend", "U0ALICE", "C0RANDOM");
    ASSERT_EQ(h.chat.replies().size(), 1U);
    EXPECT_THAT(last_reply(), HasSubstr("rollbot takes commands only in <#C0INCIDENTS>"));
    EXPECT_THAT(last_reply(), Not(HasSubstr("Usage:")));
    EXPECT_EQ(commands("unknown", "wrong_channel"), 1);
    EXPECT_EQ(commands("unknown", "usage_error"), 0);
}

TEST_F(CommandRouterTest, WithOperatorsSetANonOperatorMayReadButNotRollBackOrCancel) {
    h.settings.access.operators.users = {core::UserId{"U0CAROL"}};

    h.command("backend", "U0ALICE");
    EXPECT_THAT(last_reply(),
                HasSubstr("only rollbot operators may run a rollback; you are not in "
                          "access.operators"));
    h.command("cancel", "U0ALICE");
    EXPECT_THAT(last_reply(), HasSubstr("only rollbot operators may run a cancel"));
    EXPECT_THAT(h.runbook.steps_run(), IsEmpty());
    EXPECT_EQ(commands("backend", "refused"), 1);
    EXPECT_EQ(commands("cancel", "refused"), 1);

    h.command("status", "U0ALICE");
    EXPECT_THAT(last_reply(), HasSubstr("rollbot status"));
    h.command("help", "U0ALICE");
    EXPECT_THAT(last_reply(), HasSubstr(kGrammar));
    EXPECT_EQ(commands("status", "answered"), 1);
    EXPECT_EQ(commands("help", "answered"), 1);

    h.command("backend", "U0CAROL");
    EXPECT_EQ(h.runbook.ran(StepKind::KubectlUndo), 1U);
    EXPECT_EQ(commands("backend", "ran"), 1);
}

TEST_F(CommandRouterTest, AMemberOfAnOperatorUsergroupMayRollBack) {
    h.settings.access.operators.usergroups = {core::UsergroupId{"S0OPS"}};
    h.chat.add_usergroup("S0OPS", {"U0DAVE"});

    h.command("backend", "U0ALICE");
    EXPECT_THAT(last_reply(), HasSubstr("only rollbot operators may run a rollback"));
    EXPECT_EQ(h.runbook.ran(StepKind::KubectlUndo), 0U);

    h.command("backend", "U0DAVE");
    EXPECT_EQ(h.runbook.ran(StepKind::KubectlUndo), 1U);
    EXPECT_EQ(h.chat.count_posts("ROLLBACK EXECUTED"), 1U);
}

TEST_F(CommandRouterTest, AnOperatorUsergroupThatCannotBeReadGrantsNothing) {
    h.settings.access.operators.usergroups = {core::UsergroupId{"S0GONE"}};
    h.command("backend", "U0DAVE");
    EXPECT_THAT(last_reply(), HasSubstr("only rollbot operators may run a rollback"));
    EXPECT_THAT(h.runbook.steps_run(), IsEmpty());
    EXPECT_THAT(h.logs(), HasSubstr("access.usergroup_lookup_failed group=S0GONE"));
}

TEST_F(CommandRouterTest, AUserLookupFailureRefusesRollbacksButNotReads) {
    h.chat.fail_user_info("U0ALICE");
    h.command("backend");
    EXPECT_THAT(last_reply(), HasSubstr("rollbot could not look you up"));
    EXPECT_THAT(last_reply(), HasSubstr("users.info: connection reset"));
    EXPECT_THAT(h.runbook.steps_run(), IsEmpty());
    EXPECT_EQ(commands("backend", "refused"), 1);

    h.chat.fail_user_info("U0ALICE");
    h.command("help");
    EXPECT_THAT(last_reply(), HasSubstr(kGrammar));
    EXPECT_EQ(commands("help", "answered"), 1);
}

TEST_F(CommandRouterTest, ABotIsRefused) {
    h.command("backend", "U0BOT");
    EXPECT_THAT(last_reply(), HasSubstr("commands from bots are ignored"));
    h.command("status", "U0BOT");
    EXPECT_THAT(last_reply(), HasSubstr("commands from bots are ignored"));
    EXPECT_THAT(h.runbook.steps_run(), IsEmpty());
    EXPECT_EQ(h.verifier.checks, 0);
    EXPECT_EQ(commands("backend", "refused"), 1);
    EXPECT_EQ(commands("status", "refused"), 1);
}

TEST_F(CommandRouterTest, DryRunSkipsTheApprovalAndRunsAsADryRun) {
    h.command("db -1 --dry-run --reason try it");
    EXPECT_EQ(h.coordinator().pending_approvals(), 0U);
    ASSERT_EQ(h.runbook.ran(StepKind::AlembicDowngrade), 1U);
    const auto& step = h.runbook.steps_run().back();
    EXPECT_EQ(step.effect, core::StepEffect::Read);
    EXPECT_THAT(step.env,
                ::testing::Contains(std::pair<std::string, std::string>("DRY_RUN", "true")));
    EXPECT_EQ(h.chat.count_posts("DRY RUN — nothing changed"), 1U);
    EXPECT_EQ(h.chat.count_posts("ROLLBACK EXECUTED"), 0U);
    EXPECT_EQ(commands("db", "dry_run"), 1);
    EXPECT_EQ(h.counter("rollbot_approvals_total", {"approved"}), 0);
}

TEST_F(CommandRouterTest, TheForcedDryRunMakesEveryRollbackADryRun) {
    h.force_dry_run = true;
    h.command("db -1");
    h.command("backend");
    EXPECT_EQ(h.coordinator().pending_approvals(), 0U);
    EXPECT_EQ(h.chat.count_posts("DRY RUN — nothing changed"), 2U);
    EXPECT_EQ(h.chat.count_posts("ROLLBACK EXECUTED"), 0U);
    ASSERT_EQ(h.runbook.steps_run().size(), 3U);  // downgrade; undo and rollout status
    for (const auto& step : h.runbook.steps_run()) {
        EXPECT_EQ(step.effect, core::StepEffect::Read) << step.argv.front();
    }
    EXPECT_EQ(commands("db", "dry_run"), 1);
    EXPECT_EQ(commands("backend", "dry_run"), 1);
}

TEST_F(CommandRouterTest, ARollbackWithAnApprovalPolicyGoesToTheDesk) {
    h.command("db -1 --reason migration broke logins");
    EXPECT_EQ(h.coordinator().pending_approvals(), 1U);
    EXPECT_THAT(h.runbook.steps_run(), IsEmpty());
    EXPECT_EQ(h.chat.count_posts("alembic"), 1U);
    EXPECT_THAT(last_reply(), HasSubstr("R1 needs approval: the card is in <#C0INCIDENTS>"));
    EXPECT_EQ(commands("db", "approval_requested"), 1);
}

TEST_F(CommandRouterTest, CancelOfAnOpenApprovalCancelsIt) {
    h.command("db -1");
    h.command("cancel");
    EXPECT_THAT(last_reply(), HasSubstr("R1 is cancelled. Nothing ran."));
    EXPECT_EQ(h.coordinator().pending_approvals(), 0U);
    EXPECT_EQ(commands("cancel", "answered"), 1);
}

TEST_F(CommandRouterTest, CancelOfARunningRequestIsRefused) {
    h.runbook.hold(StepKind::KubectlUndo);
    h.command("backend");
    ASSERT_TRUE(h.runbook.waiting(StepKind::KubectlUndo));
    ASSERT_EQ(h.coordinator().running(), 1U);

    h.command("cancel R1");
    EXPECT_THAT(last_reply(),
                HasSubstr("R1 is already running; rollbot does not stop a runbook step half-way"));
    EXPECT_EQ(commands("cancel", "answered"), 1);
    EXPECT_EQ(h.runbook.cancel_all_calls(), 0);
    EXPECT_TRUE(h.runbook.waiting(StepKind::KubectlUndo));

    h.runbook.release(StepKind::KubectlUndo);
    h.run();
    EXPECT_EQ(h.chat.count_posts("ROLLBACK EXECUTED"), 1U);
}

TEST_F(CommandRouterTest, ASecondRollbackOfAHeldTargetIsBusy) {
    h.runbook.hold(StepKind::KubectlUndo);
    h.command("backend", "U0ALICE");
    h.command("backend", "U0CAROL");
    EXPECT_THAT(last_reply(), HasSubstr("backend is busy: R1"));
    EXPECT_EQ(h.chat.replies().back().to.user, core::UserId{"U0CAROL"});
    EXPECT_EQ(h.runbook.ran(StepKind::KubectlUndo), 1U);
    EXPECT_EQ(commands("backend", "busy"), 1);
    h.runbook.release(StepKind::KubectlUndo);
    h.run();
}

TEST_F(CommandRouterTest, EveryOutcomeLabelIsCounted) {
    h.command("status");                         // answered
    h.command("frontend");                       // ran
    h.command("backend --dry-run");              // dry_run
    h.command("db -1");                          // approval_requested
    h.command("db -2", "U0CAROL");               // busy: R3 holds the database
    h.command("backend", "U0BOT");               // refused
    h.command("bakend");                         // usage_error
    h.command("bakend", "U0ALICE", "C0RANDOM");  // wrong_channel
    EXPECT_EQ(commands("status", "answered"), 1);
    EXPECT_EQ(commands("frontend", "ran"), 1);
    EXPECT_EQ(commands("backend", "dry_run"), 1);
    EXPECT_EQ(commands("db", "approval_requested"), 1);
    EXPECT_EQ(commands("db", "busy"), 1);
    EXPECT_EQ(commands("backend", "refused"), 1);
    EXPECT_EQ(commands("unknown", "usage_error"), 1);
    EXPECT_EQ(commands("unknown", "wrong_channel"), 1);
}

}  // namespace
}  // namespace rollbot::test
