// SqliteStore: the outbox of messages to deliver, and de-duplication keys.

#include "bot/store/sqlite_db.hpp"
#include "bot/store/sqlite_store.hpp"

#include <fmt/format.h>

namespace rollbot::store {
namespace {

using core::Result;

std::optional<std::string> opt_str(const std::optional<core::MessageTs>& ts) {
    if (!ts) {
        return std::nullopt;
    }
    return ts->str();
}

std::optional<core::MessageTs> opt_ts(std::optional<std::string> text) {
    if (!text) {
        return std::nullopt;
    }
    return core::MessageTs{std::move(*text)};
}

core::Error entry_not_found(std::string_view op, std::int64_t seq) {
    return core::make_error(core::ErrorKind::NotFound,
                            fmt::format("{}: no outbox entry {}", op, seq));
}

// Runs an UPDATE of one entry (?1 = seq) and reports NotFound when no row changed.
template <class Bind>
Result<void> update_entry(
    sqlite3* db, std::string_view op, std::string_view sql, std::int64_t seq, Bind&& bind) {
    auto st = Statement::prepare(db, op, sql);
    if (!st) {
        return st.error();
    }
    st->bind(1, seq);
    bind(*st);
    if (auto r = st->run(); !r) {
        return r;
    }
    if (sqlite3_changes(db) == 0) {
        return entry_not_found(op, seq);
    }
    return {};
}

}  // namespace

Result<std::int64_t> SqliteStore::outbox_add(const core::OutboxEntry& entry) {
    constexpr std::string_view kOp = "state.outbox_add";
    auto st = Statement::prepare(db_.get(), kOp, R"sql(
        INSERT INTO outbox (kind, channel, thread_ts, thread_seq, target_ts, target_seq, text,
                            key)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
        RETURNING seq)sql");
    if (!st) {
        return st.error();
    }
    st->bind(1, entry.kind == core::OutboxEntry::Kind::Post ? "post" : "update")
        .bind(2, entry.channel.str())
        .bind_opt(3, opt_str(entry.thread_ts))
        .bind_opt(4, entry.thread_seq)
        .bind_opt(5, opt_str(entry.target_ts))
        .bind_opt(6, entry.target_seq)
        .bind(7, entry.text)
        .bind(8, entry.key);
    auto row = st->step();
    if (!row) {
        return row.error();
    }
    if (!*row) {
        return storage_error(kOp, "the insert returned no seq");
    }
    const std::int64_t seq = st->int64(0);
    if (auto r = st->run(); !r) {
        return r.error();
    }
    return seq;
}

Result<std::vector<core::OutboxEntry>> SqliteStore::outbox_pending() {
    constexpr std::string_view kOp = "state.outbox_pending";
    auto st = Statement::prepare(db_.get(), kOp, R"sql(
        SELECT seq, kind, channel, thread_ts, thread_seq, target_ts, target_seq, text, key,
               attempts
        FROM outbox WHERE sent_ts IS NULL ORDER BY seq)sql");
    if (!st) {
        return st.error();
    }
    std::vector<core::OutboxEntry> out;
    auto r = for_each_row(*st, [&]() -> Result<void> {
        core::OutboxEntry e;
        e.seq = st->int64(0);
        e.kind = st->text(1) == "update" ? core::OutboxEntry::Kind::Update
                                         : core::OutboxEntry::Kind::Post;
        e.channel = core::ChannelId{st->text(2)};
        e.thread_ts = opt_ts(st->opt_text(3));
        e.thread_seq = st->opt_int64(4);
        e.target_ts = opt_ts(st->opt_text(5));
        e.target_seq = st->opt_int64(6);
        e.text = st->text(7);
        e.key = st->text(8);
        e.attempts = static_cast<int>(st->int64(9));
        out.push_back(std::move(e));
        return {};
    });
    if (!r) {
        return r.error();
    }
    return out;
}

Result<void> SqliteStore::outbox_delivered(std::int64_t seq, const core::MessageTs& ts) {
    return update_entry(db_.get(),
                        "state.outbox_delivered",
                        "UPDATE outbox SET sent_ts = ?2 WHERE seq = ?1",
                        seq,
                        [&](Statement& st) { st.bind(2, ts.str()); });
}

Result<void> SqliteStore::outbox_failed(std::int64_t seq) {
    return update_entry(db_.get(),
                        "state.outbox_failed",
                        "UPDATE outbox SET attempts = attempts + 1 WHERE seq = ?1",
                        seq,
                        [](Statement&) {});
}

Result<std::optional<core::MessageTs>> SqliteStore::outbox_ts(std::int64_t seq) {
    constexpr std::string_view kOp = "state.outbox_ts";
    auto st = Statement::prepare(db_.get(), kOp, "SELECT sent_ts FROM outbox WHERE seq = ?1");
    if (!st) {
        return st.error();
    }
    auto row = st->bind(1, seq).step();
    if (!row) {
        return row.error();
    }
    if (!*row) {
        return entry_not_found(kOp, seq);
    }
    return opt_ts(st->opt_text(0));
}

Result<bool> SqliteStore::first_time(const std::string& key,
                                     core::WallTime now,
                                     core::Duration window) {
    constexpr std::string_view kOp = "state.first_time";
    auto tx = Transaction::begin(db_.get(), kOp);
    if (!tx) {
        return tx.error();
    }
    // A key older than the window is forgotten, so it counts as new again (and the table stays
    // as small as the traffic of one window).
    auto prune = Statement::prepare(db_.get(), kOp, "DELETE FROM dedupe WHERE seen_ms < ?1");
    if (!prune) {
        return prune.error();
    }
    if (auto r = prune->bind(1, to_ms(now) - window.count()).run(); !r) {
        return r.error();
    }
    auto insert = Statement::prepare(
        db_.get(), kOp, "INSERT INTO dedupe (key, seen_ms) VALUES (?1, ?2) ON CONFLICT DO NOTHING");
    if (!insert) {
        return insert.error();
    }
    if (auto r = insert->bind(1, key).bind(2, to_ms(now)).run(); !r) {
        return r.error();
    }
    const bool first = sqlite3_changes(db_.get()) == 1;
    if (auto r = tx->commit(); !r) {
        return r.error();
    }
    return first;
}

}  // namespace rollbot::store
