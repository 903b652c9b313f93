// SqliteStore: opening, refusing bad files, the schema version, request numbers, a second
// process on the same file. Records are in sqlite_records_test.cpp, the audit trail in
// sqlite_audit_test.cpp.

#include "bot/store/sqlite_store.hpp"

#include "bot/ports/state_store.hpp"
#include "bot/store/sqlite_schema.hpp"
#include "test/support/temp_dir.hpp"
#include "test/unit/store/store_test_util.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace rollbot::store {
namespace {

using testing::at_ms;
using ::testing::HasSubstr;
using testing::open_store;
using testing::RawDb;

// Whether this process can write to a file or directory despite its permission bits (root).
bool writes_despite_permissions(const std::filesystem::path& path) {
    if (std::filesystem::is_directory(path)) {
        const auto probe = path / ".probe";
        const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT, 0600);
        if (fd < 0) {
            return false;
        }
        ::close(fd);
        ::unlink(probe.c_str());
        return true;
    }
    const int fd = ::open(path.c_str(), O_WRONLY);
    if (fd < 0) {
        return false;
    }
    ::close(fd);
    return true;
}

TEST(SqliteStoreOpen, CreatesAWalFileAtTheCurrentSchemaVersion) {
    test::TempDir dir;
    const auto path = dir.file("state.db");
    ASSERT_FALSE(std::filesystem::exists(path));
    auto store = open_store(path);
    ASSERT_TRUE(store);
    EXPECT_TRUE(std::filesystem::is_regular_file(path));
    EXPECT_EQ(store->path(), path.string());
    RawDb raw(path);
    EXPECT_EQ(raw.query("PRAGMA journal_mode"), "wal");
    EXPECT_EQ(raw.query("PRAGMA user_version"), std::to_string(kSchemaVersion));
    EXPECT_EQ(raw.query("SELECT count(*) FROM sqlite_schema WHERE name = 'audit_no_delete'"), "1");
}

TEST(SqliteStoreOpen, InMemoryWorks) {
    auto store = SqliteStore::open(":memory:");
    ASSERT_TRUE(store) << store.error().message;
    auto id = (*store)->next_request_id();
    ASSERT_TRUE(id);
    EXPECT_EQ(id->str(), "R1");
}

TEST(SqliteStoreOpen, ReopeningAnExistingFileIsIdempotent) {
    test::TempDir dir;
    const auto path = dir.file("state.db");
    std::string schema_before;
    {
        auto store = open_store(path);
        ASSERT_TRUE(store);
        ASSERT_TRUE(store->audit(
            {core::AuditKind::Request, core::RequestId{"R1"}, core::UserId{"U0ALICE"}, "text=db"},
            at_ms(0)));
        schema_before = RawDb(path).query("SELECT group_concat(sql, ';') FROM sqlite_schema");
    }
    for (int i = 0; i < 2; ++i) {
        auto store = open_store(path);
        ASSERT_TRUE(store);
        RawDb raw(path);
        EXPECT_EQ(raw.query("PRAGMA user_version"), std::to_string(kSchemaVersion));
        EXPECT_EQ(raw.query("SELECT group_concat(sql, ';') FROM sqlite_schema"), schema_before);
        auto log = store->audit_log(std::nullopt);
        ASSERT_TRUE(log);
        EXPECT_EQ(log->size(), 1U) << "reopening keeps the data and re-runs no migration";
    }
}

TEST(SqliteStoreOpen, RefusesASchemaNewerThanThisBuild) {
    test::TempDir dir;
    const auto path = dir.file("state.db");
    ASSERT_TRUE(open_store(path));
    const auto newer = std::to_string(kSchemaVersion + 1);
    ASSERT_EQ(RawDb(path).exec(("PRAGMA user_version=" + newer).c_str()), "");
    auto store = SqliteStore::open(path.string());
    ASSERT_FALSE(store);
    EXPECT_EQ(store.error().kind, core::ErrorKind::Storage);
    EXPECT_THAT(store.error().message, HasSubstr("state.open: " + path.string()));
    EXPECT_THAT(store.error().message, HasSubstr("schema version " + newer + " is newer"));
    EXPECT_EQ(RawDb(path).query("PRAGMA user_version"), newer) << "the file is left alone";
}

TEST(SqliteStoreOpen, RefusesAFileThatIsNotADatabase) {
    test::TempDir dir;
    const std::string garbage(4096, 'x');
    const auto path = dir.write("state.db", "this is not sqlite\n" + garbage);
    auto store = SqliteStore::open(path.string());
    ASSERT_FALSE(store);
    EXPECT_EQ(store.error().kind, core::ErrorKind::Storage);
    EXPECT_THAT(store.error().message, HasSubstr("state.open: " + path.string()));
    EXPECT_THAT(store.error().message, HasSubstr("not a database"));
    EXPECT_EQ(dir.read("state.db"), "this is not sqlite\n" + garbage) << "never overwritten";
}

TEST(SqliteStoreOpen, RefusesSomebodyElsesDatabase) {
    test::TempDir dir;
    const auto path = dir.file("other.db");
    {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
        ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE invoices (id INTEGER)", nullptr, nullptr, nullptr),
                  SQLITE_OK);
        sqlite3_close(db);
    }
    auto store = SqliteStore::open(path.string());
    ASSERT_FALSE(store);
    EXPECT_THAT(store.error().message, HasSubstr(path.string()));
    EXPECT_THAT(store.error().message, HasSubstr("not a rollbot state file"));
    EXPECT_EQ(RawDb(path).query("SELECT count(*) FROM sqlite_schema"), "1") << "no table added";
}

TEST(SqliteStoreOpen, RefusesADirectory) {
    test::TempDir dir;
    auto store = SqliteStore::open(dir.path().string());
    ASSERT_FALSE(store);
    EXPECT_EQ(store.error().kind, core::ErrorKind::Storage);
    EXPECT_THAT(store.error().message, HasSubstr("state.open: " + dir.path().string() + ":"));
    EXPECT_THAT(store.error().message, HasSubstr("it is a directory"));
}

TEST(SqliteStoreOpen, RefusesAMissingDirectoryWithoutCreatingIt) {
    test::TempDir dir;
    const auto path = dir.file("no/such/dir/state.db");
    auto store = SqliteStore::open(path.string());
    ASSERT_FALSE(store);
    EXPECT_THAT(store.error().message, HasSubstr("state.open: " + path.string() + ":"));
    EXPECT_THAT(store.error().message,
                HasSubstr("directory " + path.parent_path().string() + " does not exist"));
    EXPECT_FALSE(std::filesystem::exists(dir.file("no")));
}

TEST(SqliteStoreOpen, RefusesAnUnwritableDirectory) {
    test::TempDir dir;
    const auto sub = dir.file("locked");
    std::filesystem::create_directory(sub);
    const auto existing = sub / "existing.db";
    ASSERT_TRUE(open_store(existing));
    // A clean close checkpoints and removes -wal/-shm: reopening must create them again.
    ASSERT_FALSE(std::filesystem::exists(sub / "existing.db-wal"));
    ASSERT_EQ(::chmod(existing.c_str(), 0666), 0);
    ASSERT_EQ(::chmod(sub.c_str(), 0555), 0);
    if (writes_despite_permissions(sub)) {
        ::chmod(sub.c_str(), 0755);
        GTEST_SKIP() << "running as root: chmod 0555 does not stop this process from writing";
    }
    const auto fresh = sub / "state.db";
    auto created = SqliteStore::open(fresh.string());
    auto reopened = SqliteStore::open(existing.string());
    ::chmod(sub.c_str(), 0755);
    for (const auto& [path, store] : {std::pair{fresh, &created}, std::pair{existing, &reopened}}) {
        ASSERT_FALSE(*store) << path;
        EXPECT_EQ(store->error().kind, core::ErrorKind::Storage);
        EXPECT_THAT(store->error().message, HasSubstr("state.open: " + path.string() + ":"));
        EXPECT_THAT(store->error().message,
                    HasSubstr("directory " + sub.string() + " is not writable"));
    }
}

TEST(SqliteStoreOpen, RefusesAReadOnlyFile) {
    test::TempDir dir;
    const auto path = dir.file("state.db");
    ASSERT_TRUE(open_store(path));
    ASSERT_EQ(::chmod(path.c_str(), 0444), 0);
    if (writes_despite_permissions(path)) {
        GTEST_SKIP() << "running as root: chmod 0444 does not stop this process from writing";
    }
    auto store = SqliteStore::open(path.string());
    ASSERT_FALSE(store) << "a read-only state file must not open silently read-only";
    EXPECT_EQ(store.error().kind, core::ErrorKind::Storage);
    EXPECT_THAT(store.error().message, HasSubstr("state.open: " + path.string()));
    EXPECT_THAT(store.error().message, HasSubstr("read-only"));
}

TEST(SqliteStoreRequests, NumbersCountUpAcrossReopen) {
    test::TempDir dir;
    const auto path = dir.file("state.db");
    {
        auto store = open_store(path);
        ASSERT_TRUE(store);
        EXPECT_EQ(store->next_request_id().value().str(), "R1");
        EXPECT_EQ(store->next_request_id().value().str(), "R2");
    }
    auto store = open_store(path);
    ASSERT_TRUE(store);
    EXPECT_EQ(store->next_request_id().value().str(), "R3");
}

TEST(SqliteStoreConcurrency, TwoConnectionsShareOneFile) {
    test::TempDir dir;
    const auto path = dir.file("state.db");
    auto a = open_store(path);
    auto b = open_store(path);
    ASSERT_TRUE(a);
    ASSERT_TRUE(b) << "a second open of the same file works while the first is open (WAL)";
    EXPECT_EQ(a->next_request_id().value().str(), "R1");
    EXPECT_EQ(b->next_request_id().value().str(), "R2") << "one counter, never the same number";
    EXPECT_EQ(a->next_request_id().value().str(), "R3");
    for (int i = 0; i < 10; ++i) {
        auto& writer = i % 2 == 0 ? a : b;
        ASSERT_TRUE(writer->audit(
            {core::AuditKind::Step, core::RequestId{"R1"}, {}, "i=" + std::to_string(i)},
            at_ms(i)));
    }
    for (auto* s : {a.get(), b.get()}) {
        auto check = s->verify_audit();
        ASSERT_TRUE(check);
        EXPECT_TRUE(check->ok) << check->problem;
        EXPECT_EQ(check->records, 10) << "interleaved appends form one chain";
    }
    core::OutboxEntry entry;
    entry.channel = core::ChannelId{"C1"};
    entry.text = "hi";
    auto seq = a->outbox_add(entry);
    ASSERT_TRUE(seq);
    auto pending = b->outbox_pending();
    ASSERT_TRUE(pending);
    ASSERT_EQ(pending->size(), 1U) << "the other connection sees the committed write";
    EXPECT_EQ(pending->front().seq, *seq);
}

}  // namespace
}  // namespace rollbot::store

namespace rollbot::store {
namespace {

using ::testing::HasSubstr;
using testing::open_store;

// /readyz asks the store for one real write: it fails at once (no busy wait on the io thread)
// while another writer holds the file, and works again once the file is free.
TEST(SqliteStoreReadiness, CheckWritableFailsWhileTheFileIsLockedAndRecovers) {
    test::TempDir dir;
    const auto path = dir.file("state.db");
    auto store = open_store(path);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->check_writable());
    sqlite3* other = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &other), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
    auto locked = store->check_writable();
    EXPECT_FALSE(locked);
    if (!locked) {
        EXPECT_THAT(locked.error().message, HasSubstr("state.check_writable"));
    }
    ASSERT_EQ(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(other);
    EXPECT_TRUE(store->check_writable());
}

}  // namespace
}  // namespace rollbot::store
