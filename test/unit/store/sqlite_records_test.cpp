// SqliteStore: approvals, runs and steps, the outbox, de-duplication keys. Each record kind
// round-trips, keeps its order, and survives closing and reopening the file.

#include "bot/ports/state_store.hpp"
#include "bot/store/sqlite_store.hpp"
#include "test/support/temp_dir.hpp"
#include "test/unit/store/store_test_util.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rollbot::store {
namespace {

using core::ApprovalState;
using core::ChannelId;
using core::MessageTs;
using core::RequestId;
using core::UsergroupId;
using core::UserId;
using testing::at_ms;
using testing::open_store;
using testing::RawDb;

core::StoredApproval approval(const std::string& id, ApprovalState state, std::int64_t created) {
    core::StoredApproval a;
    a.request = core::StoredRequest{RequestId{id},
                                    UserId{"U0ALICE"},
                                    ChannelId{"C0INCIDENTS"},
                                    "db -2 --reason \"bad migration\"",
                                    at_ms(created)};
    auto& s = a.approval;
    s.id = RequestId{id};
    s.kind = core::ActionKind::Db;
    s.requester = UserId{"U0ALICE"};
    s.plan_id = "plan:abc123->def456";
    s.state = state;
    s.created = at_ms(created);
    s.expires_at = at_ms(created + 15 * 60 * 1000);
    a.card_text = "*Downgrade* `abc123` → `def456`";
    return a;
}

// Every optional part set; maps with a user in both, a user with no groups, groups unsorted.
core::StoredApproval full_approval() {
    auto a = approval("R7", ApprovalState::Rejected, 100);
    auto& s = a.approval;
    s.kind = core::ActionKind::Sha;
    s.card = core::MessageRef{ChannelId{"C0INCIDENTS"}, MessageTs{"1700000000.000100"}};
    s.approvals[UserId{"U0BOB"}] = {"white_check_mark", "white_check_mark::skin-tone-2"};
    s.approvals[UserId{"U0CAROL"}] = {"+1"};
    s.approver_groups[UserId{"U0BOB"}] = {UsergroupId{"S0LEADS"}, UsergroupId{"S0DBA"}};
    s.approver_groups[UserId{"U0CAROL"}] = {};
    s.decided_by = UserId{"U0DAVE"};
    return a;
}

TEST(SqliteStoreApprovals, RoundTripsEveryField) {
    auto store = SqliteStore::open(":memory:").value();
    const auto a = full_approval();
    ASSERT_TRUE(store->save_approval(a));
    auto found = store->find_approval(RequestId{"R7"});
    ASSERT_TRUE(found) << found.error().message;
    ASSERT_TRUE(found->has_value());
    EXPECT_EQ(**found, a);
    EXPECT_EQ((**found).approval.approver_groups.at(UserId{"U0BOB"}).front(),
              UsergroupId{"S0LEADS"})
        << "group order is kept";
    EXPECT_FALSE(store->find_approval(RequestId{"R8"}).value().has_value());
}

TEST(SqliteStoreApprovals, EachSaveReplacesTheWholeSnapshot) {
    auto store = SqliteStore::open(":memory:").value();
    auto a = full_approval();
    a.approval.state = ApprovalState::Approved;
    ASSERT_TRUE(store->save_approval(a));
    // Bob withdraws one of his two reactions, Carol leaves, the card moves.
    a.approval.approvals.erase(UserId{"U0CAROL"});
    a.approval.approver_groups.erase(UserId{"U0CAROL"});
    a.approval.approvals[UserId{"U0BOB"}] = {"white_check_mark"};
    a.approval.state = ApprovalState::Pending;
    a.approval.card.reset();
    a.approval.decided_by.reset();
    a.card_text = "new plan";
    ASSERT_TRUE(store->save_approval(a));
    EXPECT_EQ(store->find_approval(RequestId{"R7"}).value(), a);
}

TEST(SqliteStoreApprovals, OpenApprovalsArePendingOrApprovedOldestFirst) {
    auto store = SqliteStore::open(":memory:").value();
    ASSERT_TRUE(store->save_approval(approval("R1", ApprovalState::Approved, 300)));
    ASSERT_TRUE(store->save_approval(approval("R2", ApprovalState::Expired, 100)));
    ASSERT_TRUE(store->save_approval(approval("R3", ApprovalState::Pending, 200)));
    ASSERT_TRUE(store->save_approval(approval("R4", ApprovalState::Executing, 50)));
    ASSERT_TRUE(store->save_approval(approval("R5", ApprovalState::Pending, 10)));
    auto open = store->open_approvals();
    ASSERT_TRUE(open);
    std::vector<std::string> ids;
    for (const auto& a : *open) {
        ids.push_back(a.request.id.str());
    }
    EXPECT_EQ(ids, (std::vector<std::string>{"R5", "R3", "R1"}));
}

TEST(SqliteStoreApprovals, SurviveReopenAndStoreTheStateByName) {
    test::TempDir dir;
    const auto path = dir.file("state.db");
    const auto a = full_approval();
    {
        auto store = open_store(path);
        ASSERT_TRUE(store);
        ASSERT_TRUE(store->save_approval(approval("R1", ApprovalState::Pending, 0)));
        ASSERT_TRUE(store->save_approval(a));
    }
    auto store = open_store(path);
    ASSERT_TRUE(store);
    EXPECT_EQ(store->find_approval(RequestId{"R7"}).value(), a);
    ASSERT_EQ(store->open_approvals().value().size(), 1U);
    RawDb raw(path);
    EXPECT_EQ(raw.query("SELECT state FROM approvals WHERE request_id = 'R7'"), "rejected");
    EXPECT_EQ(raw.query("SELECT created_ms FROM approvals WHERE request_id = 'R7'"),
              "1700000000100");
}

TEST(SqliteStoreApprovals, RefusesAnApprovalFiledUnderAnotherRequest) {
    auto store = SqliteStore::open(":memory:").value();
    auto a = approval("R1", ApprovalState::Pending, 0);
    a.approval.id = RequestId{"R2"};
    auto r = store->save_approval(a);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, core::ErrorKind::Invalid);
    EXPECT_THAT(r.error().message, ::testing::StartsWith("state.save_approval: "));
    EXPECT_TRUE(store->open_approvals().value().empty());
}

core::StoredRun run(const std::string& id, std::int64_t started) {
    core::StoredRun r;
    r.id = RequestId{id};
    r.requester = UserId{"U0ALICE"};
    r.what = "backend rollback to abc1234";
    r.state = core::RunState::Running;
    r.started = at_ms(started);
    return r;
}

core::StoredStep step(int n, std::optional<int> exit_code) {
    return core::StoredStep{n,
                            "kubectl rollout undo deployment/backend -n preskool",
                            exit_code ? core::StepOutcome::Succeeded : core::StepOutcome::TimedOut,
                            exit_code,
                            std::chrono::milliseconds{1234 * n},
                            std::string(64, 'a')};
}

TEST(SqliteStoreRuns, RoundTripWithStepsAndFinish) {
    auto store = SqliteStore::open(":memory:").value();
    auto r = run("R1", 0);
    r.card = core::MessageRef{ChannelId{"C0INCIDENTS"}, MessageTs{"1700000000.000200"}};
    ASSERT_TRUE(store->run_started(r));
    ASSERT_TRUE(store->step_finished(RequestId{"R1"}, step(1, 0)));
    ASSERT_TRUE(store->step_finished(RequestId{"R1"}, step(2, std::nullopt)));
    ASSERT_TRUE(store->run_finished(RequestId{"R1"}, core::RunState::Failed, at_ms(5000)));
    r.steps = {step(1, 0), step(2, std::nullopt)};
    r.state = core::RunState::Failed;
    r.finished = at_ms(5000);
    auto found = store->find_run(RequestId{"R1"});
    ASSERT_TRUE(found) << found.error().message;
    EXPECT_EQ(found->value(), r);
    EXPECT_FALSE(store->find_run(RequestId{"R9"}).value().has_value());
}

// States and outcomes are stored by name, so state files written before they were typed read the
// same; a name rollbot never writes is an error that names it, not a guess.
TEST(SqliteStoreRuns, StatesAndOutcomesAreStoredByNameAndUnknownNamesAreErrors) {
    test::TempDir dir;
    const auto path = dir.file("state.db");
    auto store = open_store(path);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->run_started(run("R1", 0)));
    ASSERT_TRUE(store->step_finished(RequestId{"R1"}, step(1, std::nullopt)));
    ASSERT_TRUE(store->run_finished(RequestId{"R1"}, core::RunState::NoChange, at_ms(9)));
    RawDb raw(path);
    EXPECT_EQ(raw.query("SELECT state FROM runs WHERE request_id = 'R1'"), "no change");
    EXPECT_EQ(raw.query("SELECT outcome FROM steps WHERE request_id = 'R1'"), "timed out");
    EXPECT_EQ(raw.exec("UPDATE runs SET state = 'dry run' WHERE request_id = 'R1'"), "");
    EXPECT_EQ(store->find_run(RequestId{"R1"}).value()->state, core::RunState::DryRun);
    EXPECT_EQ(raw.exec("UPDATE steps SET outcome = 'exploded' WHERE request_id = 'R1'"), "");
    auto bad_step = store->find_run(RequestId{"R1"});
    ASSERT_FALSE(bad_step);
    EXPECT_EQ(bad_step.error().kind, core::ErrorKind::Storage);
    EXPECT_THAT(bad_step.error().message,
                ::testing::HasSubstr("unknown step outcome \"exploded\""));
    EXPECT_EQ(raw.exec("UPDATE steps SET outcome = 'no change' WHERE request_id = 'R1'"), "");
    EXPECT_EQ(raw.exec("UPDATE runs SET state = 'paused' WHERE request_id = 'R1'"), "");
    auto bad_run = store->recent_runs(5);
    ASSERT_FALSE(bad_run);
    EXPECT_THAT(bad_run.error().message, ::testing::HasSubstr("unknown run state \"paused\""));
}

TEST(SqliteStoreRuns, UnknownRunsAndDuplicatesAreErrors) {
    auto store = SqliteStore::open(":memory:").value();
    auto step_err = store->step_finished(RequestId{"R1"}, step(1, 0));
    ASSERT_FALSE(step_err);
    EXPECT_EQ(step_err.error().kind, core::ErrorKind::NotFound);
    EXPECT_EQ(step_err.error().message, "state.step_finished: no run of request R1");
    auto finish_err = store->run_finished(RequestId{"R1"}, core::RunState::Succeeded, at_ms(1));
    ASSERT_FALSE(finish_err);
    EXPECT_EQ(finish_err.error().kind, core::ErrorKind::NotFound);
    ASSERT_TRUE(store->run_started(run("R1", 0)));
    auto again = store->run_started(run("R1", 0));
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().kind, core::ErrorKind::Conflict);
    EXPECT_THAT(again.error().message, ::testing::StartsWith("state.run_started: "));
    ASSERT_TRUE(store->step_finished(RequestId{"R1"}, step(1, 0)));
    EXPECT_FALSE(store->step_finished(RequestId{"R1"}, step(1, 0))) << "step 1 is recorded";
}

TEST(SqliteStoreRuns, InterruptRunningMarksOnlyRunningRunsAcrossReopen) {
    test::TempDir dir;
    const auto path = dir.file("state.db");
    {
        auto store = open_store(path);
        ASSERT_TRUE(store);
        ASSERT_TRUE(store->run_started(run("R1", 0)));
        ASSERT_TRUE(store->step_finished(RequestId{"R1"}, step(1, 0)));
        ASSERT_TRUE(store->run_started(run("R2", 10)));
        ASSERT_TRUE(store->run_finished(RequestId{"R2"}, core::RunState::Succeeded, at_ms(20)));
        ASSERT_TRUE(store->run_started(run("R3", 30)));
    }  // the daemon dies with R1 and R3 running
    auto store = open_store(path);
    ASSERT_TRUE(store);
    auto interrupted = store->interrupt_running(at_ms(99));
    ASSERT_TRUE(interrupted) << interrupted.error().message;
    ASSERT_EQ(interrupted->size(), 2U);
    auto r1 = run("R1", 0);
    r1.state = core::RunState::Interrupted;
    r1.finished = at_ms(99);
    r1.steps = {step(1, 0)};
    EXPECT_EQ((*interrupted)[0], r1);
    EXPECT_EQ((*interrupted)[1].id, RequestId{"R3"});
    EXPECT_EQ(store->find_run(RequestId{"R1"}).value(), r1);
    EXPECT_EQ(store->find_run(RequestId{"R2"}).value()->state, core::RunState::Succeeded);
    EXPECT_EQ(store->find_run(RequestId{"R2"}).value()->finished, at_ms(20));
    EXPECT_TRUE(store->interrupt_running(at_ms(100)).value().empty()) << "only once";
}

TEST(SqliteStoreRuns, RecentRunsAreNewestFirstAndLimited) {
    auto store = SqliteStore::open(":memory:").value();
    for (int i : {3, 1, 4, 0, 2}) {
        ASSERT_TRUE(store->run_started(run("R" + std::to_string(i), i * 1000)));
    }
    ASSERT_TRUE(store->step_finished(RequestId{"R4"}, step(1, 0)));
    auto recent = store->recent_runs(3);
    ASSERT_TRUE(recent);
    std::vector<std::string> ids;
    for (const auto& r : *recent) {
        ids.push_back(r.id.str());
    }
    EXPECT_EQ(ids, (std::vector<std::string>{"R4", "R3", "R2"}));
    EXPECT_EQ(recent->front().steps.size(), 1U);
    EXPECT_EQ(store->recent_runs(10).value().size(), 5U);
    EXPECT_TRUE(store->recent_runs(0).value().empty());
}

core::OutboxEntry post(const std::string& text) {
    core::OutboxEntry e;
    e.channel = ChannelId{"C0INCIDENTS"};
    e.text = text;
    e.key = "R1/" + text;
    return e;
}

TEST(SqliteStoreOutbox, AssignsSeqAndReturnsPendingInOrder) {
    auto store = SqliteStore::open(":memory:").value();
    auto card = post("card");
    card.seq = 77;  // ignored: the store assigns
    auto first = store->outbox_add(card);
    ASSERT_TRUE(first);
    auto reply = post("progress");
    reply.thread_seq = *first;
    reply.thread_ts = MessageTs{"1700000000.000300"};
    auto update = post("card v2");
    update.kind = core::OutboxEntry::Kind::Update;
    update.target_seq = *first;
    update.target_ts = MessageTs{"1700000000.000400"};
    auto second = store->outbox_add(reply);
    auto third = store->outbox_add(update);
    ASSERT_TRUE(second && third);
    EXPECT_LT(*first, *second);
    EXPECT_LT(*second, *third);
    auto pending = store->outbox_pending();
    ASSERT_TRUE(pending);
    card.seq = *first;
    reply.seq = *second;
    update.seq = *third;
    EXPECT_EQ(*pending, (std::vector<core::OutboxEntry>{card, reply, update}));
}

TEST(SqliteStoreOutbox, DeliveryAndFailuresAreRecorded) {
    auto store = SqliteStore::open(":memory:").value();
    const auto a = store->outbox_add(post("a")).value();
    const auto b = store->outbox_add(post("b")).value();
    ASSERT_TRUE(store->outbox_failed(a));
    ASSERT_TRUE(store->outbox_failed(a));
    ASSERT_TRUE(store->outbox_failed(b));
    auto pending = store->outbox_pending().value();
    ASSERT_EQ(pending.size(), 2U);
    EXPECT_EQ(pending[0].attempts, 2);
    EXPECT_EQ(pending[1].attempts, 1);
    EXPECT_FALSE(store->outbox_ts(a).value().has_value());
    ASSERT_TRUE(store->outbox_delivered(a, MessageTs{"1700000000.000500"}));
    EXPECT_EQ(store->outbox_ts(a).value(), MessageTs{"1700000000.000500"});
    pending = store->outbox_pending().value();
    ASSERT_EQ(pending.size(), 1U);
    EXPECT_EQ(pending[0].seq, b);
    for (auto r : {store->outbox_failed(999), store->outbox_delivered(999, MessageTs{"1.2"})}) {
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().kind, core::ErrorKind::NotFound);
    }
    auto missing = store->outbox_ts(999);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().message, "state.outbox_ts: no outbox entry 999");
}

TEST(SqliteStoreOutbox, RefusesAThreadParentThatDoesNotExist) {
    auto store = SqliteStore::open(":memory:").value();
    auto orphan = post("orphan");
    orphan.thread_seq = 42;
    auto r = store->outbox_add(orphan);
    ASSERT_FALSE(r) << "foreign keys are enforced";
    EXPECT_THAT(r.error().message, ::testing::StartsWith("state.outbox_add: "));
    EXPECT_TRUE(store->outbox_pending().value().empty());
}

TEST(SqliteStoreOutbox, PendingSurvivesReopenAndSeqIsNeverReused) {
    test::TempDir dir;
    const auto path = dir.file("state.db");
    std::int64_t last = 0;
    {
        auto store = open_store(path);
        ASSERT_TRUE(store);
        const auto a = store->outbox_add(post("ROLLBACK EXECUTED")).value();
        last = store->outbox_add(post("summary")).value();
        ASSERT_TRUE(store->outbox_failed(a));
        ASSERT_TRUE(store->outbox_delivered(last, MessageTs{"1.5"}));
    }
    auto store = open_store(path);
    ASSERT_TRUE(store);
    auto pending = store->outbox_pending().value();
    ASSERT_EQ(pending.size(), 1U);
    EXPECT_EQ(pending[0].text, "ROLLBACK EXECUTED");
    EXPECT_EQ(pending[0].attempts, 1);
    EXPECT_EQ(store->outbox_ts(last).value(), MessageTs{"1.5"});
    EXPECT_GT(store->outbox_add(post("next")).value(), last);
}

TEST(SqliteStoreDedupe, FirstTimeWithinTheWindowAcrossReopen) {
    test::TempDir dir;
    const auto path = dir.file("state.db");
    const core::Duration window = std::chrono::minutes{10};
    {
        auto store = open_store(path);
        ASSERT_TRUE(store);
        EXPECT_TRUE(store->first_time("Ev1", at_ms(0), window).value());
        EXPECT_FALSE(store->first_time("Ev1", at_ms(1000), window).value());
        EXPECT_TRUE(store->first_time("Ev2", at_ms(1000), window).value());
    }
    auto store = open_store(path);
    ASSERT_TRUE(store);
    EXPECT_FALSE(store->first_time("Ev1", at_ms(2000), window).value()) << "remembered";
    EXPECT_FALSE(store->first_time("Ev1", at_ms(window.count()), window).value())
        << "exactly one window old is still within it";
    EXPECT_TRUE(store->first_time("Ev1", at_ms(window.count() + 1), window).value())
        << "older than the window: forgotten";
}

TEST(SqliteStoreDedupe, ExpiredKeysArePruned) {
    test::TempDir dir;
    const auto path = dir.file("state.db");
    auto store = open_store(path);
    ASSERT_TRUE(store);
    const core::Duration window = std::chrono::seconds{60};
    for (int i = 0; i < 50; ++i) {
        ASSERT_TRUE(store->first_time("old" + std::to_string(i), at_ms(i), window).value());
    }
    RawDb raw(path);
    EXPECT_EQ(raw.query("SELECT count(*) FROM dedupe"), "50");
    EXPECT_TRUE(store->first_time("new", at_ms(60'000 + 25), window).value());
    EXPECT_EQ(raw.query("SELECT count(*) FROM dedupe"), "26") << "keys 0..24 are older than 60s";
    EXPECT_EQ(raw.query("SELECT min(key) FROM dedupe WHERE key LIKE 'old%'"), "old25");
}

}  // namespace
}  // namespace rollbot::store
