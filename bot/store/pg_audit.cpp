// PgStore: the tamper-evident audit trail (audit_chain.hpp), shared by every replica.

#include "bot/store/audit_chain.hpp"
#include "bot/store/codec.hpp"
#include "bot/store/pg_store.hpp"

#include <fmt/format.h>

namespace rollbot::store {
namespace {

using core::Result;
using pg::param;
using pg::Param;

constexpr std::string_view kSelectAudit = R"sql(
    SELECT seq, at_ms, kind, request_id, actor, detail, prev_hash, hash FROM audit)sql";

core::AuditRecord read_record(const pg::Rows& rows, int i) {
    core::AuditRecord r;
    r.seq = rows.integer(i, 0);
    r.at = from_ms(rows.integer(i, 1));
    r.kind = rows.text(i, 2);
    r.request_id = core::RequestId{rows.text(i, 3)};
    r.actor = rows.text(i, 4);
    r.detail = rows.text(i, 5);
    r.prev_hash = rows.text(i, 6);
    r.hash = rows.text(i, 7);
    return r;
}

}  // namespace

core::StateStore::Await<Result<void>> PgStore::audit(core::AuditEntry entry, core::WallTime at) {
    constexpr std::string_view kOp = "state.audit";
    const std::string kind(core::to_string(entry.kind));
    const std::string actor = entry.actor.empty() ? std::string("rollbot") : entry.actor.value;
    auto s = co_await begin_write(kOp);
    if (!s) {
        co_return s.error();
    }
    // The head row is locked until commit: a second writer (another replica) waits here and
    // then reads the new head, so the chain cannot fork.
    std::vector<Param> none;
    auto head = co_await s->query(
        kOp, "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE", std::move(none));
    if (!head) {
        co_return head.error();
    }
    if (head->size() != 1) {
        co_return storage_error(kOp, "the audit head is missing");
    }
    const std::int64_t seq = head->integer(0, 0) + 1;
    const std::string prev = head->text(0, 1);
    const std::int64_t at_ms = to_ms(at);
    const std::string hash =
        audit_hash(prev, seq, at_ms, kind, entry.request.value, actor, entry.detail);
    std::vector<Param> p{param(seq),
                         param(at_ms),
                         param(kind),
                         param(entry.request.value),
                         param(actor),
                         param(entry.detail),
                         param(prev),
                         param(hash)};
    auto inserted = co_await s->query(kOp,
                                      R"sql(
        INSERT INTO audit (seq, at_ms, kind, request_id, actor, detail, prev_hash, hash)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8))sql",
                                      std::move(p));
    if (!inserted) {
        co_return inserted.error();
    }
    std::vector<Param> h{param(seq), param(hash)};
    auto moved = co_await s->query(
        kOp, "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1", std::move(h));
    if (!moved) {
        co_return moved.error();
    }
    co_return co_await s->commit(kOp);
}

core::StateStore::Await<Result<std::vector<core::AuditRecord>>> PgStore::audit_log(
    std::optional<core::RequestId> request) {
    constexpr std::string_view kOp = "state.audit_log";
    std::vector<Param> p;
    std::string sql;
    if (request) {
        p.push_back(param(request->value));
        sql = fmt::format("{} WHERE request_id = $1 ORDER BY seq", kSelectAudit);
    } else {
        sql = fmt::format("{} ORDER BY seq", kSelectAudit);
    }
    auto rows = co_await db_->query(kOp, std::move(sql), std::move(p));
    if (!rows) {
        co_return rows.error();
    }
    std::vector<core::AuditRecord> out;
    out.reserve(static_cast<std::size_t>(rows->size()));
    for (int i = 0; i < rows->size(); ++i) {
        out.push_back(read_record(*rows, i));
    }
    co_return out;
}

core::StateStore::Await<Result<core::AuditCheck>> PgStore::verify_audit() {
    constexpr std::string_view kOp = "state.verify_audit";
    auto s = co_await db_->session(kOp);
    if (!s) {
        co_return s.error();
    }
    // One snapshot for the chain and its head, however many writers append meanwhile.
    if (auto r = co_await s->begin(kOp, "REPEATABLE READ READ ONLY"); !r) {
        co_return r.error();
    }
    auto sql = fmt::format("{} ORDER BY seq", kSelectAudit);
    std::vector<Param> none;
    auto rows = co_await s->query(kOp, std::move(sql), none);
    if (!rows) {
        co_return rows.error();
    }
    auto head = co_await s->query(kOp, "SELECT seq, hash FROM audit_head WHERE id = 1", none);
    if (!head) {
        co_return head.error();
    }
    if (auto r = co_await s->commit(kOp); !r) {
        co_return r.error();
    }
    AuditChainCheck chain;
    for (int i = 0; i < rows->size() && chain.add(read_record(*rows, i)); ++i) {
    }
    std::optional<AuditHead> last;
    if (head->size() == 1) {
        last = AuditHead{head->integer(0, 0), head->text(0, 1)};
    }
    co_return chain.finish(last);
}

}  // namespace rollbot::store
