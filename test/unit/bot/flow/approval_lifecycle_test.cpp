// The approval desk over time: expiry on the manual clock, `/rollback cancel`, the plan checked
// again just before an approved request runs, and an approving transition that cannot be saved.
#include "test/unit/bot/flow/approval_desk_fixture.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace rollbot::test {
namespace {

using core::ApprovalState;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

constexpr std::string_view kApprove = "white_check_mark";

/// The database one revision further on than the harness's: the plan of `db -1` changes.
core::DatabaseState migrated_database() {
    core::DatabaseState db;
    db.revision = "4b5c6d7e8f90";
    db.target = "3f2a1b4c5d6e";
    db.downgrades = {"4b5c6d7e8f90 -> 3f2a1b4c5d6e"};
    db.sql = "ALTER TABLE students DROP COLUMN guardian;";
    return db;
}

// --- expiry ----------------------------------------------------------------------------------

class ApprovalDeskExpiry : public DeskTest {};

TEST_F(ApprovalDeskExpiry, ExpiresExactlyAtTheTimeoutAndNotBefore) {
    d().request("db -1");
    const auto the_card = card();
    h.advance(15min - 1ms);
    EXPECT_TRUE(d().is_open("R1"));
    EXPECT_THAT(h.chat.text_of(the_card), HasSubstr("*Pending*"));
    h.advance(1ms);
    EXPECT_FALSE(d().is_open("R1"));
    const auto text = h.chat.text_of(the_card);
    EXPECT_THAT(text, HasSubstr("⌛ *Expired*"));
    EXPECT_THAT(text, HasSubstr("R1 expired: it was not approved within 15 min."));
    EXPECT_EQ(d().holder_of("db"), "");
    EXPECT_EQ(stored_approval(h, "R1").approval.state, ApprovalState::Expired);
    EXPECT_EQ(h.counter("rollbot_approvals_total", {"expired"}), 1);
    d().react("U0BOB", kApprove, the_card);
    EXPECT_TRUE(d().runs.started.empty());
    EXPECT_EQ(h.chat.text_of(the_card), text);
}

TEST_F(ApprovalDeskExpiry, TimeoutZeroNeverExpires) {
    h.settings.approvals[core::ActionKind::Db].timeout = core::Duration::zero();
    d().request("db -1");
    EXPECT_THAT(h.chat.text_of(card()), Not(HasSubstr("expires")));
    h.advance(48h);
    EXPECT_TRUE(d().is_open("R1"));
    EXPECT_EQ(d().holder_of("db"), "R1");
    d().react("U0BOB", kApprove, card());
    EXPECT_EQ(d().runs.started.size(), 1U);
}

// --- cancel ----------------------------------------------------------------------------------

class ApprovalDeskCancel : public DeskTest {};

TEST_F(ApprovalDeskCancel, RequesterWithoutAnIdCancelsTheirNewestRequest) {
    h.settings.approvals[core::ActionKind::Backend] = h.settings.approvals[core::ActionKind::Db];
    d().request("db -1");
    h.advance(1min);
    d().request("backend");
    ASSERT_EQ(h.chat.posts().size(), 2U);
    const auto db_card = h.chat.posts()[0].ts;
    const auto backend_card = h.chat.posts()[1].ts;
    d().cancel("U0ALICE");
    EXPECT_THAT(replies_to(h, "U0ALICE"), HasSubstr("R2 is cancelled. Nothing ran."));
    EXPECT_THAT(h.chat.text_of(backend_card), HasSubstr("🚫 *Cancelled* by <@U0ALICE>"));
    EXPECT_THAT(h.chat.text_of(db_card), HasSubstr("*Pending*"));
    EXPECT_FALSE(d().is_open("R2"));
    EXPECT_TRUE(d().is_open("R1"));
    EXPECT_EQ(d().holder_of("backend"), "");
    EXPECT_EQ(d().holder_of("db"), "R1");
    EXPECT_EQ(stored_approval(h, "R2").approval.state, ApprovalState::Cancelled);
    EXPECT_EQ(h.counter("rollbot_approvals_total", {"cancelled"}), 1);
    d().react("U0BOB", kApprove, backend_card);
    EXPECT_TRUE(d().runs.started.empty());
}

TEST_F(ApprovalDeskCancel, ApproverCancelsById) {
    d().request("db -1");
    d().cancel("U0BOB", "R1");
    EXPECT_THAT(replies_to(h, "U0BOB"), HasSubstr("R1 is cancelled. Nothing ran."));
    EXPECT_THAT(h.chat.text_of(card()), HasSubstr("*Cancelled* by <@U0BOB>"));
    EXPECT_FALSE(d().is_open("R1"));
    EXPECT_EQ(d().holder_of("db"), "");
    d().react("U0DAVE", kApprove, card());
    EXPECT_TRUE(d().runs.started.empty());
}

TEST_F(ApprovalDeskCancel, SomeoneElseCannotCancel) {
    d().request("db -1");
    d().cancel("U0CAROL", "R1");
    // The mentions work: Slack shows "&lt;@U0CAROL&gt;" as text, not as a name.
    EXPECT_EQ(replies_to(h, "U0CAROL"),
              "🚫 <@U0CAROL> cannot cancel R1: only the requester <@U0ALICE> or an approver can. "
              "R1 is still waiting for approval.\n");
    EXPECT_TRUE(d().is_open("R1"));
    EXPECT_EQ(d().holder_of("db"), "R1");
    EXPECT_THAT(h.chat.text_of(card()), HasSubstr("*Pending*"));
    EXPECT_THAT(audit_trail(h, "R1"), HasSubstr("cancel U0CAROL rule=not_allowed_to_cancel"));
    d().react("U0BOB", kApprove, card());
    EXPECT_EQ(d().runs.started.size(), 1U);
}

TEST_F(ApprovalDeskCancel, UnknownIdOrNoOwnRequestIsRefused) {
    d().request("db -1");
    d().cancel("U0ALICE", "R9");
    EXPECT_THAT(replies_to(h, "U0ALICE"), HasSubstr("R9 has no open approval to cancel"));
    d().cancel("U0CAROL");
    EXPECT_THAT(replies_to(h, "U0CAROL"), HasSubstr("you have no request waiting for approval"));
    EXPECT_TRUE(d().is_open("R1"));
    EXPECT_THAT(h.chat.text_of(card()), HasSubstr("*Pending*"));
}

// --- time-of-check ---------------------------------------------------------------------------

class ApprovalDeskTimeOfCheck : public DeskTest {};

TEST_F(ApprovalDeskTimeOfCheck, ChangedPlanRunsNothingAndANewCardAsksAgain) {
    d().request("db -1");
    const auto old_card = card();
    const std::string old_plan = stored_approval(h, "R1").approval.plan_id;
    h.runbook.set_database(migrated_database());
    d().react("U0BOB", kApprove, old_card);
    EXPECT_TRUE(d().runs.started.empty());
    const auto old_text = h.chat.text_of(old_card);
    EXPECT_THAT(old_text, HasSubstr("*Superseded*"));
    EXPECT_THAT(old_text, HasSubstr("the plan changed between approval and execution"));
    EXPECT_THAT(old_text, HasSubstr("a new card asks again"));
    ASSERT_EQ(h.chat.count_posts("Approval needed"), 2U);
    const auto new_card = card();
    EXPECT_NE(new_card, old_card);
    const auto new_text = h.chat.text_of(new_card);
    EXPECT_THAT(new_text, HasSubstr("now at `4b5c6d7e8f90`"));
    EXPECT_THAT(new_text, HasSubstr("⏳ *Pending* · still needed: 1 more approver"));
    const auto stored = stored_approval(h, "R1");
    EXPECT_NE(stored.approval.plan_id, old_plan);
    EXPECT_EQ(stored.approval.state, ApprovalState::Pending);
    EXPECT_TRUE(d().is_open("R1"));
    EXPECT_EQ(d().holder_of("db"), "R1");

    d().react("U0DAVE", kApprove, old_card);  // the old card no longer counts
    EXPECT_TRUE(d().runs.started.empty());
    d().react("U0DAVE", kApprove, new_card);
    ASSERT_EQ(d().runs.started.size(), 1U);
    const auto& run = d().runs.started.front();
    EXPECT_EQ(run.plan.id, stored.approval.plan_id);
    ASSERT_TRUE(run.plan.before.database);
    EXPECT_EQ(run.plan.before.database->revision, "4b5c6d7e8f90");
}

TEST_F(ApprovalDeskTimeOfCheck, TheNewCardHasItsOwnExpiry) {
    d().request("db -1");
    h.runbook.set_database(migrated_database());
    h.advance(5min);
    d().react("U0BOB", kApprove, card());
    const auto new_card = card();
    EXPECT_THAT(h.chat.text_of(new_card), HasSubstr("expires 01:20:00 UTC"));
    h.advance(10min);  // the first card's deadline
    EXPECT_TRUE(d().is_open("R1"));
    h.advance(5min - 1ms);
    EXPECT_TRUE(d().is_open("R1"));
    h.advance(1ms);
    EXPECT_FALSE(d().is_open("R1"));
    EXPECT_THAT(h.chat.text_of(new_card), HasSubstr("*Expired*"));
}

TEST_F(ApprovalDeskTimeOfCheck, NewCardThatCannotBePostedIsSaidOnTheOldCard) {
    d().request("db -1");
    const auto old_card = card();
    h.runbook.set_database(migrated_database());
    h.chat.fail_posts(1);
    d().react("U0BOB", kApprove, old_card);
    EXPECT_TRUE(d().runs.started.empty());
    EXPECT_EQ(h.chat.count_posts("Approval needed"), 1U);
    const auto text = h.chat.text_of(old_card);
    EXPECT_THAT(text, HasSubstr("rollbot could not post the new card: 503"));
    EXPECT_THAT(text, HasSubstr("ask again with /rollback"));
    EXPECT_THAT(text, Not(HasSubstr("a new card asks again")));  // no new card is coming
    EXPECT_THAT(text, HasSubstr("now at `3f2a1b4c5d6e`"));       // still the plan it showed
    EXPECT_FALSE(d().is_open("R1"));
    EXPECT_EQ(d().holder_of("db"), "");
    EXPECT_EQ(stored_approval(h, "R1").approval.state, ApprovalState::Superseded);
    EXPECT_EQ(h.counter("rollbot_approvals_total", {"superseded"}), 1);
    EXPECT_EQ(h.counter("rollbot_approvals_total", {"pending"}), 0);
    EXPECT_THAT(audit_trail(h, "R1"), HasSubstr("state=superseded why=\"new card not posted: 503"));
}

TEST_F(ApprovalDeskTimeOfCheck, PlanUnreadableAtTheCheckClosesWithoutRunning) {
    d().request("db -1");
    h.runbook.set_database(std::nullopt);
    d().react("U0BOB", kApprove, card());
    EXPECT_TRUE(d().runs.started.empty());
    const auto text = h.chat.text_of(card());
    EXPECT_THAT(text, HasSubstr("rollbot could not check the plan again before running it"));
    EXPECT_THAT(text, HasSubstr("Nothing ran."));
    EXPECT_EQ(h.chat.count_posts("Approval needed"), 1U);
    EXPECT_FALSE(d().is_open("R1"));
    EXPECT_EQ(d().holder_of("db"), "");
    EXPECT_EQ(stored_approval(h, "R1").approval.state, ApprovalState::Superseded);
    EXPECT_EQ(h.counter("rollbot_approvals_total", {"superseded"}), 1);
}

TEST_F(ApprovalDeskTimeOfCheck, ApprovalThatCannotBeSavedDoesNotRun) {
    d().request("db -1");
    h.store.fail("save_approval");
    d().react("U0BOB", kApprove, card());
    EXPECT_TRUE(d().runs.started.empty());
    EXPECT_THAT(h.chat.text_of(card()),
                HasSubstr("rollbot could not record the approval, so it did not run: "
                          "state.save_approval: disk I/O error"));
    EXPECT_FALSE(d().is_open("R1"));
    EXPECT_EQ(d().holder_of("db"), "");
    EXPECT_GE(h.counter("rollbot_state_write_errors_total", {"approval"}), 1);
    EXPECT_EQ(h.counter("rollbot_approvals_total", {"approved"}), 0);
}

}  // namespace
}  // namespace rollbot::test
