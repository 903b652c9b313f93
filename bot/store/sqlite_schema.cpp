#include "bot/store/sqlite_schema.hpp"

#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <string_view>
#include <system_error>
#include <unistd.h>

namespace rollbot::store {
namespace {

constexpr std::string_view kOp = "state.open";

struct Migration {
    int version;
    const char* sql;
};

// Append-only: a released version is never edited; a change is a new entry. Each runs in one
// transaction together with its `PRAGMA user_version`.
constexpr std::array kMigrations{
    Migration{1, R"sql(
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE requests (
    id             TEXT PRIMARY KEY,
    requester      TEXT NOT NULL,
    channel        TEXT NOT NULL,
    command_text   TEXT NOT NULL,
    received_at_ms INTEGER NOT NULL
);
CREATE TABLE approvals (
    request_id   TEXT PRIMARY KEY REFERENCES requests(id),
    kind         TEXT NOT NULL,
    requester    TEXT NOT NULL,
    card_channel TEXT,
    card_ts      TEXT,
    plan_id      TEXT NOT NULL,
    state        TEXT NOT NULL,
    created_ms   INTEGER NOT NULL,
    expires_ms   INTEGER NOT NULL,
    decided_by   TEXT,
    card_text    TEXT NOT NULL,
    CHECK ((card_channel IS NULL) = (card_ts IS NULL))
);
CREATE INDEX approvals_state ON approvals(state, created_ms);
CREATE TABLE approval_users (
    request_id TEXT NOT NULL REFERENCES approvals(request_id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL,
    counted    INTEGER NOT NULL,
    has_groups INTEGER NOT NULL,
    PRIMARY KEY (request_id, user_id)
);
CREATE TABLE approval_reactions (
    request_id TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    reaction   TEXT NOT NULL,
    PRIMARY KEY (request_id, user_id, reaction),
    FOREIGN KEY (request_id, user_id) REFERENCES approval_users(request_id, user_id)
        ON DELETE CASCADE
);
CREATE TABLE approval_groups (
    request_id TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    pos        INTEGER NOT NULL,
    group_id   TEXT NOT NULL,
    PRIMARY KEY (request_id, user_id, pos),
    FOREIGN KEY (request_id, user_id) REFERENCES approval_users(request_id, user_id)
        ON DELETE CASCADE
);
CREATE TABLE runs (
    request_id   TEXT PRIMARY KEY,
    requester    TEXT NOT NULL,
    what         TEXT NOT NULL,
    state        TEXT NOT NULL,
    started_ms   INTEGER NOT NULL,
    finished_ms  INTEGER,
    card_channel TEXT,
    card_ts      TEXT,
    CHECK ((card_channel IS NULL) = (card_ts IS NULL))
);
CREATE INDEX runs_started ON runs(started_ms);
CREATE INDEX runs_state ON runs(state);
CREATE TABLE steps (
    request_id  TEXT NOT NULL REFERENCES runs(request_id) ON DELETE CASCADE,
    n           INTEGER NOT NULL,
    command     TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    exit_code   INTEGER,
    duration_ms INTEGER NOT NULL,
    digest      TEXT NOT NULL,
    PRIMARY KEY (request_id, n)
);
CREATE TABLE outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL CHECK (kind IN ('post', 'update')),
    channel    TEXT NOT NULL,
    thread_ts  TEXT,
    thread_seq INTEGER REFERENCES outbox(seq),
    target_ts  TEXT,
    target_seq INTEGER REFERENCES outbox(seq),
    text       TEXT NOT NULL,
    key        TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    sent_ts    TEXT
);
CREATE INDEX outbox_pending ON outbox(seq) WHERE sent_ts IS NULL;
CREATE TABLE dedupe (
    key     TEXT PRIMARY KEY,
    seen_ms INTEGER NOT NULL
);
CREATE INDEX dedupe_seen ON dedupe(seen_ms);
CREATE TABLE audit (
    seq        INTEGER PRIMARY KEY,
    at_ms      INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    request_id TEXT NOT NULL,
    actor      TEXT NOT NULL,
    detail     TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX audit_request ON audit(request_id, seq);
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit is append-only');
END;
)sql"},
};
static_assert(kMigrations.back().version == kSchemaVersion);

core::Error open_error(const std::string& path, std::string_view why) {
    return storage_error(kOp, fmt::format("{}: {}", path, why));
}

core::Error open_error(const std::string& path, sqlite3* db) {
    return open_error(path, sqlite3_errmsg(db));
}

// sqlite says "unable to open database file" whatever the cause, and its errno is that of its
// last (read-only) retry; find the cause an operator has to fix. "" when none is visible.
std::string file_problem(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path file{path};
    const fs::path dir = file.has_parent_path() ? file.parent_path() : fs::path{"."};
    if (fs::is_directory(file, ec)) {
        return "it is a directory";
    }
    if (!fs::is_directory(dir, ec)) {
        return fmt::format("directory {} does not exist", dir.string());
    }
    const bool exists = fs::exists(file, ec);
    if (exists && ::access(path.c_str(), R_OK | W_OK) != 0) {
        return fmt::format("cannot read and write it: {}", std::generic_category().message(errno));
    }
    if (::access(dir.c_str(), W_OK | X_OK) != 0) {
        // WAL creates <file>-wal and <file>-shm beside the file.
        return fmt::format("directory {} is not writable: {}",
                           dir.string(),
                           std::generic_category().message(errno));
    }
    return "";
}

// `error` with the cause from file_problem() appended, when there is one.
core::Error with_file_problem(const std::string& path, core::Error error) {
    const auto problem = file_problem(path);
    if (!problem.empty()) {
        error.message += fmt::format(" ({})", problem);
    }
    return error;
}

// The single-row answer of a PRAGMA, as text.
core::Result<std::string> pragma(sqlite3* db, const std::string& path, const char* sql) {
    auto st = Statement::prepare(db, kOp, sql);
    if (!st) {
        return open_error(path, db);
    }
    auto row = st->step();
    if (!row) {
        return open_error(path, db);
    }
    return *row ? st->text(0) : std::string{};
}

core::Result<void> configure(sqlite3* db, const std::string& path) {
    sqlite3_busy_timeout(db, kBusyTimeoutMs);
    sqlite3_extended_result_codes(db, 1);
    // The first statement that reads the file: a garbage file fails here ("file is not a
    // database"), before anything is written.
    auto mode = pragma(db, path, "PRAGMA journal_mode=WAL");
    if (!mode) {
        return mode.error();
    }
    const bool in_memory = path == ":memory:" || path.empty();
    if (*mode != "wal" && !(in_memory && *mode == "memory")) {
        return open_error(path,
                          fmt::format("cannot switch to WAL journal mode (still \"{}\")", *mode));
    }
    // FULL, not NORMAL: in WAL mode NORMAL may lose the last commits on power loss. An audit
    // record or a queued "ROLLBACK EXECUTED" must survive once written; a few fsyncs per
    // rollback cost nothing next to that.
    for (const char* sql : {"PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON"}) {
        if (auto r = pragma(db, path, sql); !r) {
            return r.error();
        }
    }
    auto fk = pragma(db, path, "PRAGMA foreign_keys");
    if (!fk) {
        return fk.error();
    }
    if (*fk != "1") {
        return open_error(path, "this sqlite3 cannot enforce foreign keys");
    }
    return {};
}

core::Result<std::int64_t> user_version(sqlite3* db, const std::string& path) {
    auto st = Statement::prepare(db, kOp, "PRAGMA user_version");
    if (!st) {
        return open_error(path, db);
    }
    auto row = st->step();
    if (!row || !*row) {
        return open_error(path, db);
    }
    return st->int64(0);
}

// A file whose version is 0 but that holds tables belongs to somebody else: refuse rather than
// add ours beside theirs.
core::Result<void> check_foreign(sqlite3* db, const std::string& path) {
    auto st = Statement::prepare(db, kOp, "SELECT count(*) FROM sqlite_schema");
    if (!st) {
        return open_error(path, db);
    }
    auto row = st->step();
    if (!row || !*row) {
        return open_error(path, db);
    }
    if (st->int64(0) != 0) {
        return open_error(path, "not a rollbot state file (tables but no schema version)");
    }
    return {};
}

core::Result<void> apply(sqlite3* db, const std::string& path, const Migration& m) {
    auto tx = Transaction::begin(db, kOp);
    if (!tx) {
        return open_error(path, db);
    }
    // Read again under the write lock: another process may have migrated meanwhile.
    auto current = user_version(db, path);
    if (!current) {
        return current.error();
    }
    if (*current >= m.version) {
        return tx->commit();
    }
    if (*current == 0) {
        if (auto r = check_foreign(db, path); !r) {
            return r.error();
        }
    }
    if (sqlite3_exec(db, m.sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
        return open_error(path, fmt::format("migration to v{}: {}", m.version, sqlite3_errmsg(db)));
    }
    // PRAGMA takes no bound parameters; the value is this build's constant, never input.
    const auto set_version = fmt::format("PRAGMA user_version={}", m.version);
    if (sqlite3_exec(db, set_version.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
        return open_error(path, db);
    }
    if (auto r = tx->commit(); !r) {
        return open_error(path, db);
    }
    return {};
}

core::Result<void> migrate(sqlite3* db, const std::string& path) {
    auto version = user_version(db, path);
    if (!version) {
        return version.error();
    }
    if (*version > kSchemaVersion) {
        return open_error(path,
                          fmt::format("schema version {} is newer than this build knows ({}); "
                                      "run the newer rollbotd or restore a backup",
                                      *version,
                                      kSchemaVersion));
    }
    for (const auto& m : kMigrations) {
        if (m.version > *version) {
            if (auto r = apply(db, path, m); !r) {
                return r.error();
            }
        }
    }
    return {};
}

}  // namespace

core::Result<DbHandle> open_database(const std::string& path) {
    sqlite3* raw = nullptr;
    const int rc =
        sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    DbHandle db{raw};  // sqlite allocates a handle even when opening fails
    if (rc != SQLITE_OK) {
        return with_file_problem(
            path, db ? open_error(path, db.get()) : open_error(path, sqlite3_errstr(rc)));
    }
    // READWRITE silently falls back to read-only for a write-protected file: refuse instead,
    // the daemon cannot do its job without writing.
    if (sqlite3_db_readonly(db.get(), "main") == 1) {
        return open_error(path, "the file is read-only");
    }
    if (auto r = configure(db.get(), path); !r) {
        return path == ":memory:" ? r.error() : with_file_problem(path, r.error());
    }
    if (auto r = migrate(db.get(), path); !r) {
        return r.error();
    }
    return db;
}

}  // namespace rollbot::store
