// PgStore's own properties beyond the common contract: replicas sharing one database never hand
// out a number twice nor fork the audit chain; the schema is migrated once and refuses a newer
// one or a database that belongs to somebody else; TRUNCATE cannot empty the audit trail.

#include "test/unit/store/store_backends.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace rollbot::store {
namespace {

namespace asio = boost::asio;
using testing::at_ms;
using ::testing::HasSubstr;

asio::awaitable<void> take_numbers_and_audit(core::StateStore& store,
                                             int n,
                                             std::vector<std::string>& ids,
                                             int& failures) {
    for (int i = 0; i < n; ++i) {
        auto id = co_await store.next_request_id();
        if (!id) {
            ++failures;
            continue;
        }
        ids.push_back(id->str());
        core::AuditEntry entry{core::AuditKind::Request, *id, core::UserId{"U0ALICE"}, "kind=db"};
        auto done = co_await store.audit(std::move(entry), at_ms(i));
        if (!done) {
            ++failures;
        }
    }
}

TEST(PgStore, TwoReplicasOnOneDatabaseShareNumbersAndOneAuditChain) {
    testing::PgBackend one;
    auto other =
        one.await(PgStore::open(one.io_.get_executor(), one.server().uri(one.database()), {}));
    ASSERT_TRUE(other) << other.error().message;
    std::vector<std::string> ids;
    int failures = 0;
    // Both run on one io thread, each on its own connection: their statements interleave at
    // every round trip, and their audit appends contend for the head row.
    asio::co_spawn(one.io_, take_numbers_and_audit(one.store(), 25, ids, failures), asio::detached);
    asio::co_spawn(one.io_, take_numbers_and_audit(**other, 25, ids, failures), asio::detached);
    one.io_.restart();
    one.io_.run_for(std::chrono::seconds(60));
    EXPECT_EQ(failures, 0);
    ASSERT_EQ(ids.size(), 50U);
    EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 50U) << "no number twice";
    const auto check = one.await(one.store().verify_audit()).value();
    EXPECT_TRUE(check.ok) << check.problem;
    EXPECT_EQ(check.records, 50);
}

TEST(PgStore, OpeningAgainMigratesNothingAndKeepsTheState) {
    testing::PgBackend b;
    ASSERT_TRUE(b.await(b.store().next_request_id()));
    b.reopen();
    b.reopen();
    EXPECT_EQ(b.raw_query("SELECT version FROM rollbot_schema"), std::to_string(kPgSchemaVersion));
    EXPECT_EQ(b.raw_query("SELECT count(*) FROM rollbot_schema"), "1");
    EXPECT_EQ(b.await(b.store().next_request_id()).value(), core::RequestId{"R2"});
}

TEST(PgStore, RefusesASchemaNewerThanThisBuild) {
    testing::PgBackend b;
    ASSERT_EQ(b.raw_exec("UPDATE rollbot_schema SET version = 99"), "");
    auto again = b.await(PgStore::open(b.io_.get_executor(), b.server().uri(b.database()), {}));
    ASSERT_FALSE(again);
    EXPECT_THAT(again.error().message, HasSubstr("schema version 99, newer than this rollbot"));
}

TEST(PgStore, RefusesADatabaseWithTablesThatAreNotRollbots) {
    std::string why;
    auto* server = test::shared_pg_server(why);
    ASSERT_NE(server, nullptr) << why;
    const auto db = server->fresh_database(why);
    ASSERT_FALSE(db.empty()) << why;
    asio::io_context io;
    {
        auto raw =
            test::run_task(io, pg::Connection::open(io.get_executor(), server->conninfo(db), {}));
        ASSERT_TRUE(raw);
        ASSERT_TRUE(test::run_task(io, (*raw)->query("erp", "CREATE TABLE students (id INT)", {})));
    }
    auto store = test::run_task(io, PgStore::open(io.get_executor(), server->uri(db), {}));
    ASSERT_FALSE(store);
    EXPECT_THAT(store.error().message, HasSubstr("tables that are not rollbot's"));
}

TEST(PgStore, TruncateCannotEmptyTheAuditTrail) {
    testing::PgBackend b;
    core::AuditEntry entry{core::AuditKind::Request, core::RequestId{"R1"}, {}, "kind=db"};
    ASSERT_TRUE(b.await(b.store().audit(entry, at_ms(1))));
    EXPECT_THAT(b.raw_exec("TRUNCATE audit"), HasSubstr("append-only"));
    EXPECT_EQ(b.raw_query("SELECT count(*) FROM audit"), "1");
}

TEST(PgStore, CheckWritableFollowsTheConnection) {
    testing::PgBackend b;
    ASSERT_TRUE(b.store().check_writable());
    auto* store = dynamic_cast<PgStore*>(&b.store());
    ASSERT_NE(store, nullptr);
    const auto pid = std::to_string(store->connection().backend_pid());
    ASSERT_EQ(b.raw_exec("SELECT pg_terminate_backend(" + pid + ")"), "");
    EXPECT_FALSE(b.await(b.store().next_request_id())) << "the first call sees the break";
    EXPECT_FALSE(b.store().check_writable());
    EXPECT_TRUE(b.await(b.store().next_request_id())) << "the next one reconnects";
    EXPECT_TRUE(b.store().check_writable());
}

}  // namespace
}  // namespace rollbot::store
