// SqliteStore: the tamper-evident audit trail (a SHA-256 hash chain).

#include "bot/store/audit_chain.hpp"
#include "bot/store/sqlite_db.hpp"
#include "bot/store/sqlite_store.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <array>

namespace rollbot::store {
namespace {

using core::Result;

// Bumped if the encoding ever changes, so old and new chains cannot be confused.
constexpr std::string_view kHashTag = "rollbot-audit-v1";

void append_field(std::string& out, std::string_view field) {
    const auto n = static_cast<std::uint64_t>(field.size());
    for (int shift = 56; shift >= 0; shift -= 8) {
        out.push_back(static_cast<char>((n >> shift) & 0xffU));
    }
    out.append(field);
}

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

std::string sha256_hex(std::string_view bytes) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned int len = 0;
    const int ok = EVP_Digest(bytes.data(), bytes.size(), md.data(), &len, EVP_sha256(), nullptr);
    ROLLBOT_CHECK(ok == 1 && len == 32, "EVP_Digest(SHA-256) failed");
    std::string hex;
    hex.reserve(std::size_t{2} * len);
    for (unsigned int i = 0; i < len; ++i) {
        hex += fmt::format("{:02x}", md[i]);
    }
    return hex;
}

std::string audit_hash(std::string_view prev_hash,
                       std::int64_t seq,
                       std::int64_t at_ms,
                       std::string_view kind,
                       std::string_view request_id,
                       std::string_view actor,
                       std::string_view detail) {
    const std::string seq_text = std::to_string(seq);
    const std::string at_text = std::to_string(at_ms);
    const std::array<std::string_view, 7> fields{
        prev_hash, seq_text, at_text, kind, request_id, actor, detail};
    std::string in{kHashTag};
    for (std::string_view f : fields) {
        append_field(in, f);
    }
    return sha256_hex(in);
}

bool AuditChainCheck::fail(std::int64_t seq, std::string problem) {
    check_.ok = false;
    check_.first_bad = seq;
    check_.problem = std::move(problem);
    return false;
}

bool AuditChainCheck::add(const core::AuditRecord& r) {
    if (!check_.ok) {
        return false;
    }
    const std::int64_t expected = last_seq_ + 1;
    if (r.seq != expected) {
        return fail(expected,
                    r.seq > expected
                        ? fmt::format("record {} is missing (deleted?): seq jumps from {} to {}",
                                      expected,
                                      last_seq_,
                                      r.seq)
                        : fmt::format("gap in seq: expected {}, found {}", expected, r.seq));
    }
    if (r.prev_hash != last_hash_) {
        return fail(
            r.seq,
            fmt::format("broken link: prev_hash does not match the hash of record {}", last_seq_));
    }
    const auto at = to_ms(r.at);
    if (audit_hash(r.prev_hash, r.seq, at, r.kind, r.request_id.value, r.actor, r.detail) !=
        r.hash) {
        return fail(r.seq, "hash mismatch: the record's content was changed");
    }
    ++check_.records;
    last_seq_ = r.seq;
    last_hash_ = r.hash;
    return true;
}

core::AuditCheck AuditChainCheck::finish(const std::optional<AuditHead>& head) const {
    if (!check_.ok) {
        return check_;
    }
    core::AuditCheck out = check_;
    const std::int64_t head_seq = head ? head->seq : 0;
    if (head_seq > last_seq_) {
        out.ok = false;
        out.first_bad = last_seq_ + 1;
        out.problem = fmt::format(
            "records {}..{} are missing (deleted from the end)", last_seq_ + 1, head_seq);
    } else if (head_seq < last_seq_) {
        out.ok = false;
        out.first_bad = head_seq + 1;
        out.problem =
            fmt::format("record {} was not appended by rollbot (the audit head ends at {})",
                        head_seq + 1,
                        head_seq);
    } else if (head && head->hash != last_hash_) {
        out.ok = false;
        out.first_bad = last_seq_;
        out.problem = "hash mismatch: the last record differs from the audit head";
    }
    return out;
}

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
