#pragma once

#include "bot/result.hpp"
#include "bot/store/sqlite_db.hpp"

#include <string>

namespace rollbot::store {

/// The newest schema this build knows (`PRAGMA user_version` after all migrations).
inline constexpr int kSchemaVersion = 1;

/// A writer holds the lock for milliseconds; a few seconds covers `rollbotd --verify-audit` or
/// a backup reading next to the daemon without stalling the io thread for long.
inline constexpr int kBusyTimeoutMs = 3000;

/// Opens (creating if missing, never its directory) and configures the state file, then
/// brings its schema up to kSchemaVersion. Errors name `path`: not a database, read-only,
/// unwritable, a schema newer than this build, a database that is not rollbot's.
[[nodiscard]] core::Result<DbHandle> open_database(const std::string& path);

}  // namespace rollbot::store
