#pragma once

// Thin RAII over the sqlite3 C API for the store's own translation units (not installed, not
// seen by core): a connection handle, prepared statements with bound parameters, and
// BEGIN IMMEDIATE transactions that roll back unless committed.

#include "bot/result.hpp"
#include "bot/store/codec.hpp"
#include "bot/store/db_handle.hpp"

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace rollbot::store {

/// "`op`: sqlite's message for `db`'s last error"; constraint violations are Conflict, the rest
/// Storage.
[[nodiscard]] core::Error db_error(std::string_view op, sqlite3* db);
/// One prepared statement. Binds are 1-based like sqlite's; a failed bind is reported by the
/// next step() so call sites stay linear.
class Statement {
public:
    /// Compiles `sql` (a constant: values are always bound, never spliced in).
    [[nodiscard]] static core::Result<Statement> prepare(sqlite3* db,
                                                         std::string_view op,
                                                         std::string_view sql);

    Statement& bind(int index, std::int64_t value);
    Statement& bind(int index, std::string_view value);
    /// NULL when empty.
    Statement& bind_opt(int index, const std::optional<std::string>& value);
    Statement& bind_opt(int index, const std::optional<std::int64_t>& value);
    Statement& bind_null(int index);

    /// Advances: true while there is a row to read, false when done.
    [[nodiscard]] core::Result<bool> step();
    /// Runs a statement that returns no rows to completion.
    [[nodiscard]] core::Result<void> run();
    /// Clears the bindings and rewinds, to execute the statement again.
    void reset();

    [[nodiscard]] std::int64_t int64(int column) const;
    [[nodiscard]] std::string text(int column) const;
    [[nodiscard]] bool is_null(int column) const;
    [[nodiscard]] std::optional<std::string> opt_text(int column) const;
    [[nodiscard]] std::optional<std::int64_t> opt_int64(int column) const;

private:
    struct Finalizer {
        void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
    };
    Statement(sqlite3* db, std::string_view op, sqlite3_stmt* stmt)
        : db_(db), op_(op), stmt_(stmt) {}
    void note_bind(int rc);

    sqlite3* db_ = nullptr;
    std::string_view op_;  // a string literal naming the operation
    std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
    int bind_rc_ = SQLITE_OK;
};

/// BEGIN IMMEDIATE … COMMIT. IMMEDIATE takes the write lock up front, so a read-then-write
/// (the audit head, the schema version) cannot interleave with a second process.
class Transaction {
public:
    [[nodiscard]] static core::Result<Transaction> begin(sqlite3* db, std::string_view op);
    /// A read snapshot (deferred BEGIN): several SELECTs see one consistent state.
    [[nodiscard]] static core::Result<Transaction> begin_read(sqlite3* db, std::string_view op);
    Transaction(Transaction&& other) noexcept;
    Transaction& operator=(Transaction&&) = delete;
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    ~Transaction();

    [[nodiscard]] core::Result<void> commit();

private:
    Transaction(sqlite3* db, std::string_view op) : db_(db), op_(op) {}

    sqlite3* db_ = nullptr;
    std::string_view op_;
};

/// Steps through every row, calling `on_row()` (which returns Result<void>) for each; stops at
/// the first error.
template <class OnRow>
[[nodiscard]] core::Result<void> for_each_row(Statement& st, OnRow&& on_row) {
    for (;;) {
        auto row = st.step();
        if (!row) {
            return row.error();
        }
        if (!*row) {
            return {};
        }
        if (auto r = on_row(); !r) {
            return r;
        }
    }
}

/// Runs constant SQL without parameters (schema statements, BEGIN/COMMIT).
[[nodiscard]] core::Result<void> exec(sqlite3* db, std::string_view op, const char* sql);

}  // namespace rollbot::store
