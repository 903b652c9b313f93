// The leader lease against a real PostgreSQL: one holder at a time, a rising term, takeover
// at expiry or as soon as the holder's connection is gone, a leader that trusts itself less
// long than the row lasts, and writes fenced by the term.

#include "bot/store/pg_lease.hpp"

#include "test/unit/store/store_backends.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace rollbot::store {
namespace {

using core::ErrorKind;
using testing::at_ms;
using ::testing::HasSubstr;

class PgLeaseTest : public ::testing::Test {
protected:
    void SetUp() override {
        b_ = std::make_unique<testing::PgBackend>();
        a_conn_ = connect();
        b_conn_ = connect();
        ASSERT_TRUE(a_conn_ && b_conn_);
    }

    std::unique_ptr<pg::Connection> connect() {
        auto c = b_->await(pg::Connection::open(
            b_->io_.get_executor(), b_->server().conninfo(b_->database()), {}));
        EXPECT_TRUE(c) << (c ? "" : c.error().message);
        return c ? std::move(*c) : nullptr;
    }

    PgStore& store() { return dynamic_cast<PgStore&>(b_->store()); }

    std::unique_ptr<testing::PgBackend> b_;
    std::unique_ptr<pg::Connection> a_conn_;
    std::unique_ptr<pg::Connection> b_conn_;
};

TEST_F(PgLeaseTest, OneHolderAtATimeAndEachTakeoverRaisesTheTerm) {
    PgLease a(*a_conn_, "pod-a", {std::chrono::seconds(15)});
    PgLease b(*b_conn_, "pod-b", {std::chrono::seconds(15)});
    const auto before = std::chrono::steady_clock::now();
    auto first = b_->await(a.try_acquire());
    ASSERT_TRUE(first) << first.error().message;
    ASSERT_EQ(*first, 1);
    EXPECT_GT(a.trusted_until(), before + std::chrono::seconds(11));
    EXPECT_LE(a.trusted_until(), std::chrono::steady_clock::now() + std::chrono::seconds(12))
        << "trust ends a margin (3 s of 15 s) before the row expires";
    EXPECT_EQ(b_->await(b.try_acquire()).value(), std::nullopt) << "held and alive";
    ASSERT_TRUE(b_->await(a.renew()));
    auto seen = b_->await(b.read()).value();
    EXPECT_EQ(seen.term, 1);
    EXPECT_EQ(seen.holder, "pod-a");
    EXPECT_EQ(seen.backend_pid, a_conn_->backend_pid());
    EXPECT_TRUE(seen.backend_alive);
    EXPECT_FALSE(seen.expired);
    ASSERT_TRUE(b_->await(a.release()));
    EXPECT_EQ(a.term(), 0);
    EXPECT_EQ(b_->await(b.try_acquire()).value(), 2) << "released: taken at once";
    auto deposed = b_->await(a.renew());
    ASSERT_FALSE(deposed);
    EXPECT_EQ(deposed.error().kind, ErrorKind::Conflict);
}

TEST_F(PgLeaseTest, AHolderWhoseConnectionIsGoneIsReplacedWithoutWaitingForTheExpiry) {
    PgLease a(*a_conn_, "pod-a", {std::chrono::seconds(60)});
    PgLease b(*b_conn_, "pod-b", {std::chrono::seconds(60)});
    ASSERT_EQ(b_->await(a.try_acquire()).value(), 1);
    a_conn_.reset();  // the process died: its socket closes, the server ends its backend
    // The server notices the closed socket asynchronously; poll as a standby does (each
    // attempt is a round trip, no sleep), bounded.
    std::optional<std::int64_t> term;
    for (int i = 0; i < 2000 && !term; ++i) {
        term = b_->await(b.try_acquire()).value();
    }
    EXPECT_EQ(term, 2) << "a lease of 60 s did not have to run out";
    EXPECT_EQ(b_->await(b.read()).value().holder, "pod-b");
}

TEST_F(PgLeaseTest, AnExpiredLeaseIsTakenAndItsOldHolderCannotRenew) {
    PgLease a(*a_conn_, "pod-a", {std::chrono::seconds(15)});
    PgLease b(*b_conn_, "pod-b", {std::chrono::seconds(15)});
    ASSERT_EQ(b_->await(a.try_acquire()).value(), 1);
    // Time passes for the database: the row expired while pod-a was frozen.
    ASSERT_EQ(b_->raw_exec("UPDATE leader_lease SET expires_at = now() - interval '1 second'"), "");
    EXPECT_EQ(b_->await(b.try_acquire()).value(), 2);
    auto late = b_->await(a.renew());
    ASSERT_FALSE(late);
    EXPECT_EQ(late.error().kind, ErrorKind::Conflict);
    EXPECT_THAT(late.error().message, HasSubstr("term 1 is no longer current"));
    EXPECT_EQ(a.term(), 0);
    EXPECT_LT(a.trusted_until(), std::chrono::steady_clock::now());
}

TEST_F(PgLeaseTest, WritesOfADeposedLeaderAreFenced) {
    PgLease a(*a_conn_, "pod-a", {std::chrono::seconds(15)});
    PgLease b(*b_conn_, "pod-b", {std::chrono::seconds(15)});
    ASSERT_EQ(b_->await(a.try_acquire()).value(), 1);
    store().fence(1);
    ASSERT_TRUE(b_->await(store().run_started(core::StoredRun{core::RequestId{"R1"},
                                                              core::UserId{"U0ALICE"},
                                                              "db downgrade -1",
                                                              core::RunState::Running,
                                                              at_ms(0),
                                                              std::nullopt,
                                                              std::nullopt,
                                                              {}})));
    ASSERT_EQ(b_->raw_exec("UPDATE leader_lease SET expires_at = now() - interval '1 second'"), "");
    ASSERT_EQ(b_->await(b.try_acquire()).value(), 2);
    core::StoredStep step{1,
                          "kubectl exec … alembic downgrade -1",
                          core::StepOutcome::Succeeded,
                          0,
                          std::chrono::milliseconds(10),
                          std::string(64, 'a')};
    auto fenced = b_->await(store().step_finished(core::RequestId{"R1"}, step));
    ASSERT_FALSE(fenced);
    EXPECT_EQ(fenced.error().kind, ErrorKind::Conflict);
    EXPECT_THAT(fenced.error().message, HasSubstr("term 1"));
    EXPECT_FALSE(b_->await(store().outbox_add(core::OutboxEntry{})));
    EXPECT_FALSE(b_->await(store().next_request_id()));
    EXPECT_EQ(b_->raw_query("SELECT count(*) FROM steps"), "0") << "nothing was written";
    EXPECT_EQ(b_->raw_query("SELECT count(*) FROM outbox"), "0");
    store().fence(2);
    EXPECT_TRUE(b_->await(store().step_finished(core::RequestId{"R1"}, step)))
        << "the holder of the current term writes";
}

}  // namespace
}  // namespace rollbot::store
