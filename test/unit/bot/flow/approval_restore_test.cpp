// The approval desk after a restart: approvals another daemon stored come back with their lock
// and expiry, a card never posted is posted, one approved before the restart runs, and one that
// can no longer be restored is cancelled in the store.
#include "test/unit/bot/flow/approval_desk_fixture.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace rollbot::test {
namespace {

using core::ApprovalState;
using core::StepKind;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

constexpr std::string_view kApprove = "white_check_mark";
constexpr std::string_view kStillWaiting = "rollbot restarted; this request is still waiting.";

/// What the daemon before the restart left in its store: Alice's `db -1` (R1), pending, its
/// card posted, at the harness's start time.
core::StoredApproval stored_before_restart() {
    FlowHarness before;
    DeskUnderTest desk(before);
    desk.request("db -1 --reason migration broke logins");
    auto open = before.sqlite->open_approvals();
    if (!open || open->size() != 1) {
        ADD_FAILURE() << "the daemon before the restart did not store one open approval";
        return {};
    }
    return open->front();
}

class ApprovalDeskRestore : public DeskTest {
protected:
    /// The store the restarted daemon opens holds `approval` (and has handed out its id).
    void stored(const core::StoredApproval& approval) {
        ASSERT_TRUE(h.sqlite->save_approval(approval));
        ASSERT_TRUE(h.sqlite->next_request_id());
    }
    static core::StoredApproval approved_by_bob(core::StoredApproval a) {
        a.approval.state = ApprovalState::Approved;
        a.approval.approvals[core::UserId{"U0BOB"}] = {std::string(kApprove)};
        a.approval.approver_groups[core::UserId{"U0BOB"}] = {core::UsergroupId{"S0DBA"}};
        return a;
    }
};

TEST_F(ApprovalDeskRestore, PendingApprovalComesBackWithItsLockAndItsExpiry) {
    const auto before = stored_before_restart();
    ASSERT_TRUE(before.approval.card);
    stored(before);
    h.advance(5min);  // the restart took five minutes
    EXPECT_EQ(d().restore(), 1U);
    EXPECT_TRUE(d().is_open("R1"));
    EXPECT_EQ(d().holder_of("db"), "R1");
    const auto card_ts = before.approval.card->ts;
    EXPECT_THAT(h.chat.text_of(card_ts), HasSubstr(kStillWaiting));
    EXPECT_THAT(h.chat.text_of(card_ts), HasSubstr("expires 01:15:00 UTC"));
    EXPECT_EQ(h.chat.count_posts("Approval needed"), 0U);  // the old card is still the card

    EXPECT_EQ(d().request("db -2", "U0CAROL"), core::CommandOutcome::Busy);
    EXPECT_THAT(replies_to(h, "U0CAROL"), HasSubstr("db is busy: R1 (DB downgrade -1)"));

    h.advance(10min - 1ms);
    EXPECT_TRUE(d().is_open("R1"));
    h.advance(1ms);
    EXPECT_FALSE(d().is_open("R1"));
    EXPECT_THAT(h.chat.text_of(card_ts), HasSubstr("*Expired*"));
    EXPECT_EQ(d().holder_of("db"), "");
    EXPECT_EQ(stored_approval(h, "R1").approval.state, ApprovalState::Expired);
}

TEST_F(ApprovalDeskRestore, RestoredCardTakesReactionsAndRunsOnApproval) {
    stored(stored_before_restart());
    d().restore();
    d().react("U0BOB", kApprove, stored_approval(h, "R1").approval.card->ts);
    ASSERT_EQ(d().runs.started.size(), 1U);
    EXPECT_EQ(d().runs.started.front().reason, "migration broke logins");
    EXPECT_EQ(d().runs.started.front().requester.value, "U0ALICE");
}

TEST_F(ApprovalDeskRestore, ApprovalThatExpiredDuringTheRestartExpiresAtOnce) {
    const auto before = stored_before_restart();
    stored(before);
    h.advance(20min);
    d().restore();
    EXPECT_FALSE(d().is_open("R1"));
    EXPECT_THAT(h.chat.text_of(before.approval.card->ts), HasSubstr("*Expired*"));
    EXPECT_EQ(d().holder_of("db"), "");
    EXPECT_EQ(h.counter("rollbot_approvals_total", {"expired"}), 1);
}

TEST_F(ApprovalDeskRestore, CardThatWasNeverPostedIsPostedNow) {
    auto before = stored_before_restart();
    before.approval.card.reset();  // the daemon died between saving and posting
    stored(before);
    d().restore();
    ASSERT_EQ(h.chat.count_posts("Approval needed"), 1U);
    const auto posted = h.post("Approval needed");
    EXPECT_EQ(posted.message.channel.value, FlowHarness::kChannel);
    EXPECT_THAT(posted.message.text, HasSubstr("alembic downgrade -1"));
    EXPECT_THAT(posted.message.text, HasSubstr(kStillWaiting));
    EXPECT_EQ(stored_approval(h, "R1").approval.card,
              (core::MessageRef{posted.message.channel, posted.ts}));
    d().react("U0BOB", kApprove, posted.ts);
    EXPECT_EQ(d().runs.started.size(), 1U);
}

TEST_F(ApprovalDeskRestore, ApprovedBeforeTheRestartRunsOnce) {
    stored(approved_by_bob(stored_before_restart()));
    d().restore();
    ASSERT_EQ(d().runs.started.size(), 1U);
    const auto& run = d().runs.started.front();
    EXPECT_EQ(run.id.value, "R1");
    EXPECT_EQ(run.requester.value, "U0ALICE");
    EXPECT_EQ(run.reason, "migration broke logins");
    EXPECT_EQ(run.received_at, ManualClock::kDefaultStart);
    EXPECT_EQ(stored_approval(h, "R1").approval.state, ApprovalState::Executing);
    EXPECT_EQ(h.counter("rollbot_approvals_total", {"approved"}), 1);
    EXPECT_EQ(d().holder_of("db"), "R1");
    EXPECT_FALSE(d().is_open("R1"));
}

TEST_F(ApprovalDeskRestore, ApprovalWhoseCommandHasNoPolicyAnyMoreIsCancelled) {
    stored(stored_before_restart());
    h.settings.approvals.erase(core::ActionKind::Db);
    EXPECT_EQ(d().restore(), 0U);
    EXPECT_FALSE(d().is_open("R1"));
    EXPECT_EQ(d().holder_of("db"), "");
    EXPECT_EQ(stored_approval(h, "R1").approval.state, ApprovalState::Cancelled);
    EXPECT_THAT(audit_trail(h, "R1"), HasSubstr("state=cancelled why=\"not restorable"));
    EXPECT_TRUE(d().runs.started.empty());
}

TEST_F(ApprovalDeskRestore, StoreThatCannotListApprovalsGivesNullopt) {
    stored(stored_before_restart());
    h.store.fail("open_approvals");
    EXPECT_EQ(d().restore(), std::nullopt);
    EXPECT_TRUE(d().desk.open().empty());
    EXPECT_TRUE(d().locks.held().empty());
    EXPECT_TRUE(h.chat.posts().empty());
    EXPECT_TRUE(h.chat.updates().empty());
}

// Through the coordinator, as rollbotd starts: the restored card's approval runs the downgrade.
TEST(ApprovalDeskThroughCoordinator, RestoredApprovalRunsTheDowngradeWhenADbaApproves) {
    FlowHarness h;
    const auto before = stored_before_restart();
    ASSERT_TRUE(h.sqlite->save_approval(before));
    ASSERT_TRUE(h.sqlite->next_request_id());
    h.spawn(h.coordinator().restore(), "restore");
    EXPECT_EQ(h.coordinator().pending_approvals(), 1U);
    h.command("db -2", "U0CAROL");
    EXPECT_THAT(h.chat.all_replies(), HasSubstr("db is busy: R1"));
    EXPECT_EQ(h.runbook.ran(StepKind::AlembicDowngrade), 0U);
    h.react("U0DAVE", kApprove, before.approval.card->ts);
    EXPECT_EQ(h.runbook.ran(StepKind::AlembicDowngrade), 1U);
    EXPECT_EQ(h.chat.count_posts("ROLLBACK EXECUTED"), 1U);
    EXPECT_EQ(h.coordinator().pending_approvals(), 0U);
    EXPECT_THAT(h.logs(), Not(HasSubstr("task.failed")));
}

}  // namespace
}  // namespace rollbot::test
