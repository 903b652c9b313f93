// The audit trail: an append-only SHA-256 chain. Tampering goes through a second, raw sqlite3
// connection, as somebody with access to the file would do it (after dropping the triggers).

#include "bot/ports/state_store.hpp"
#include "bot/store/audit_chain.hpp"
#include "bot/store/sqlite_store.hpp"
#include "test/support/temp_dir.hpp"
#include "test/unit/store/store_test_util.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace rollbot::store {
namespace {

using testing::at_ms;
using ::testing::HasSubstr;
using testing::open_store;
using testing::RawDb;

TEST(AuditHash, MatchesAnIndependentEncoding) {
    EXPECT_EQ(sha256_hex("abc"),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    // Computed with Python: sha256(b"rollbot-audit-v1" + for each field: len as 8 bytes
    // big-endian + bytes). A change here breaks every chain already written.
    EXPECT_EQ(audit_hash(
                  kGenesisHash, 1, 1700000000123, "request", "R1", "U0ALICE", "kind=db text=\"x\""),
              "03b5da674996f0332c5b582b032bde6e037a2975e33d4fac8d3a2dc1223e0833");
}

TEST(AuditHash, FieldBoundariesCannotShift) {
    const auto base = audit_hash(kGenesisHash, 1, 0, "ab", "c", "U1", "d");
    EXPECT_NE(base, audit_hash(kGenesisHash, 1, 0, "a", "bc", "U1", "d"));
    EXPECT_NE(base, audit_hash(kGenesisHash, 1, 0, "abc", "", "U1", "d"));
    EXPECT_NE(audit_hash(kGenesisHash, 12, 3, "k", "", "", ""),
              audit_hash(kGenesisHash, 1, 23, "k", "", "", ""));
    EXPECT_EQ(base, audit_hash(kGenesisHash, 1, 0, "ab", "c", "U1", "d"));
}

// A store at `path` holding records 1..n (request R1 for odd seq, R2 for even).
void fill(SqliteStore& store, int n) {
    for (int i = 1; i <= n; ++i) {
        const core::AuditEntry entry{i % 2 == 1 ? core::AuditKind::Step : core::AuditKind::Reaction,
                                     core::RequestId{i % 2 == 1 ? "R1" : "R2"},
                                     core::UserId{"U0ALICE"},
                                     "n=" + std::to_string(i) + " exit=0"};
        ASSERT_TRUE(store.audit(entry, at_ms(i)));
    }
}

TEST(AuditTrail, RecordsAreLinkedFromTheGenesisHash) {
    auto store = SqliteStore::open(":memory:").value();
    fill(*store, 3);
    auto log = store->audit_log(std::nullopt);
    ASSERT_TRUE(log);
    ASSERT_EQ(log->size(), 3U);
    std::string prev{kGenesisHash};
    for (std::size_t i = 0; i < log->size(); ++i) {
        const auto& r = (*log)[i];
        EXPECT_EQ(r.seq, static_cast<std::int64_t>(i + 1));
        EXPECT_EQ(r.at, at_ms(r.seq));
        EXPECT_EQ(r.prev_hash, prev);
        EXPECT_EQ(r.hash,
                  audit_hash(prev,
                             r.seq,
                             1'700'000'000'000 + r.seq,
                             r.kind,
                             r.request_id.value,
                             r.actor,
                             r.detail));
        prev = r.hash;
    }
    auto r2 = store->audit_log(core::RequestId{"R2"});
    ASSERT_TRUE(r2);
    ASSERT_EQ(r2->size(), 1U);
    EXPECT_EQ(r2->front().seq, 2);
    EXPECT_EQ(r2->front().detail, "n=2 exit=0");
}

TEST(AuditTrail, EmptyChainVerifies) {
    auto store = SqliteStore::open(":memory:").value();
    auto check = store->verify_audit();
    ASSERT_TRUE(check);
    EXPECT_EQ(*check, core::AuditCheck{});
}

TEST(AuditTrail, ThousandRecordsVerifyAndContinueAfterReopen) {
    test::TempDir dir;
    const auto path = dir.file("state.db");
    {
        auto store = open_store(path);
        ASSERT_TRUE(store);
        fill(*store, 1000);
        auto check = store->verify_audit();
        ASSERT_TRUE(check);
        EXPECT_TRUE(check->ok) << check->problem;
        EXPECT_EQ(check->records, 1000);
        EXPECT_FALSE(check->first_bad.has_value());
    }
    auto store = open_store(path);
    ASSERT_TRUE(store);
    ASSERT_TRUE(
        store->audit({core::AuditKind::Report, core::RequestId{"R1"}, {}, "posted"}, at_ms(2000)));
    auto log = store->audit_log(core::RequestId{"R1"}).value();
    ASSERT_EQ(log.back().seq, 1001);
    EXPECT_EQ(log.back().prev_hash, store->audit_log(core::RequestId{"R2"}).value().back().hash);
    EXPECT_EQ(store->verify_audit().value().records, 1001);
}

TEST(AuditTrail, TriggersRefuseUpdateAndDelete) {
    test::TempDir dir;
    const auto path = dir.file("state.db");
    auto store = open_store(path);
    ASSERT_TRUE(store);
    fill(*store, 3);
    RawDb raw(path);
    EXPECT_THAT(raw.exec("UPDATE audit SET detail = 'n=2 exit=1' WHERE seq = 2"),
                HasSubstr("append-only"));
    EXPECT_THAT(raw.exec("DELETE FROM audit WHERE seq = 2"), HasSubstr("append-only"));
    EXPECT_EQ(raw.query("SELECT count(*) FROM audit"), "3");
    EXPECT_TRUE(store->verify_audit().value().ok);
}

// Ten records, the triggers dropped, then `sql` run by the attacker; the verdict.
core::AuditCheck tamper(const char* sql) {
    test::TempDir dir;
    const auto path = dir.file("state.db");
    auto store = open_store(path);
    if (!store) {
        return {};
    }
    fill(*store, 10);
    RawDb raw(path);
    EXPECT_EQ(raw.exec("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;"), "");
    EXPECT_EQ(raw.exec(sql), "");
    auto check = store->verify_audit();
    EXPECT_TRUE(check) << check.error().message;
    return check ? *check : core::AuditCheck{};
}

TEST(AuditTrail, DetectsAnEditedRecord) {
    const auto check = tamper(
        "UPDATE audit SET detail = 'n=5 exit=0 (nothing failed)' "
        "WHERE seq = 5");
    EXPECT_FALSE(check.ok);
    EXPECT_EQ(check.first_bad, 5);
    EXPECT_THAT(check.problem, HasSubstr("hash mismatch"));
    EXPECT_EQ(check.records, 4);
}

TEST(AuditTrail, DetectsAnEditedTimeOrActor) {
    EXPECT_EQ(tamper("UPDATE audit SET at_ms = at_ms + 1 WHERE seq = 3").first_bad, 3);
    EXPECT_EQ(tamper("UPDATE audit SET actor = 'U0MALLORY' WHERE seq = 8").first_bad, 8);
}

TEST(AuditTrail, DetectsAnEditWhoseHashWasRecomputed) {
    // The attacker recomputes record 5's hash (they know the algorithm), not the rest.
    test::TempDir dir;
    const auto path = dir.file("state.db");
    auto store = open_store(path);
    ASSERT_TRUE(store);
    fill(*store, 10);
    const auto r5 = store->audit_log(core::RequestId{"R1"}).value()[2];
    ASSERT_EQ(r5.seq, 5);
    const auto forged = audit_hash(r5.prev_hash,
                                   5,
                                   1'700'000'000'005,
                                   r5.kind,
                                   r5.request_id.value,
                                   r5.actor,
                                   "n=5 exit=0 forged");
    RawDb raw(path);
    ASSERT_EQ(raw.exec("DROP TRIGGER audit_no_update"), "");
    const auto sql =
        "UPDATE audit SET detail = 'n=5 exit=0 forged', hash = '" + forged + "' WHERE seq = 5";
    ASSERT_EQ(raw.exec(sql.c_str()), "");
    const auto check = store->verify_audit().value();
    EXPECT_FALSE(check.ok);
    EXPECT_EQ(check.first_bad, 6);
    EXPECT_THAT(check.problem, HasSubstr("broken link"));
}

TEST(AuditTrail, DetectsADeletedMiddleRecord) {
    const auto check = tamper("DELETE FROM audit WHERE seq = 5");
    EXPECT_FALSE(check.ok);
    EXPECT_EQ(check.first_bad, 5);
    EXPECT_THAT(check.problem, HasSubstr("record 5 is missing"));
}

TEST(AuditTrail, DetectsADeletedFirstRecord) {
    const auto check = tamper("DELETE FROM audit WHERE seq = 1");
    EXPECT_FALSE(check.ok);
    EXPECT_EQ(check.first_bad, 1);
    EXPECT_THAT(check.problem, HasSubstr("missing"));
}

TEST(AuditTrail, DetectsDeletedLastRecords) {
    const auto check = tamper("DELETE FROM audit WHERE seq >= 9");
    EXPECT_FALSE(check.ok);
    EXPECT_EQ(check.first_bad, 9);
    EXPECT_THAT(check.problem, HasSubstr("records 9..10 are missing"));
}

TEST(AuditTrail, DetectsSwappedRecords) {
    // Records 3 and 4 exchange everything but their seq.
    const auto check = tamper(R"sql(
        CREATE TEMP TABLE saved AS SELECT * FROM audit WHERE seq IN (3, 4);
        UPDATE audit SET
            at_ms = (SELECT at_ms FROM saved WHERE saved.seq = 7 - audit.seq),
            kind = (SELECT kind FROM saved WHERE saved.seq = 7 - audit.seq),
            request_id = (SELECT request_id FROM saved WHERE saved.seq = 7 - audit.seq),
            actor = (SELECT actor FROM saved WHERE saved.seq = 7 - audit.seq),
            detail = (SELECT detail FROM saved WHERE saved.seq = 7 - audit.seq),
            prev_hash = (SELECT prev_hash FROM saved WHERE saved.seq = 7 - audit.seq),
            hash = (SELECT hash FROM saved WHERE saved.seq = 7 - audit.seq)
        WHERE seq IN (3, 4);)sql");
    EXPECT_FALSE(check.ok);
    EXPECT_EQ(check.first_bad, 3);
    EXPECT_THAT(check.problem, HasSubstr("broken link"));
}

TEST(AuditTrail, DetectsAWellFormedRecordAppendedBehindTheStoresBack) {
    // A forged record 11 with a correct link and hash: only the remembered head gives it away.
    test::TempDir dir;
    const auto path = dir.file("state.db");
    auto store = open_store(path);
    ASSERT_TRUE(store);
    fill(*store, 10);
    const auto last = store->audit_log(std::nullopt).value().back();
    const auto forged =
        audit_hash(last.hash, 11, 1'700'000'000'011, "approval", "R2", "U0DBA", "state=approved");
    const auto sql =
        "INSERT INTO audit VALUES (11, 1700000000011, 'approval', 'R2', 'U0DBA', "
        "'state=approved', '" +
        last.hash + "', '" + forged + "')";
    ASSERT_EQ(RawDb(path).exec(sql.c_str()), "");
    const auto check = store->verify_audit().value();
    EXPECT_FALSE(check.ok);
    EXPECT_EQ(check.first_bad, 11);
    EXPECT_EQ(check.records, 11) << "every record verifies on its own";
    EXPECT_THAT(check.problem, HasSubstr("not appended by rollbot"));
}

}  // namespace
}  // namespace rollbot::store
