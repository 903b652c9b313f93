// The approval desk, in-process: a request puts the card up and holds its target; reactions on
// the card count or do not, and only the approving transition hands the plan to the run.
#include "test/unit/bot/flow/approval_desk_fixture.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace rollbot::test {
namespace {

using core::ApprovalState;
using core::CommandOutcome;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

constexpr std::string_view kApprove = "white_check_mark";

// --- request ---------------------------------------------------------------------------------

class ApprovalDeskRequest : public DeskTest {};

TEST_F(ApprovalDeskRequest, PostsTheCardInTheIncidentsChannelWithThePlanAndItsStatus) {
    EXPECT_EQ(d().request("db -1 --reason migration broke logins"),
              CommandOutcome::ApprovalRequested);
    ASSERT_EQ(h.chat.posts().size(), 1U);
    const auto& post = h.chat.posts().front();
    EXPECT_EQ(post.message.channel.value, FlowHarness::kChannel);
    const auto stored = stored_approval(h, "R1");
    const std::string text = h.chat.text_of(post.ts);
    EXPECT_THAT(text, HasSubstr("Approval needed: DB downgrade -1"));
    EXPECT_THAT(text, HasSubstr("requested by <@U0ALICE>"));
    EXPECT_THAT(text, HasSubstr("Reason: migration broke logins"));
    EXPECT_THAT(text, HasSubstr("Plan " + stored.approval.plan_id));
    EXPECT_THAT(text, HasSubstr("alembic downgrade -1"));
    EXPECT_THAT(text, HasSubstr("⏳ *Pending* · still needed: 1 more approver"));
    EXPECT_THAT(text, HasSubstr("expires 01:15:00 UTC"));
    EXPECT_EQ(stored.approval.state, ApprovalState::Pending);
    EXPECT_EQ(stored.approval.card, (core::MessageRef{post.message.channel, post.ts}));
    EXPECT_TRUE(d().is_open("R1"));
    EXPECT_TRUE(d().runs.started.empty());
    const auto trail = audit_trail(h, "R1");
    EXPECT_THAT(trail,
                HasSubstr("request U0ALICE request=\"DB downgrade -1\" needs_approval=true"));
    EXPECT_THAT(trail, HasSubstr("approval U0ALICE state=pending plan=" + stored.approval.plan_id));
}

TEST_F(ApprovalDeskRequest, TellsTheRequesterWhereTheCardIsAndWhenItExpires) {
    d().request("db -1");
    EXPECT_EQ(replies_to(h, "U0ALICE"),
              "R1 needs approval: the card is in <#C0INCIDENTS>. It expires in 15 minutes.\n");
}

TEST_F(ApprovalDeskRequest, HoldsItsTargetSoASecondRequestIsToldWhoHoldsIt) {
    d().request("db -1");
    EXPECT_EQ(d().holder_of("db"), "R1");
    EXPECT_EQ(d().request("db -2", "U0CAROL"), CommandOutcome::Busy);
    const auto told = replies_to(h, "U0CAROL");
    EXPECT_THAT(told, HasSubstr("db is busy: R1 (DB downgrade -1) by <@U0ALICE>"));
    EXPECT_THAT(told, HasSubstr("Nothing was run."));
    EXPECT_EQ(h.chat.count_posts("Approval needed"), 1U);
    EXPECT_EQ(d().desk.open().size(), 1U);
    EXPECT_EQ(d().holder_of("db"), "R1");
}

TEST_F(ApprovalDeskRequest, PlanThatCannotBeResolvedIsRefusedAndReleasesTheLock) {
    h.runbook.set_database(std::nullopt);
    EXPECT_EQ(d().request("db -1"), CommandOutcome::Refused);
    const auto told = replies_to(h, "U0ALICE");
    EXPECT_THAT(told, HasSubstr("could not read the database's alembic revision"));
    EXPECT_THAT(told, HasSubstr("Nothing was run."));
    EXPECT_TRUE(h.chat.posts().empty());
    EXPECT_TRUE(d().desk.open().empty());
    EXPECT_EQ(d().holder_of("db"), "");
    EXPECT_THAT(audit_trail(h, "R1"), HasSubstr("refused U0ALICE why=\"rollbot could not read"));
}

TEST_F(ApprovalDeskRequest, ApprovalThatCannotBeSavedIsRefusedAndNothingStaysOpen) {
    h.store.fail("save_approval");
    EXPECT_EQ(d().request("db -1"), CommandOutcome::Refused);
    const auto told = replies_to(h, "U0ALICE");
    EXPECT_THAT(told, HasSubstr("rollbot cannot write its state, so it cannot hold an approval"));
    EXPECT_THAT(told, HasSubstr("state.save_approval: disk I/O error"));
    EXPECT_TRUE(h.chat.posts().empty());
    EXPECT_TRUE(d().desk.open().empty());
    EXPECT_EQ(d().holder_of("db"), "");
    EXPECT_EQ(h.counter("rollbot_state_write_errors_total", {"approval"}), 1);
    // The trail says how the request ended, not just that it came.
    EXPECT_THAT(audit_trail(h, "R1"),
                HasSubstr("refused U0ALICE why=\"approval not saved: state.save_approval: disk "
                          "I/O error\""));
    h.store.heal_all();
    const auto open = h.sqlite->open_approvals();
    ASSERT_TRUE(open);
    EXPECT_TRUE(open->empty());
}

TEST_F(ApprovalDeskRequest, CardThatCannotBePostedCancelsTheRequest) {
    h.chat.fail_posts(1);
    EXPECT_EQ(d().request("db -1"), CommandOutcome::Refused);
    EXPECT_THAT(replies_to(h, "U0ALICE"),
                HasSubstr("rollbot could not post the approval card, so nobody could approve"));
    EXPECT_EQ(stored_approval(h, "R1").approval.state, ApprovalState::Cancelled);
    EXPECT_TRUE(d().desk.open().empty());
    EXPECT_EQ(d().holder_of("db"), "");
    EXPECT_EQ(h.counter("rollbot_approvals_total", {"cancelled"}), 1);
    EXPECT_THAT(audit_trail(h, "R1"), HasSubstr("state=cancelled why=\"card not posted: 503\""));
}

// --- reactions -------------------------------------------------------------------------------

class ApprovalDeskReaction : public DeskTest {
protected:
    void require(int approvers) { h.settings.approvals[core::ActionKind::Db].required = approvers; }
};

TEST_F(ApprovalDeskReaction, DbaApprovalHandsTheRequestAndItsPlanToTheRunOnce) {
    const auto requested_at = h.clock.now();
    d().request("db -1 --reason migration broke logins");
    const std::string plan = stored_approval(h, "R1").approval.plan_id;
    h.advance(2min);
    d().react("U0BOB", kApprove, card());
    ASSERT_EQ(d().runs.started.size(), 1U);
    const auto& start = d().runs.started.front();
    EXPECT_EQ(start.id.value, "R1");
    EXPECT_EQ(start.requester.value, "U0ALICE");
    EXPECT_EQ(start.reason, "migration broke logins");
    EXPECT_EQ(start.received_at, requested_at);
    EXPECT_EQ(start.received, d().received);
    EXPECT_EQ(start.plan.id, plan);
    EXPECT_EQ(start.plan.request.action, core::ActionKind::Db);
    const auto text = h.chat.text_of(card());
    EXPECT_THAT(text, HasSubstr("*Executing* · approved by <@U0BOB>"));
    EXPECT_THAT(text, HasSubstr("Approved: running now."));
    EXPECT_EQ(stored_approval(h, "R1").approval.state, ApprovalState::Executing);
    EXPECT_EQ(h.counter("rollbot_approvals_total", {"approved"}), 1);
    EXPECT_TRUE(d().desk.open().empty());
    EXPECT_EQ(d().holder_of("db"), "R1");  // the lock goes with the run
    EXPECT_THAT(audit_trail(h, "R1"), HasSubstr("approval rollbot state=executing plan=" + plan));
    d().react("U0DAVE", kApprove, card());
    EXPECT_EQ(d().runs.started.size(), 1U);
}

TEST_F(ApprovalDeskReaction, RequestersOwnApprovalDoesNotCountAndTheyAreToldWhy) {
    d().request("db -1", "U0BOB");  // a DBA asking for their own downgrade
    d().react("U0BOB", kApprove, card());
    EXPECT_TRUE(d().runs.started.empty());
    EXPECT_THAT(replies_to(h, "U0BOB"),
                HasSubstr("Your reaction on R1 did not count: <@U0BOB> requested R1 and cannot "
                          "approve it; someone else must."));
    EXPECT_THAT(h.chat.text_of(card()), HasSubstr("*Pending* · still needed: 1 more approver"));
    EXPECT_THAT(audit_trail(h, "R1"),
                HasSubstr("reaction U0BOB reaction=white_check_mark "
                          "added=true rule=self_approval state=pending"));
    d().react("U0DAVE", kApprove, card());
    EXPECT_EQ(d().runs.started.size(), 1U);
}

TEST_F(ApprovalDeskReaction, NonApproverAndBotDoNotCount) {
    d().request("db -1");
    d().react("U0CAROL", kApprove, card());
    d().react("U0BOT", kApprove, card());
    EXPECT_TRUE(d().runs.started.empty());
    EXPECT_TRUE(d().is_open("R1"));
    EXPECT_THAT(replies_to(h, "U0CAROL"), HasSubstr("<@U0CAROL> is not an approver"));
    EXPECT_THAT(replies_to(h, "U0BOT"), HasSubstr("bots never approve or reject"));
    EXPECT_THAT(h.chat.text_of(card()), Not(HasSubstr("approved by")));
}

TEST_F(ApprovalDeskReaction, ReactionsOnAnotherMessageOrWithAnotherEmojiChangeNothing) {
    d().request("db -1");
    const auto updates = h.chat.updates().size();
    d().react("U0BOB", kApprove, core::MessageTs{"1700000000.999999"});
    d().react("U0BOB", "eyes", card());
    EXPECT_TRUE(d().runs.started.empty());
    EXPECT_EQ(h.chat.updates().size(), updates);
    EXPECT_EQ(replies_to(h, "U0BOB"), "");
    const auto trail = audit_trail(h, "R1");
    EXPECT_THAT(trail, HasSubstr("reaction U0BOB reaction=eyes added=true rule=other_reaction"));
    EXPECT_THAT(trail, Not(HasSubstr("reaction=white_check_mark")));
    // The same emoji with a skin tone is the approve reaction.
    d().react("U0BOB", "white_check_mark::skin-tone-3", card());
    EXPECT_EQ(d().runs.started.size(), 1U);
}

TEST_F(ApprovalDeskReaction, ApproverRejectionClosesReleasesTheLockAndNeverRuns) {
    d().request("db -1");
    d().react("U0DAVE", "x", card());
    EXPECT_THAT(h.chat.text_of(card()), HasSubstr("❌ *Rejected* by <@U0DAVE>"));
    EXPECT_TRUE(d().desk.open().empty());
    EXPECT_EQ(d().holder_of("db"), "");
    EXPECT_EQ(stored_approval(h, "R1").approval.state, ApprovalState::Rejected);
    EXPECT_EQ(h.counter("rollbot_approvals_total", {"rejected"}), 1);
    d().react("U0BOB", kApprove, card());
    EXPECT_TRUE(d().runs.started.empty());
    EXPECT_THAT(h.chat.text_of(card()), HasSubstr("Rejected"));
}

TEST_F(ApprovalDeskReaction, RemovingAnApprovalBeforeExecutionWithdrawsIt) {
    require(2);
    d().request("db -1");
    d().react("U0BOB", kApprove, card());
    EXPECT_THAT(h.chat.text_of(card()), HasSubstr("approved by <@U0BOB>"));
    d().react("U0BOB", kApprove, card(), false);
    EXPECT_THAT(h.chat.text_of(card()), HasSubstr("<@U0BOB> withdrew their approval of R1"));
    EXPECT_THAT(h.chat.text_of(card()), HasSubstr("still needed: 2 more approvers"));
    EXPECT_TRUE(stored_approval(h, "R1").approval.approvals.empty());
    d().react("U0DAVE", kApprove, card());
    EXPECT_TRUE(d().runs.started.empty());
    d().react("U0BOB", kApprove, card());
    EXPECT_EQ(d().runs.started.size(), 1U);
}

TEST_F(ApprovalDeskReaction, TheSameSlackEventTwiceCountsOnce) {
    require(2);
    d().request("db -1");
    d().react("U0BOB", kApprove, card(), true, "Ev01");
    d().react("U0BOB", kApprove, card(), false, "Ev02");
    d().react("U0BOB", kApprove, card(), true, "Ev01");  // Slack delivers the add again
    EXPECT_THAT(h.chat.text_of(card()), HasSubstr("still needed: 2 more approvers"));
    d().react("U0DAVE", kApprove, card(), true, "Ev03");
    EXPECT_TRUE(d().runs.started.empty());
    EXPECT_THAT(h.chat.text_of(card()), HasSubstr("still needed: 1 more approver"));
}

TEST_F(ApprovalDeskReaction, UserLookupFailureCountsNothingAndIsAudited) {
    d().request("db -1");
    const auto updates = h.chat.updates().size();
    h.chat.fail_user_info("U0BOB");
    d().react("U0BOB", kApprove, card());
    EXPECT_TRUE(d().runs.started.empty());
    EXPECT_TRUE(d().is_open("R1"));
    EXPECT_EQ(h.chat.updates().size(), updates);
    EXPECT_TRUE(stored_approval(h, "R1").approval.approvals.empty());
    EXPECT_THAT(audit_trail(h, "R1"),
                HasSubstr("reaction U0BOB reaction=white_check_mark added=true rule=lookup_failed "
                          "error=\"users.info: connection reset\""));
    d().react("U0BOB", kApprove, card());  // the directory answers again
    EXPECT_EQ(d().runs.started.size(), 1U);
}

TEST_F(ApprovalDeskReaction, TwoRequiredNeedTwoDistinctApprovers) {
    require(2);
    d().request("db -1");
    d().react("U0BOB", kApprove, card());
    EXPECT_THAT(h.chat.text_of(card()),
                HasSubstr("*Pending* · approved by <@U0BOB> · still needed: 1 more approver"));
    d().react("U0BOB", "white_check_mark::skin-tone-2", card());  // the same person again
    EXPECT_TRUE(d().runs.started.empty());
    EXPECT_TRUE(d().is_open("R1"));
    d().react("U0DAVE", kApprove, card());
    EXPECT_EQ(d().runs.started.size(), 1U);
    EXPECT_THAT(h.chat.text_of(card()), HasSubstr("approved by <@U0BOB>, <@U0DAVE>"));
}

}  // namespace
}  // namespace rollbot::test
