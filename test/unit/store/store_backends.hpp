#pragma once

// The StateStore contract tests run against each store through this: the store behind the
// port, reopening it on the same state (a restart), and a raw connection to the same state for
// what an operator (or an attacker) with direct access would do.

#include "bot/ports/state_store.hpp"
#include "bot/store/pg_store.hpp"
#include "bot/store/sqlite_port.hpp"
#include "bot/store/sqlite_store.hpp"
#include "test/support/async.hpp"
#include "test/support/pg_server.hpp"
#include "test/support/temp_dir.hpp"
#include "test/unit/store/store_test_util.hpp"

#include <boost/asio/io_context.hpp>

#include <memory>
#include <string>

namespace rollbot::store::testing {

enum class Engine { Sqlite, Postgres };

class Backend {
public:
    virtual ~Backend() = default;
    [[nodiscard]] virtual core::StateStore& store() = 0;
    /// Closes the store and opens it again on the same state, as a restart does.
    virtual void reopen() = 0;
    /// The first column of the first row of `sql` run directly ("<none>" without a row).
    [[nodiscard]] virtual std::string raw_query(const std::string& sql) = 0;
    /// Runs `sql` directly: "" on success, else the database's message.
    virtual std::string raw_exec(const std::string& sql) = 0;
    /// Turns off the append-only triggers of the audit table, as its owner could.
    virtual void drop_audit_guards() = 0;

    /// Runs an awaited store call to the end.
    template <class T>
    T await(boost::asio::awaitable<T> call) {
        return test::run_task(io_, std::move(call));
    }

    boost::asio::io_context io_;
};

class SqliteBackend final : public Backend {
public:
    SqliteBackend() { reopen(); }
    core::StateStore& store() override { return *port_; }
    void reopen() override {
        port_.reset();
        store_.reset();
        store_ = open_store(dir_.file("state.db"));
        port_ = std::make_unique<SqlitePort>(*store_);
    }
    std::string raw_query(const std::string& sql) override {
        return RawDb(dir_.file("state.db")).query(sql.c_str());
    }
    std::string raw_exec(const std::string& sql) override {
        return RawDb(dir_.file("state.db")).exec(sql.c_str());
    }
    void drop_audit_guards() override {
        EXPECT_EQ(raw_exec("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;"), "");
    }

private:
    test::TempDir dir_;
    std::unique_ptr<SqliteStore> store_;
    std::unique_ptr<SqlitePort> port_;
};

class PgBackend final : public Backend {
public:
    PgBackend() {
        std::string why;
        server_ = test::shared_pg_server(why);
        if (server_ == nullptr) {
            ADD_FAILURE() << why;
            return;
        }
        db_ = server_->fresh_database(why);
        EXPECT_FALSE(db_.empty()) << why;
        reopen();
        auto raw = await(pg::Connection::open(io_.get_executor(), server_->conninfo(db_), {}));
        EXPECT_TRUE(raw) << (raw ? "" : raw.error().message);
        if (raw) {
            raw_ = std::move(*raw);
        }
    }
    core::StateStore& store() override { return *store_; }
    void reopen() override {
        store_.reset();
        auto s = await(PgStore::open(io_.get_executor(), server_->uri(db_), {}));
        if (!s) {
            ADD_FAILURE() << s.error().message;
            return;
        }
        store_ = std::move(*s);
    }
    std::string raw_query(const std::string& sql) override {
        auto rows = await(raw_->query("raw", sql, {}));
        if (!rows) {
            ADD_FAILURE() << sql << ": " << rows.error().message;
            return "<error>";
        }
        if (rows->size() == 0) {
            return "<none>";
        }
        return rows->is_null(0, 0) ? "<null>" : rows->text(0, 0);
    }
    std::string raw_exec(const std::string& sql) override {
        auto rows = await(raw_->query("raw", sql, {}));
        return rows ? "" : rows.error().message;
    }
    void drop_audit_guards() override {
        EXPECT_EQ(raw_exec("ALTER TABLE audit DISABLE TRIGGER USER"), "");
    }
    [[nodiscard]] test::PgServer& server() { return *server_; }
    [[nodiscard]] const std::string& database() const { return db_; }

private:
    test::PgServer* server_ = nullptr;
    std::string db_;
    std::unique_ptr<PgStore> store_;
    std::unique_ptr<pg::Connection> raw_;
};

inline std::unique_ptr<Backend> make_backend(Engine engine) {
    if (engine == Engine::Sqlite) {
        return std::make_unique<SqliteBackend>();
    }
    return std::make_unique<PgBackend>();
}

inline std::string engine_name(const ::testing::TestParamInfo<Engine>& info) {
    return info.param == Engine::Sqlite ? "Sqlite" : "Postgres";
}

}  // namespace rollbot::store::testing
