// SqliteStore: opening, request numbers, approvals. Runs and the outbox are in sqlite_runs.cpp
// and sqlite_outbox.cpp, the audit chain in sqlite_audit.cpp.

#include "bot/store/sqlite_store.hpp"

#include "bot/store/sqlite_db.hpp"
#include "bot/store/sqlite_schema.hpp"

#include <fmt/format.h>

#include <array>

namespace rollbot::store {
namespace {

using core::Result;

Result<void> upsert_request(sqlite3* db, std::string_view op, const core::StoredRequest& r) {
    auto st = Statement::prepare(db, op, R"sql(
        INSERT INTO requests (id, requester, channel, command_text, received_at_ms)
        VALUES (?1, ?2, ?3, ?4, ?5)
        ON CONFLICT (id) DO UPDATE SET requester = ?2, channel = ?3, command_text = ?4,
                                       received_at_ms = ?5)sql");
    if (!st) {
        return st.error();
    }
    st->bind(1, r.id.str())
        .bind(2, r.requester.str())
        .bind(3, r.channel.str())
        .bind(4, r.command_text)
        .bind(5, to_ms(r.received_at));
    return st->run();
}

Result<void> upsert_approval(sqlite3* db, std::string_view op, const core::StoredApproval& a) {
    auto st = Statement::prepare(db, op, R"sql(
        INSERT INTO approvals (request_id, kind, requester, card_channel, card_ts, plan_id, state,
                               created_ms, expires_ms, decided_by, card_text)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
        ON CONFLICT (request_id) DO UPDATE SET kind = ?2, requester = ?3, card_channel = ?4,
            card_ts = ?5, plan_id = ?6, state = ?7, created_ms = ?8, expires_ms = ?9,
            decided_by = ?10, card_text = ?11)sql");
    if (!st) {
        return st.error();
    }
    const auto& s = a.approval;
    st->bind(1, s.id.str()).bind(2, core::to_string(s.kind)).bind(3, s.requester.str());
    if (s.card) {
        st->bind(4, s.card->channel.str()).bind(5, s.card->ts.str());
    } else {
        st->bind_null(4).bind_null(5);
    }
    st->bind(6, s.plan_id)
        .bind(7, core::to_string(s.state))
        .bind(8, to_ms(s.created))
        .bind(9, to_ms(s.expires_at));
    if (s.decided_by) {
        st->bind(10, s.decided_by->str());
    } else {
        st->bind_null(10);
    }
    st->bind(11, a.card_text);
    return st->run();
}

// Rewrites the approvers of one approval: users (keys of either map), then their reactions and
// groups. Deleting the users cascades to both child tables.
Result<void> replace_approvers(sqlite3* db, std::string_view op, const core::ApprovalSnapshot& s) {
    auto del = Statement::prepare(db, op, "DELETE FROM approval_users WHERE request_id = ?1");
    auto user = Statement::prepare(db, op, R"sql(
        INSERT INTO approval_users (request_id, user_id, counted, has_groups)
        VALUES (?1, ?2, ?3, ?4)
        ON CONFLICT (request_id, user_id) DO UPDATE SET counted = max(counted, ?3),
                                                        has_groups = max(has_groups, ?4))sql");
    auto reaction = Statement::prepare(
        db,
        op,
        "INSERT INTO approval_reactions (request_id, user_id, reaction) VALUES (?1, ?2, ?3)");
    auto group = Statement::prepare(
        db,
        op,
        "INSERT INTO approval_groups (request_id, user_id, pos, group_id) VALUES (?1, ?2, ?3, ?4)");
    for (auto* st : {&del, &user, &reaction, &group}) {
        if (!*st) {
            return st->error();
        }
    }
    const std::string& id = s.id.str();
    if (auto r = del->bind(1, id).run(); !r) {
        return r;
    }
    auto add_user = [&](const core::UserId& u, std::int64_t counted, std::int64_t grouped) {
        user->reset();
        return user->bind(1, id).bind(2, u.str()).bind(3, counted).bind(4, grouped).run();
    };
    for (const auto& [u, reactions] : s.approvals) {
        if (auto r = add_user(u, 1, 0); !r) {
            return r;
        }
        for (const auto& name : reactions) {
            reaction->reset();
            if (auto r = reaction->bind(1, id).bind(2, u.str()).bind(3, name).run(); !r) {
                return r;
            }
        }
    }
    for (const auto& [u, groups] : s.approver_groups) {
        if (auto r = add_user(u, 0, 1); !r) {
            return r;
        }
        for (std::size_t i = 0; i < groups.size(); ++i) {
            group->reset();
            group->bind(1, id).bind(2, u.str()).bind(3, static_cast<std::int64_t>(i));
            if (auto r = group->bind(4, groups[i].str()).run(); !r) {
                return r;
            }
        }
    }
    return {};
}

Result<void> load_approvers(sqlite3* db, std::string_view op, core::ApprovalSnapshot& s) {
    auto users = Statement::prepare(
        db, op, "SELECT user_id, counted, has_groups FROM approval_users WHERE request_id = ?1");
    auto reactions = Statement::prepare(
        db, op, "SELECT user_id, reaction FROM approval_reactions WHERE request_id = ?1");
    auto groups = Statement::prepare(db, op, R"sql(
        SELECT user_id, group_id FROM approval_groups WHERE request_id = ?1
        ORDER BY user_id, pos)sql");
    for (auto* st : {&users, &reactions, &groups}) {
        if (!*st) {
            return st->error();
        }
        (*st)->bind(1, s.id.str());
    }
    auto r = for_each_row(*users, [&]() -> Result<void> {
        const core::UserId u{users->text(0)};
        if (users->int64(1) != 0) {
            s.approvals.try_emplace(u);
        }
        if (users->int64(2) != 0) {
            s.approver_groups.try_emplace(u);
        }
        return {};
    });
    if (!r) {
        return r;
    }
    r = for_each_row(*reactions, [&]() -> Result<void> {
        s.approvals[core::UserId{reactions->text(0)}].insert(reactions->text(1));
        return {};
    });
    if (!r) {
        return r;
    }
    return for_each_row(*groups, [&]() -> Result<void> {
        s.approver_groups[core::UserId{groups->text(0)}].emplace_back(groups->text(1));
        return {};
    });
}

constexpr std::string_view kSelectApproval = R"sql(
    SELECT r.id, r.requester, r.channel, r.command_text, r.received_at_ms,
           a.kind, a.requester, a.card_channel, a.card_ts, a.plan_id, a.state,
           a.created_ms, a.expires_ms, a.decided_by, a.card_text
    FROM approvals a JOIN requests r ON r.id = a.request_id)sql";

// One row of kSelectApproval, without its approvers.
Result<core::StoredApproval> read_approval(std::string_view op, const Statement& st) {
    core::StoredApproval a;
    a.request.id = core::RequestId{st.text(0)};
    a.request.requester = core::UserId{st.text(1)};
    a.request.channel = core::ChannelId{st.text(2)};
    a.request.command_text = st.text(3);
    a.request.received_at = from_ms(st.int64(4));
    auto& s = a.approval;
    s.id = a.request.id;
    const auto kind = action_kind_from_string(st.text(5));
    const auto state = core::approval_state_from_string(st.text(10));
    if (!kind || !state) {
        return storage_error(op,
                             fmt::format(R"(approval {} has an unknown kind "{}" or state "{}")",
                                         s.id.str(),
                                         st.text(5),
                                         st.text(10)));
    }
    s.kind = *kind;
    s.state = *state;
    s.requester = core::UserId{st.text(6)};
    if (!st.is_null(7)) {
        s.card = core::MessageRef{core::ChannelId{st.text(7)}, core::MessageTs{st.text(8)}};
    }
    s.plan_id = st.text(9);
    s.created = from_ms(st.int64(11));
    s.expires_at = from_ms(st.int64(12));
    if (auto by = st.opt_text(13)) {
        s.decided_by = core::UserId{*by};
    }
    a.card_text = st.text(14);
    return a;
}

// The approvals matching `where` (bound to `params`), with their approvers, in one snapshot.
Result<std::vector<core::StoredApproval>> load_approvals(
    sqlite3* db,
    std::string_view op,
    std::string_view where,
    std::initializer_list<std::string> params) {
    auto tx = Transaction::begin_read(db, op);
    if (!tx) {
        return tx.error();
    }
    auto st = Statement::prepare(db, op, fmt::format("{} {}", kSelectApproval, where));
    if (!st) {
        return st.error();
    }
    int i = 0;
    for (const auto& p : params) {
        st->bind(++i, p);
    }
    std::vector<core::StoredApproval> out;
    auto r = for_each_row(*st, [&]() -> Result<void> {
        auto a = read_approval(op, *st);
        if (!a) {
            return a.error();
        }
        out.push_back(std::move(*a));
        return {};
    });
    if (!r) {
        return r.error();
    }
    for (auto& a : out) {
        if (auto loaded = load_approvers(db, op, a.approval); !loaded) {
            return loaded.error();
        }
    }
    if (auto c = tx->commit(); !c) {
        return c.error();
    }
    return out;
}

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path) {
    auto db = open_database(path);
    if (!db) {
        return db.error();
    }
    return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(*db), path));
}

Result<core::RequestId> SqliteStore::next_request_id() {
    constexpr std::string_view kOp = "state.next_request_id";
    // One statement, so atomic on its own; the counter never goes back even if requests are
    // deleted, and two processes sharing the file never hand out the same number.
    auto st = Statement::prepare(db_.get(), kOp, R"sql(
        INSERT INTO counters (name, value) VALUES ('request', 1)
        ON CONFLICT (name) DO UPDATE SET value = value + 1
        RETURNING value)sql");
    if (!st) {
        return st.error();
    }
    auto row = st->step();
    if (!row) {
        return row.error();
    }
    if (!*row) {
        return storage_error(kOp, "the counter returned no value");
    }
    const auto n = st->int64(0);
    if (auto r = st->run(); !r) {
        return r.error();
    }
    return core::RequestId{fmt::format("R{}", n)};
}

Result<void> SqliteStore::check_writable() {
    constexpr std::string_view kOp = "state.check_writable";
    // A probe must not hold the io thread: when another process holds the file, say so now
    // (the next probe asks again) instead of waiting out the busy timeout.
    sqlite3_busy_timeout(db_.get(), 0);
    auto st = Statement::prepare(db_.get(), kOp, R"sql(
        INSERT INTO counters (name, value) VALUES ('readiness_probe', 1)
        ON CONFLICT (name) DO UPDATE SET value = value + 1)sql");
    Result<void> done = st ? st->run() : Result<void>(st.error());
    sqlite3_busy_timeout(db_.get(), kBusyTimeoutMs);
    return done;
}

Result<void> SqliteStore::save_approval(const core::StoredApproval& approval) {
    constexpr std::string_view kOp = "state.save_approval";
    if (approval.request.id != approval.approval.id) {
        return core::make_error(core::ErrorKind::Invalid,
                                fmt::format("{}: approval {} is saved with request {}",
                                            kOp,
                                            approval.approval.id.str(),
                                            approval.request.id.str()));
    }
    auto tx = Transaction::begin(db_.get(), kOp);
    if (!tx) {
        return tx.error();
    }
    if (auto r = upsert_request(db_.get(), kOp, approval.request); !r) {
        return r;
    }
    if (auto r = upsert_approval(db_.get(), kOp, approval); !r) {
        return r;
    }
    if (auto r = replace_approvers(db_.get(), kOp, approval.approval); !r) {
        return r;
    }
    return tx->commit();
}

Result<std::vector<core::StoredApproval>> SqliteStore::open_approvals() {
    return load_approvals(db_.get(),
                          "state.open_approvals",
                          "WHERE a.state IN (?1, ?2) ORDER BY a.created_ms, a.rowid",
                          {std::string{core::to_string(core::ApprovalState::Pending)},
                           std::string{core::to_string(core::ApprovalState::Approved)}});
}

Result<std::optional<core::StoredApproval>> SqliteStore::find_approval(const core::RequestId& id) {
    auto found =
        load_approvals(db_.get(), "state.find_approval", "WHERE a.request_id = ?1", {id.str()});
    if (!found) {
        return found.error();
    }
    if (found->empty()) {
        return std::optional<core::StoredApproval>{};
    }
    return std::optional<core::StoredApproval>{std::move(found->front())};
}

}  // namespace rollbot::store
