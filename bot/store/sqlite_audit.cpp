// SqliteStore: the tamper-evident audit trail (a SHA-256 hash chain).

#include "bot/store/audit_chain.hpp"
#include "bot/store/sqlite_db.hpp"
#include "bot/store/sqlite_store.hpp"

#include <fmt/format.h>

#include <array>

namespace rollbot::store {
namespace {

using core::Result;

constexpr std::string_view kSelectAudit = R"sql(
    SELECT seq, at_ms, kind, request_id, actor, detail, prev_hash, hash FROM audit)sql";

core::AuditRecord read_record(const Statement& st) {
    core::AuditRecord r;
    r.seq = st.int64(0);
    r.at = from_ms(st.int64(1));
    r.kind = st.text(2);
    r.request_id = core::RequestId{st.text(3)};
    r.actor = st.text(4);
    r.detail = st.text(5);
    r.prev_hash = st.text(6);
    r.hash = st.text(7);
    return r;
}

Result<std::optional<AuditHead>> read_head(sqlite3* db, std::string_view op) {
    auto st = Statement::prepare(db, op, "SELECT seq, hash FROM audit_head WHERE id = 1");
    if (!st) {
        return st.error();
    }
    auto row = st->step();
    if (!row) {
        return row.error();
    }
    if (!*row) {
        return std::optional<AuditHead>{};
    }
    return std::optional<AuditHead>{AuditHead{st->int64(0), st->text(1)}};
}

}  // namespace

Result<void> SqliteStore::audit(const core::AuditEntry& entry, core::WallTime at) {
    constexpr std::string_view kOp = "state.audit";
    const std::string kind(core::to_string(entry.kind));
    const std::string& request_id = entry.request.value;
    const std::string actor = entry.actor.empty() ? std::string("rollbot") : entry.actor.value;
    const std::string& detail = entry.detail;
    // IMMEDIATE: read the head and append under one write lock, so two processes sharing the
    // file cannot fork the chain.
    auto tx = Transaction::begin(db_.get(), kOp);
    if (!tx) {
        return tx.error();
    }
    auto head = read_head(db_.get(), kOp);
    if (!head) {
        return head.error();
    }
    const std::int64_t seq = (*head ? (*head)->seq : 0) + 1;
    const std::string prev = *head ? (*head)->hash : std::string{kGenesisHash};
    const std::int64_t at_ms = to_ms(at);
    const std::string hash = audit_hash(prev, seq, at_ms, kind, request_id, actor, detail);
    auto insert = Statement::prepare(db_.get(), kOp, R"sql(
        INSERT INTO audit (seq, at_ms, kind, request_id, actor, detail, prev_hash, hash)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8))sql");
    if (!insert) {
        return insert.error();
    }
    insert->bind(1, seq).bind(2, at_ms).bind(3, kind).bind(4, request_id);
    insert->bind(5, actor).bind(6, detail).bind(7, prev).bind(8, hash);
    if (auto r = insert->run(); !r) {
        return r;
    }
    auto set_head = Statement::prepare(db_.get(), kOp, R"sql(
        INSERT INTO audit_head (id, seq, hash) VALUES (1, ?1, ?2)
        ON CONFLICT (id) DO UPDATE SET seq = ?1, hash = ?2)sql");
    if (!set_head) {
        return set_head.error();
    }
    if (auto r = set_head->bind(1, seq).bind(2, hash).run(); !r) {
        return r;
    }
    return tx->commit();
}

Result<std::vector<core::AuditRecord>> SqliteStore::audit_log(
    const std::optional<core::RequestId>& request) {
    constexpr std::string_view kOp = "state.audit_log";
    // Two texts rather than `?1 = '' OR …`, which would keep sqlite from using the index.
    const auto sql = !request ? fmt::format("{} ORDER BY seq", kSelectAudit)
                              : fmt::format("{} WHERE request_id = ?1 ORDER BY seq", kSelectAudit);
    auto st = Statement::prepare(db_.get(), kOp, sql);
    if (!st) {
        return st.error();
    }
    if (request) {
        st->bind(1, request->value);
    }
    std::vector<core::AuditRecord> out;
    auto r = for_each_row(*st, [&]() -> Result<void> {
        out.push_back(read_record(*st));
        return {};
    });
    if (!r) {
        return r.error();
    }
    return out;
}

Result<core::AuditCheck> SqliteStore::verify_audit() {
    constexpr std::string_view kOp = "state.verify_audit";
    auto tx = Transaction::begin_read(db_.get(), kOp);
    if (!tx) {
        return tx.error();
    }
    auto st = Statement::prepare(db_.get(), kOp, fmt::format("{} ORDER BY seq", kSelectAudit));
    if (!st) {
        return st.error();
    }
    AuditChainCheck chain;
    for (;;) {
        auto row = st->step();
        if (!row) {
            return row.error();
        }
        if (!*row || !chain.add(read_record(*st))) {
            break;
        }
    }
    auto head = read_head(db_.get(), kOp);
    if (!head) {
        return head.error();
    }
    if (auto r = tx->commit(); !r) {
        return r.error();
    }
    return chain.finish(*head);
}

}  // namespace rollbot::store
