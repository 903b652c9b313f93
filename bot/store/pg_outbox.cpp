// PgStore: the outbox of messages to deliver, and de-duplication keys.

#include "bot/store/codec.hpp"
#include "bot/store/pg_store.hpp"

#include <fmt/format.h>

namespace rollbot::store {
namespace {

using core::Result;
using pg::param;
using pg::Param;

core::Error entry_not_found(std::string_view op, std::int64_t seq) {
    return core::make_error(core::ErrorKind::NotFound,
                            fmt::format("{}: no outbox entry {}", op, seq));
}

Param opt(const std::optional<core::MessageTs>& ts) {
    return ts ? param(ts->str()) : Param{};
}

Param opt(const std::optional<std::int64_t>& n) {
    return n ? param(*n) : Param{};
}

}  // namespace

core::StateStore::Await<Result<std::int64_t>> PgStore::outbox_add(core::OutboxEntry entry) {
    constexpr std::string_view kOp = "state.outbox_add";
    std::vector<Param> p{param(entry.kind == core::OutboxEntry::Kind::Post ? "post" : "update"),
                         param(entry.channel.str()),
                         opt(entry.thread_ts),
                         opt(entry.thread_seq),
                         opt(entry.target_ts),
                         opt(entry.target_seq),
                         param(entry.text),
                         param(entry.key)};
    auto s = co_await begin_write(kOp);
    if (!s) {
        co_return s.error();
    }
    auto rows = co_await s->query(kOp,
                                  R"sql(
        INSERT INTO outbox (kind, channel, thread_ts, thread_seq, target_ts, target_seq, text, key)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        RETURNING seq)sql",
                                  std::move(p));
    if (!rows) {
        co_return rows.error();
    }
    if (rows->size() != 1) {
        co_return storage_error(kOp, "the insert returned no seq");
    }
    if (auto r = co_await s->commit(kOp); !r) {
        co_return r.error();
    }
    co_return rows->integer(0, 0);
}

core::StateStore::Await<Result<std::vector<core::OutboxEntry>>> PgStore::outbox_pending() {
    constexpr std::string_view kOp = "state.outbox_pending";
    std::vector<Param> none;
    auto rows = co_await db_->query(kOp,
                                    R"sql(
        SELECT seq, kind, channel, thread_ts, thread_seq, target_ts, target_seq, text, key,
               attempts
        FROM outbox WHERE sent_ts IS NULL ORDER BY seq)sql",
                                    std::move(none));
    if (!rows) {
        co_return rows.error();
    }
    std::vector<core::OutboxEntry> out;
    for (int i = 0; i < rows->size(); ++i) {
        core::OutboxEntry e;
        e.seq = rows->integer(i, 0);
        e.kind = rows->text(i, 1) == "update" ? core::OutboxEntry::Kind::Update
                                              : core::OutboxEntry::Kind::Post;
        e.channel = core::ChannelId{rows->text(i, 2)};
        if (auto ts = rows->opt_text(i, 3)) {
            e.thread_ts = core::MessageTs{*ts};
        }
        e.thread_seq = rows->opt_integer(i, 4);
        if (auto ts = rows->opt_text(i, 5)) {
            e.target_ts = core::MessageTs{*ts};
        }
        e.target_seq = rows->opt_integer(i, 6);
        e.text = rows->text(i, 7);
        e.key = rows->text(i, 8);
        e.attempts = static_cast<int>(rows->integer(i, 9));
        out.push_back(std::move(e));
    }
    co_return out;
}

core::StateStore::Await<Result<void>> PgStore::outbox_delivered(std::int64_t seq,
                                                                core::MessageTs ts) {
    constexpr std::string_view kOp = "state.outbox_delivered";
    std::vector<Param> p{param(seq), param(ts.str())};
    std::string sql = "UPDATE outbox SET sent_ts = $2 WHERE seq = $1";
    auto missing = entry_not_found(kOp, seq);
    co_return co_await change_one(kOp, std::move(sql), std::move(p), std::move(missing));
}

core::StateStore::Await<Result<void>> PgStore::outbox_failed(std::int64_t seq) {
    constexpr std::string_view kOp = "state.outbox_failed";
    std::vector<Param> p{param(seq)};
    std::string sql = "UPDATE outbox SET attempts = attempts + 1 WHERE seq = $1";
    auto missing = entry_not_found(kOp, seq);
    co_return co_await change_one(kOp, std::move(sql), std::move(p), std::move(missing));
}

core::StateStore::Await<Result<std::optional<core::MessageTs>>> PgStore::outbox_ts(
    std::int64_t seq) {
    constexpr std::string_view kOp = "state.outbox_ts";
    std::vector<Param> p{param(seq)};
    auto rows = co_await db_->query(kOp, "SELECT sent_ts FROM outbox WHERE seq = $1", std::move(p));
    if (!rows) {
        co_return rows.error();
    }
    if (rows->size() == 0) {
        co_return entry_not_found(kOp, seq);
    }
    if (rows->is_null(0, 0)) {
        co_return std::optional<core::MessageTs>{};
    }
    co_return std::optional<core::MessageTs>{core::MessageTs{rows->text(0, 0)}};
}

core::StateStore::Await<Result<bool>> PgStore::first_time(std::string key,
                                                          core::WallTime now,
                                                          core::Duration window) {
    constexpr std::string_view kOp = "state.first_time";
    auto s = co_await begin_write(kOp);
    if (!s) {
        co_return s.error();
    }
    // A key older than the window is forgotten, so it counts as new again (and the table stays
    // as small as the traffic of one window).
    std::vector<Param> prune{param(to_ms(now) - window.count())};
    if (auto r = co_await s->query(kOp, "DELETE FROM dedupe WHERE seen_ms < $1", std::move(prune));
        !r) {
        co_return r.error();
    }
    std::vector<Param> p{param(key), param(to_ms(now))};
    auto inserted = co_await s->query(
        kOp,
        "INSERT INTO dedupe (key, seen_ms) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        std::move(p));
    if (!inserted) {
        co_return inserted.error();
    }
    if (auto r = co_await s->commit(kOp); !r) {
        co_return r.error();
    }
    co_return inserted->affected() == 1;
}

}  // namespace rollbot::store
