#pragma once

// Helpers for the SqliteStore tests: times on whole milliseconds, opening with an assertion,
// and a second raw sqlite3 connection to inspect or tamper with the file behind the store.

#include "bot/ports/state_store.hpp"
#include "bot/store/sqlite_store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace rollbot::store::testing {

/// A wall time `ms` milliseconds after 2023-11-14 (the store keeps milliseconds).
inline core::WallTime at_ms(std::int64_t ms) {
    return core::WallTime{} + std::chrono::milliseconds{1'700'000'000'000 + ms};
}

/// Opens `path`, failing the test with the store's message if it cannot.
inline std::unique_ptr<SqliteStore> open_store(const std::filesystem::path& path) {
    auto store = SqliteStore::open(path.string());
    EXPECT_TRUE(store) << (store ? "" : store.error().message);
    return store ? std::move(*store) : nullptr;
}

/// A plain sqlite3 connection, as an operator (or an attacker) with file access has.
class RawDb {
public:
    explicit RawDb(const std::filesystem::path& path) {
        if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
            ADD_FAILURE() << "cannot open " << path << ": " << sqlite3_errmsg(db_);
        }
        sqlite3_busy_timeout(db_, 3000);
    }
    ~RawDb() { sqlite3_close_v2(db_); }
    RawDb(const RawDb&) = delete;
    RawDb& operator=(const RawDb&) = delete;

    /// Runs constant SQL; "" on success, else sqlite's message.
    std::string exec(const char* sql) {
        char* err = nullptr;
        if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) == SQLITE_OK) {
            return "";
        }
        std::string message = err != nullptr ? err : "unknown error";
        sqlite3_free(err);
        return message;
    }

    /// The first column of the first row of `sql`, as text ("<none>" without a row).
    std::string query(const char* sql) {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) != SQLITE_OK) {
            ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
            return "<error>";
        }
        std::string out = "<none>";
        if (sqlite3_step(st) == SQLITE_ROW) {
            const auto* text = sqlite3_column_text(st, 0);
            out = text != nullptr ? reinterpret_cast<const char*>(text) : "<null>";
        }
        sqlite3_finalize(st);
        return out;
    }

private:
    sqlite3* db_ = nullptr;
};

}  // namespace rollbot::store::testing
