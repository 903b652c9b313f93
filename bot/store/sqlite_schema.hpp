#pragma once

#include "bot/result.hpp"
#include "bot/store/sqlite_db.hpp"

#include <string>

namespace rollbot::store {

/// The newest schema this build knows (`PRAGMA user_version` after all migrations).
inline constexpr int kSchemaVersion = 1;

/// Opens (creating if missing, never its directory) and configures the state file, then
/// brings its schema up to kSchemaVersion. Errors name `path`: not a database, read-only,
/// unwritable, a schema newer than this build, a database that is not rollbot's.
[[nodiscard]] core::Result<DbHandle> open_database(const std::string& path);

}  // namespace rollbot::store
