#pragma once

// The connection handle alone, so that sqlite_store.hpp does not pull <sqlite3.h> into its
// users (rollbotd, tests).

#include <memory>

struct sqlite3;

namespace rollbot::store {

struct DbCloser {
    void operator()(sqlite3* db) const;
};
/// An open connection, closed on destruction.
using DbHandle = std::unique_ptr<sqlite3, DbCloser>;

}  // namespace rollbot::store
