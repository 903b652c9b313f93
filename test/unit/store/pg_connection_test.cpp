// pg::Connection against a real PostgreSQL (test/support/pg_server): parameters travel apart
// from the SQL, SQLSTATEs become error kinds, callers take turns, transactions roll back when
// abandoned, a dead server or a silent peer is an error within the deadline, never a hang.

#include "bot/store/pg_connection.hpp"

#include "test/support/async.hpp"
#include "test/support/pg_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace rollbot::store::pg {
namespace {

namespace asio = boost::asio;
using core::ErrorKind;
using core::Result;
using test::run_task;
using ::testing::HasSubstr;
using ::testing::Not;

class PgConnectionTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string why;
        server_ = test::shared_pg_server(why);
        ASSERT_NE(server_, nullptr) << why;
        db_ = server_->fresh_database(why);
        ASSERT_FALSE(db_.empty()) << why;
    }

    std::unique_ptr<Connection> open(Options options = {}) {
        auto c =
            run_task(io_, Connection::open(io_.get_executor(), server_->conninfo(db_), options));
        EXPECT_TRUE(c) << (c ? "" : c.error().message);
        return c ? std::move(*c) : nullptr;
    }

    Result<Rows> query(Connection& c, std::string sql, std::vector<Param> params = {}) {
        return run_task(io_, c.query("test", std::move(sql), std::move(params)));
    }

    asio::io_context io_;
    test::PgServer* server_ = nullptr;
    std::string db_;
};

TEST_F(PgConnectionTest, ParametersAndNullsTravelApartFromTheSql) {
    auto c = open();
    ASSERT_TRUE(c);
    ASSERT_TRUE(query(*c, "CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT)"));
    const std::string hostile = "x'); DROP TABLE t; --";
    auto ins = query(*c,
                     "INSERT INTO t (k, n) VALUES ($1, $2), ($3, $4)",
                     {param(hostile), param(std::int64_t{-42}), param("y"), std::nullopt});
    ASSERT_TRUE(ins) << ins.error().message;
    EXPECT_EQ(ins->affected(), 2);
    auto rows = query(*c, "SELECT k, n FROM t ORDER BY k");
    ASSERT_TRUE(rows) << rows.error().message;
    ASSERT_EQ(rows->size(), 2);
    EXPECT_EQ(rows->text(0, 0), hostile) << "the text is stored as given, not executed";
    EXPECT_EQ(rows->integer(0, 1), -42);
    EXPECT_EQ(rows->opt_integer(1, 1), std::nullopt);
    EXPECT_GT(c->backend_pid(), 0);
    EXPECT_TRUE(c->healthy());
}

TEST_F(PgConnectionTest, UniqueViolationIsAConflictAndOtherErrorsAreStorage) {
    auto c = open();
    ASSERT_TRUE(c);
    ASSERT_TRUE(query(*c, "CREATE TABLE t (k TEXT PRIMARY KEY)"));
    ASSERT_TRUE(query(*c, "INSERT INTO t VALUES ($1)", {param("a")}));
    auto dup = query(*c, "INSERT INTO t VALUES ($1)", {param("a")});
    ASSERT_FALSE(dup);
    EXPECT_EQ(dup.error().kind, ErrorKind::Conflict);
    EXPECT_THAT(dup.error().message, HasSubstr("test: "));
    EXPECT_THAT(dup.error().message, HasSubstr("duplicate key"));
    auto bad = query(*c, "SELECT * FROM no_such_table");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().kind, ErrorKind::Storage);
    EXPECT_TRUE(query(*c, "SELECT 1")) << "an error leaves the connection usable";
}

asio::awaitable<void> insert_in_session(Connection& c,
                                        std::string who,
                                        std::vector<std::string>& log) {
    auto s = co_await c.session("test");
    if (!s) {
        log.push_back("error " + s.error().message);
        co_return;
    }
    log.push_back(who + " begin");
    (void)co_await s->begin("test", "READ COMMITTED");
    std::vector<Param> params{param(who)};
    (void)co_await s->query("test", "INSERT INTO t VALUES ($1)", std::move(params));
    std::vector<Param> none;
    (void)co_await s->query("test", "SELECT pg_sleep(0.05)", std::move(none));
    (void)co_await s->commit("test");
    log.push_back(who + " commit");
}

TEST_F(PgConnectionTest, SessionsTakeTurns) {
    auto c = open();
    ASSERT_TRUE(c);
    ASSERT_TRUE(query(*c, "CREATE TABLE t (k TEXT)"));
    std::vector<std::string> log;
    asio::co_spawn(io_, insert_in_session(*c, "a", log), asio::detached);
    asio::co_spawn(io_, insert_in_session(*c, "b", log), asio::detached);
    io_.restart();
    io_.run_for(std::chrono::seconds(20));
    EXPECT_THAT(log, ::testing::ElementsAre("a begin", "a commit", "b begin", "b commit"));
    auto rows = query(*c, "SELECT count(*) FROM t");
    ASSERT_TRUE(rows);
    EXPECT_EQ(rows->integer(0, 0), 2);
}

asio::awaitable<Result<void>> abandon_transaction(Connection& c) {
    auto s = co_await c.session("test");
    if (!s) {
        co_return s.error();
    }
    if (auto r = co_await s->begin("test", "READ COMMITTED"); !r) {
        co_return r.error();
    }
    std::vector<Param> params{param("lost")};
    auto r = co_await s->query("test", "INSERT INTO t VALUES ($1)", std::move(params));
    if (!r) {
        co_return r.error();
    }
    co_return Result<void>{};  // no commit: the session ends inside the transaction
}

TEST_F(PgConnectionTest, AnAbandonedTransactionIsRolledBack) {
    auto c = open();
    ASSERT_TRUE(c);
    ASSERT_TRUE(query(*c, "CREATE TABLE t (k TEXT)"));
    ASSERT_TRUE(run_task(io_, abandon_transaction(*c)));
    auto rows = query(*c, "SELECT count(*) FROM t");
    ASSERT_TRUE(rows) << rows.error().message;
    EXPECT_EQ(rows->integer(0, 0), 0);
    auto open_tx = query(*c, "SELECT now() = statement_timestamp()");
    ASSERT_TRUE(open_tx);
    EXPECT_EQ(open_tx->text(0, 0), "t") << "the next statement runs outside any transaction";
}

TEST_F(PgConnectionTest, AStatementThatRunsTooLongIsCancelledByTheServer) {
    auto c = open(Options{std::chrono::milliseconds(5000), std::chrono::milliseconds(200)});
    ASSERT_TRUE(c);
    const auto t0 = std::chrono::steady_clock::now();
    auto r = query(*c, "SELECT pg_sleep(30)");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, ErrorKind::Timeout) << r.error().message;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
    EXPECT_TRUE(query(*c, "SELECT 1")) << "the connection stays usable";
}

TEST_F(PgConnectionTest, AKilledBackendIsANetworkErrorAndTheNextCallReconnects) {
    auto c = open();
    auto killer = open();
    ASSERT_TRUE(c && killer);
    const int pid = c->backend_pid();
    ASSERT_TRUE(query(*killer, "SELECT pg_terminate_backend($1)", {param(std::int64_t{pid})}));
    auto r = query(*c, "SELECT 1");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, ErrorKind::Network) << r.error().message;
    EXPECT_FALSE(c->healthy());
    auto again = query(*c, "SELECT 1");
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_NE(c->backend_pid(), pid) << "a new backend serves the new connection";
    EXPECT_TRUE(c->healthy());
}

TEST_F(PgConnectionTest, AnUnknownDatabaseIsAClearErrorThatNeverShowsThePassword) {
    auto c = run_task(
        io_,
        Connection::open(
            io_.get_executor(), server_->uri_with_password("no_such_db", "s3cr3t-pw"), Options{}));
    ASSERT_FALSE(c);
    EXPECT_THAT(c.error().message, HasSubstr("no_such_db"));
    EXPECT_THAT(c.error().message, Not(HasSubstr("s3cr3t-pw")));
}

TEST_F(PgConnectionTest, NoServerIsANetworkError) {
    test::TempDir empty;
    auto c = run_task(
        io_,
        Connection::open(io_.get_executor(),
                         "host=" + empty.path().string() + " port=5432 user=rollbot dbname=x",
                         Options{}));
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().kind, ErrorKind::Network);
    EXPECT_THAT(c.error().message, HasSubstr("state.connect: "));
}

TEST_F(PgConnectionTest, APeerThatNeverAnswersTimesOutTheConnect) {
    // The kernel completes the TCP handshake for a listening socket nobody accepts on: libpq
    // sends its startup packet and waits for an answer that never comes.
    asio::ip::tcp::acceptor silent(io_, {asio::ip::address_v4::loopback(), 0});
    const auto port = silent.local_endpoint().port();
    Options quick;
    quick.connect_timeout = std::chrono::milliseconds(300);
    const auto t0 = std::chrono::steady_clock::now();
    auto c = run_task(io_,
                      Connection::open(io_.get_executor(),
                                       "host=127.0.0.1 port=" + std::to_string(port) +
                                           " user=rollbot dbname=x sslmode=disable",
                                       quick));
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().kind, ErrorKind::Timeout) << c.error().message;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

TEST_F(PgConnectionTest, ALazyConnectionConnectsOnFirstUseAndAgainAfterAFailure) {
    test::TempDir nowhere;
    Connection lazy(io_.get_executor(),
                    "host=" + nowhere.path().string() + " port=5432 user=rollbot dbname=x",
                    Options{});
    EXPECT_FALSE(lazy.healthy()) << "nothing happens before the first use";
    auto down = query(lazy, "SELECT 1");
    ASSERT_FALSE(down);
    EXPECT_EQ(down.error().kind, ErrorKind::Network);
    EXPECT_THAT(lazy.last_failure(), HasSubstr("No such file or directory")) << "kept for /readyz";
    Connection good(io_.get_executor(), server_->conninfo(db_), Options{});
    auto up = query(good, "SELECT 41 + 1");
    ASSERT_TRUE(up) << up.error().message;
    EXPECT_EQ(up->integer(0, 0), 42);
}

asio::awaitable<void> hold_a_session(Connection& c, bool& holding) {
    auto s = co_await c.session("test");
    holding = s.has_value();
    auto executor = co_await asio::this_coro::executor;
    asio::steady_timer forever(executor, asio::steady_timer::time_point::max());
    co_await forever.async_wait(asio::use_awaitable);  // suspended until the io_context goes
}

TEST(PgConnectionLifetime, ASessionSuspendedPastItsConnectionIsDestroyedSafely) {
    std::string why;
    auto* server = test::shared_pg_server(why);
    ASSERT_NE(server, nullptr) << why;
    bool holding = false;
    {
        asio::io_context io;
        auto c = std::make_unique<Connection>(
            io.get_executor(), server->conninfo("postgres"), Options{});
        asio::co_spawn(io, hold_a_session(*c, holding), asio::detached);
        for (int i = 0; i < 10000 && !holding; ++i) {
            io.run_one_for(std::chrono::milliseconds(100));
        }
        ASSERT_TRUE(holding);
        c.reset();  // the daemon's members go first...
    }  // ...then the io_context, destroying the suspended frame and its Session (ASan watches)
    SUCCEED();
}

}  // namespace
}  // namespace rollbot::store::pg
