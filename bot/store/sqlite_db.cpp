#include "bot/store/sqlite_db.hpp"

#include <fmt/format.h>

#include <utility>

namespace rollbot::store {

void DbCloser::operator()(sqlite3* db) const {
    // v2: a statement still alive somewhere would make close fail; v2 defers instead of leaking.
    sqlite3_close_v2(db);
}

core::Error db_error(std::string_view op, sqlite3* db) {
    const int code = sqlite3_errcode(db) & 0xff;
    const auto kind =
        code == SQLITE_CONSTRAINT ? core::ErrorKind::Conflict : core::ErrorKind::Storage;
    return core::make_error(kind, fmt::format("{}: {}", op, sqlite3_errmsg(db)));
}

core::Result<Statement> Statement::prepare(sqlite3* db, std::string_view op, std::string_view sql) {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return db_error(op, db);
    }
    return Statement{db, op, stmt};
}

void Statement::note_bind(int rc) {
    if (bind_rc_ == SQLITE_OK) {
        bind_rc_ = rc;
    }
}

Statement& Statement::bind(int index, std::int64_t value) {
    note_bind(sqlite3_bind_int64(stmt_.get(), index, value));
    return *this;
}

Statement& Statement::bind(int index, std::string_view value) {
    // SQLITE_TRANSIENT: sqlite copies, so temporaries at the call site are fine.
    note_bind(sqlite3_bind_text64(stmt_.get(),
                                  index,
                                  value.data(),
                                  static_cast<sqlite3_uint64>(value.size()),
                                  SQLITE_TRANSIENT,
                                  SQLITE_UTF8));
    return *this;
}

Statement& Statement::bind_opt(int index, const std::optional<std::string>& value) {
    return value ? bind(index, std::string_view{*value}) : bind_null(index);
}

Statement& Statement::bind_opt(int index, const std::optional<std::int64_t>& value) {
    return value ? bind(index, *value) : bind_null(index);
}

Statement& Statement::bind_null(int index) {
    note_bind(sqlite3_bind_null(stmt_.get(), index));
    return *this;
}

core::Result<bool> Statement::step() {
    if (bind_rc_ != SQLITE_OK) {
        return storage_error(op_,
                             fmt::format("cannot bind a parameter: {}", sqlite3_errstr(bind_rc_)));
    }
    const int rc = sqlite3_step(stmt_.get());
    if (rc == SQLITE_ROW) {
        return true;
    }
    if (rc == SQLITE_DONE) {
        return false;
    }
    return db_error(op_, db_);
}

core::Result<void> Statement::run() {
    for (;;) {
        auto row = step();
        if (!row) {
            return row.error();
        }
        if (!*row) {
            return {};
        }
    }
}

void Statement::reset() {
    sqlite3_reset(stmt_.get());
    sqlite3_clear_bindings(stmt_.get());
    bind_rc_ = SQLITE_OK;
}

std::int64_t Statement::int64(int column) const {
    return sqlite3_column_int64(stmt_.get(), column);
}

std::string Statement::text(int column) const {
    const auto* p = sqlite3_column_text(stmt_.get(), column);
    const int n = sqlite3_column_bytes(stmt_.get(), column);
    return p == nullptr
               ? std::string{}
               : std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
}

bool Statement::is_null(int column) const {
    return sqlite3_column_type(stmt_.get(), column) == SQLITE_NULL;
}

std::optional<std::string> Statement::opt_text(int column) const {
    if (is_null(column)) {
        return std::nullopt;
    }
    return text(column);
}

std::optional<std::int64_t> Statement::opt_int64(int column) const {
    if (is_null(column)) {
        return std::nullopt;
    }
    return int64(column);
}

core::Result<void> exec(sqlite3* db, std::string_view op, const char* sql) {
    if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
        return db_error(op, db);
    }
    return {};
}

core::Result<Transaction> Transaction::begin(sqlite3* db, std::string_view op) {
    if (auto r = exec(db, op, "BEGIN IMMEDIATE"); !r) {
        return r.error();
    }
    return Transaction{db, op};
}

core::Result<Transaction> Transaction::begin_read(sqlite3* db, std::string_view op) {
    if (auto r = exec(db, op, "BEGIN"); !r) {
        return r.error();
    }
    return Transaction{db, op};
}

Transaction::Transaction(Transaction&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), op_(other.op_) {}

Transaction::~Transaction() {
    if (db_ != nullptr) {
        // Nothing to report to: the operation already failed with its own error.
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
}

core::Result<void> Transaction::commit() {
    if (auto r = exec(db_, op_, "COMMIT"); !r) {
        return r.error();  // the destructor rolls back what is left
    }
    db_ = nullptr;
    return {};
}

}  // namespace rollbot::store
