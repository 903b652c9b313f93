// The StateStore contract, against SQLite and against PostgreSQL through the awaited port:
// every record kind round-trips, keeps its order and survives a restart; errors have the kinds
// the flow branches on; the audit chain is append-only in the database and verifies, and
// tampering behind the store's back is found.

#include "bot/store/audit_chain.hpp"
#include "test/unit/store/store_backends.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rollbot::store {
namespace {

using core::ApprovalState;
using core::ChannelId;
using core::ErrorKind;
using core::MessageTs;
using core::RequestId;
using core::UsergroupId;
using core::UserId;
using testing::at_ms;
using testing::Engine;
using ::testing::HasSubstr;
using ::testing::StartsWith;

core::StoredApproval approval(const std::string& id, ApprovalState state, std::int64_t created) {
    core::StoredApproval a;
    a.request = core::StoredRequest{
        RequestId{id}, UserId{"U0ALICE"}, ChannelId{"C0INCIDENTS"}, "db -2", at_ms(created)};
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

core::OutboxEntry post(const std::string& text) {
    core::OutboxEntry e;
    e.channel = ChannelId{"C0INCIDENTS"};
    e.text = text;
    e.key = "R1/" + text;
    return e;
}

class StateStoreContract : public ::testing::TestWithParam<Engine> {
protected:
    void SetUp() override { b_ = testing::make_backend(GetParam()); }

    core::StateStore& s() { return b_->store(); }
    template <class T>
    T await(boost::asio::awaitable<T> call) {
        return b_->await(std::move(call));
    }
    std::vector<std::string> ids(const std::vector<core::StoredApproval>& all) {
        std::vector<std::string> out;
        for (const auto& a : all) {
            out.push_back(a.request.id.str());
        }
        return out;
    }
    void fill_audit(int n) {
        for (int i = 1; i <= n; ++i) {
            const core::AuditEntry entry{
                i % 2 == 1 ? core::AuditKind::Step : core::AuditKind::Reaction,
                RequestId{i % 2 == 1 ? "R1" : "R2"},
                UserId{"U0ALICE"},
                "n=" + std::to_string(i) + " exit=0"};
            ASSERT_TRUE(await(s().audit(entry, at_ms(i))));
        }
    }

    std::unique_ptr<testing::Backend> b_;
};

TEST_P(StateStoreContract, RequestNumbersCountUpAcrossARestart) {
    EXPECT_EQ(await(s().next_request_id()).value(), RequestId{"R1"});
    EXPECT_EQ(await(s().next_request_id()).value(), RequestId{"R2"});
    b_->reopen();
    EXPECT_EQ(await(s().next_request_id()).value(), RequestId{"R3"});
    EXPECT_TRUE(s().check_writable());
}

TEST_P(StateStoreContract, ApprovalsRoundTripEveryFieldAndEachSaveReplacesTheSnapshot) {
    auto a = full_approval();
    ASSERT_TRUE(await(s().save_approval(a)));
    auto found = await(s().find_approval(RequestId{"R7"}));
    ASSERT_TRUE(found) << found.error().message;
    ASSERT_TRUE(found->has_value());
    EXPECT_EQ(**found, a);
    EXPECT_EQ((**found).approval.approver_groups.at(UserId{"U0BOB"}).front(),
              UsergroupId{"S0LEADS"})
        << "group order is kept";
    EXPECT_FALSE(await(s().find_approval(RequestId{"R8"})).value().has_value());
    a.approval.approvals.erase(UserId{"U0CAROL"});
    a.approval.approver_groups.erase(UserId{"U0CAROL"});
    a.approval.approvals[UserId{"U0BOB"}] = {"white_check_mark"};
    a.approval.state = ApprovalState::Pending;
    a.approval.card.reset();
    a.approval.decided_by.reset();
    a.card_text = "new plan";
    ASSERT_TRUE(await(s().save_approval(a)));
    EXPECT_EQ(await(s().find_approval(RequestId{"R7"})).value(), a);
}

TEST_P(StateStoreContract, OpenApprovalsArePendingOrApprovedOldestFirstAcrossARestart) {
    ASSERT_TRUE(await(s().save_approval(approval("R1", ApprovalState::Approved, 300))));
    ASSERT_TRUE(await(s().save_approval(approval("R2", ApprovalState::Expired, 100))));
    ASSERT_TRUE(await(s().save_approval(approval("R3", ApprovalState::Pending, 200))));
    ASSERT_TRUE(await(s().save_approval(approval("R4", ApprovalState::Executing, 50))));
    ASSERT_TRUE(await(s().save_approval(approval("R5", ApprovalState::Pending, 10))));
    ASSERT_TRUE(await(s().save_approval(approval("R6", ApprovalState::Pending, 10))));
    b_->reopen();
    auto open = await(s().open_approvals());
    ASSERT_TRUE(open) << open.error().message;
    EXPECT_EQ(ids(*open), (std::vector<std::string>{"R5", "R6", "R3", "R1"}));
    EXPECT_EQ(b_->raw_query("SELECT state FROM approvals WHERE request_id = 'R2'"), "expired");
    EXPECT_EQ(b_->raw_query("SELECT created_ms FROM approvals WHERE request_id = 'R3'"),
              "1700000000200");
}

TEST_P(StateStoreContract, AnApprovalFiledUnderAnotherRequestIsRefused) {
    auto a = approval("R1", ApprovalState::Pending, 0);
    a.approval.id = RequestId{"R2"};
    auto r = await(s().save_approval(a));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, ErrorKind::Invalid);
    EXPECT_THAT(r.error().message, StartsWith("state.save_approval: "));
    EXPECT_TRUE(await(s().open_approvals()).value().empty());
}

TEST_P(StateStoreContract, RunsRoundTripWithStepsAndFinish) {
    auto r = run("R1", 0);
    r.card = core::MessageRef{ChannelId{"C0INCIDENTS"}, MessageTs{"1700000000.000200"}};
    r.steps = {step(1, 0)};
    ASSERT_TRUE(await(s().run_started(r)));
    ASSERT_TRUE(await(s().step_finished(RequestId{"R1"}, step(2, std::nullopt))));
    ASSERT_TRUE(await(s().run_finished(RequestId{"R1"}, core::RunState::Failed, at_ms(5000))));
    r.steps.push_back(step(2, std::nullopt));
    r.state = core::RunState::Failed;
    r.finished = at_ms(5000);
    auto found = await(s().find_run(RequestId{"R1"}));
    ASSERT_TRUE(found) << found.error().message;
    EXPECT_EQ(found->value(), r);
    EXPECT_FALSE(await(s().find_run(RequestId{"R9"})).value().has_value());
    EXPECT_EQ(b_->raw_query("SELECT outcome FROM steps WHERE n = 2"), "timed out");
}

TEST_P(StateStoreContract, UnknownNamesInTheStateAreErrorsThatNameThem) {
    ASSERT_TRUE(await(s().run_started(run("R1", 0))));
    ASSERT_TRUE(await(s().step_finished(RequestId{"R1"}, step(1, std::nullopt))));
    EXPECT_EQ(b_->raw_exec("UPDATE steps SET outcome = 'exploded' WHERE request_id = 'R1'"), "");
    auto bad_step = await(s().find_run(RequestId{"R1"}));
    ASSERT_FALSE(bad_step);
    EXPECT_EQ(bad_step.error().kind, ErrorKind::Storage);
    EXPECT_THAT(bad_step.error().message, HasSubstr("unknown step outcome \"exploded\""));
    EXPECT_EQ(b_->raw_exec("UPDATE steps SET outcome = 'no change' WHERE request_id = 'R1'"), "");
    EXPECT_EQ(b_->raw_exec("UPDATE runs SET state = 'paused' WHERE request_id = 'R1'"), "");
    auto bad_run = await(s().recent_runs(5));
    ASSERT_FALSE(bad_run);
    EXPECT_THAT(bad_run.error().message, HasSubstr("unknown run state \"paused\""));
}

TEST_P(StateStoreContract, UnknownRunsAndDuplicatesAreErrors) {
    auto step_err = await(s().step_finished(RequestId{"R1"}, step(1, 0)));
    ASSERT_FALSE(step_err);
    EXPECT_EQ(step_err.error().kind, ErrorKind::NotFound);
    EXPECT_EQ(step_err.error().message, "state.step_finished: no run of request R1");
    auto finish_err = await(s().run_finished(RequestId{"R1"}, core::RunState::Succeeded, at_ms(1)));
    ASSERT_FALSE(finish_err);
    EXPECT_EQ(finish_err.error().kind, ErrorKind::NotFound);
    ASSERT_TRUE(await(s().run_started(run("R1", 0))));
    auto again = await(s().run_started(run("R1", 0)));
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().kind, ErrorKind::Conflict);
    EXPECT_THAT(again.error().message, StartsWith("state.run_started: "));
    ASSERT_TRUE(await(s().step_finished(RequestId{"R1"}, step(1, 0))));
    auto dup = await(s().step_finished(RequestId{"R1"}, step(1, 0)));
    ASSERT_FALSE(dup) << "step 1 is recorded";
    EXPECT_EQ(dup.error().kind, ErrorKind::Conflict);
    EXPECT_TRUE(await(s().run_started(run("R2", 0)))) << "the store is usable after errors";
}

TEST_P(StateStoreContract, InterruptRunningMarksOnlyRunningRunsAfterARestart) {
    ASSERT_TRUE(await(s().run_started(run("R1", 0))));
    ASSERT_TRUE(await(s().step_finished(RequestId{"R1"}, step(1, 0))));
    ASSERT_TRUE(await(s().run_started(run("R2", 10))));
    ASSERT_TRUE(await(s().run_finished(RequestId{"R2"}, core::RunState::Succeeded, at_ms(20))));
    ASSERT_TRUE(await(s().run_started(run("R3", 30))));
    b_->reopen();  // the daemon died with R1 and R3 running
    auto interrupted = await(s().interrupt_running(at_ms(99)));
    ASSERT_TRUE(interrupted) << interrupted.error().message;
    ASSERT_EQ(interrupted->size(), 2U);
    auto r1 = run("R1", 0);
    r1.state = core::RunState::Interrupted;
    r1.finished = at_ms(99);
    r1.steps = {step(1, 0)};
    EXPECT_EQ((*interrupted)[0], r1);
    EXPECT_EQ((*interrupted)[1].id, RequestId{"R3"});
    EXPECT_EQ(await(s().find_run(RequestId{"R1"})).value(), r1);
    EXPECT_EQ(await(s().find_run(RequestId{"R2"})).value()->finished, at_ms(20));
    EXPECT_TRUE(await(s().interrupt_running(at_ms(100))).value().empty()) << "only once";
}

TEST_P(StateStoreContract, RecentRunsAreNewestFirstAndLimited) {
    for (int i : {3, 1, 4, 0, 2}) {
        ASSERT_TRUE(await(s().run_started(run("R" + std::to_string(i), i * 1000))));
    }
    ASSERT_TRUE(await(s().run_started(run("R5", 4000)))) << "same start as R4, inserted later";
    ASSERT_TRUE(await(s().step_finished(RequestId{"R4"}, step(1, 0))));
    auto recent = await(s().recent_runs(3));
    ASSERT_TRUE(recent) << recent.error().message;
    std::vector<std::string> got;
    for (const auto& r : *recent) {
        got.push_back(r.id.str());
    }
    EXPECT_EQ(got, (std::vector<std::string>{"R5", "R4", "R3"}));
    EXPECT_EQ((*recent)[1].steps.size(), 1U);
    EXPECT_EQ(await(s().recent_runs(10)).value().size(), 6U);
    EXPECT_TRUE(await(s().recent_runs(0)).value().empty());
}

TEST_P(StateStoreContract, TheOutboxAssignsSeqAndKeepsPendingInOrderAcrossARestart) {
    auto card = post("card");
    card.seq = 77;  // ignored: the store assigns
    const auto first = await(s().outbox_add(card)).value();
    auto reply = post("progress");
    reply.thread_seq = first;
    reply.thread_ts = MessageTs{"1700000000.000300"};
    auto update = post("card v2");
    update.kind = core::OutboxEntry::Kind::Update;
    update.target_seq = first;
    update.target_ts = MessageTs{"1700000000.000400"};
    const auto second = await(s().outbox_add(reply)).value();
    const auto third = await(s().outbox_add(update)).value();
    EXPECT_LT(first, second);
    EXPECT_LT(second, third);
    ASSERT_TRUE(await(s().outbox_failed(first)));
    ASSERT_TRUE(await(s().outbox_failed(first)));
    ASSERT_TRUE(await(s().outbox_delivered(second, MessageTs{"1700000000.000500"})));
    b_->reopen();
    card.seq = first;
    card.attempts = 2;
    update.seq = third;
    EXPECT_EQ(await(s().outbox_pending()).value(), (std::vector<core::OutboxEntry>{card, update}));
    EXPECT_EQ(await(s().outbox_ts(second)).value(), MessageTs{"1700000000.000500"});
    EXPECT_FALSE(await(s().outbox_ts(first)).value().has_value());
    EXPECT_GT(await(s().outbox_add(post("next"))).value(), third) << "seq is never reused";
}

TEST_P(StateStoreContract, OutboxErrorsNameTheEntry) {
    for (auto r :
         {await(s().outbox_failed(999)), await(s().outbox_delivered(999, MessageTs{"1.2"}))}) {
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().kind, ErrorKind::NotFound);
    }
    auto missing = await(s().outbox_ts(999));
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().message, "state.outbox_ts: no outbox entry 999");
    auto orphan = post("orphan");
    orphan.thread_seq = 42;
    auto r = await(s().outbox_add(orphan));
    ASSERT_FALSE(r) << "foreign keys are enforced";
    EXPECT_THAT(r.error().message, StartsWith("state.outbox_add: "));
    EXPECT_TRUE(await(s().outbox_pending()).value().empty());
}

TEST_P(StateStoreContract, DedupeKeysAreRememberedWithinTheWindowAndThenPruned) {
    const core::Duration window = std::chrono::minutes{10};
    EXPECT_TRUE(await(s().first_time("Ev1", at_ms(0), window)).value());
    EXPECT_FALSE(await(s().first_time("Ev1", at_ms(1000), window)).value());
    for (int i = 0; i < 20; ++i) {
        ASSERT_TRUE(await(s().first_time("old" + std::to_string(i), at_ms(i), window)).value());
    }
    b_->reopen();
    EXPECT_FALSE(await(s().first_time("Ev1", at_ms(window.count()), window)).value())
        << "exactly one window old is still within it";
    EXPECT_EQ(b_->raw_query("SELECT count(*) FROM dedupe"), "21");
    EXPECT_TRUE(await(s().first_time("Ev1", at_ms(window.count() + 10), window)).value())
        << "older than the window: forgotten";
    EXPECT_EQ(b_->raw_query("SELECT count(*) FROM dedupe"), "11") << "old10..old19 and Ev1";
}

TEST_P(StateStoreContract, TheAuditChainIsLinkedFromGenesisAndVerifiesAfterARestart) {
    fill_audit(5);
    b_->reopen();
    ASSERT_TRUE(
        await(s().audit({core::AuditKind::Report, RequestId{"R1"}, {}, "posted"}, at_ms(9))));
    auto log = await(s().audit_log(std::nullopt)).value();
    ASSERT_EQ(log.size(), 6U);
    std::string prev{kGenesisHash};
    for (std::size_t i = 0; i < log.size(); ++i) {
        EXPECT_EQ(log[i].seq, static_cast<std::int64_t>(i + 1));
        EXPECT_EQ(log[i].prev_hash, prev);
        prev = log[i].hash;
    }
    EXPECT_EQ(log.back().actor, "rollbot") << "an empty actor is rollbot itself";
    EXPECT_EQ(await(s().audit_log(RequestId{"R2"})).value().size(), 2U);
    const auto check = await(s().verify_audit()).value();
    EXPECT_TRUE(check.ok) << check.problem;
    EXPECT_EQ(check.records, 6);
}

TEST_P(StateStoreContract, TheDatabaseRefusesToChangeOrDeleteAuditRecords) {
    fill_audit(3);
    EXPECT_THAT(b_->raw_exec("UPDATE audit SET detail = 'n=2 exit=1' WHERE seq = 2"),
                HasSubstr("append-only"));
    EXPECT_THAT(b_->raw_exec("DELETE FROM audit WHERE seq = 2"), HasSubstr("append-only"));
    EXPECT_EQ(b_->raw_query("SELECT count(*) FROM audit"), "3");
    EXPECT_TRUE(await(s().verify_audit()).value().ok);
}

TEST_P(StateStoreContract, VerifyFindsAnEditADeletionAndAForgedTail) {
    fill_audit(10);
    b_->drop_audit_guards();
    EXPECT_EQ(b_->raw_exec("UPDATE audit SET detail = 'n=5 exit=0 (fine)' WHERE seq = 5"), "");
    auto edited = await(s().verify_audit()).value();
    EXPECT_FALSE(edited.ok);
    EXPECT_EQ(edited.first_bad, 5);
    EXPECT_THAT(edited.problem, HasSubstr("hash mismatch"));
    EXPECT_EQ(b_->raw_exec("DELETE FROM audit WHERE seq >= 5"), "");
    auto cut = await(s().verify_audit()).value();
    EXPECT_FALSE(cut.ok);
    EXPECT_THAT(cut.problem, HasSubstr("records 5..10 are missing"));
}

INSTANTIATE_TEST_SUITE_P(BothStores,
                         StateStoreContract,
                         ::testing::Values(Engine::Sqlite, Engine::Postgres),
                         testing::engine_name);

}  // namespace
}  // namespace rollbot::store
