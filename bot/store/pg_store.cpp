// PgStore: opening, request numbers, approvals. Runs, the outbox and dedupe keys are in
// pg_records.cpp, the audit chain in pg_audit.cpp, the schema in pg_schema.cpp.

#include "bot/store/pg_store.hpp"

#include "bot/store/codec.hpp"

#include <fmt/format.h>

namespace rollbot::store {
namespace {

namespace asio = boost::asio;
using core::Result;
using pg::param;
using pg::Param;

asio::awaitable<Result<void>> upsert_request(pg::Session& s,
                                             std::string_view op,
                                             core::StoredRequest r) {
    std::vector<Param> p{param(r.id.str()),
                         param(r.requester.str()),
                         param(r.channel.str()),
                         param(r.command_text),
                         param(to_ms(r.received_at))};
    auto done = co_await s.query(op,
                                 R"sql(
        INSERT INTO requests (id, requester, channel, command_text, received_at_ms)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (id) DO UPDATE SET requester = $2, channel = $3, command_text = $4,
                                       received_at_ms = $5)sql",
                                 std::move(p));
    if (!done) {
        co_return done.error();
    }
    co_return Result<void>{};
}

asio::awaitable<Result<void>> upsert_approval(pg::Session& s,
                                              std::string_view op,
                                              const core::StoredApproval& a) {
    const auto& v = a.approval;
    std::vector<Param> p{
        param(v.id.str()),
        param(core::to_string(v.kind)),
        param(v.requester.str()),
        v.card ? param(v.card->channel.str()) : Param{},
        v.card ? param(v.card->ts.str()) : Param{},
        param(v.plan_id),
        param(core::to_string(v.state)),
        param(to_ms(v.created)),
        param(to_ms(v.expires_at)),
        v.decided_by ? param(v.decided_by->str()) : Param{},
        param(a.card_text),
    };
    auto done = co_await s.query(op,
                                 R"sql(
        INSERT INTO approvals (request_id, kind, requester, card_channel, card_ts, plan_id, state,
                               created_ms, expires_ms, decided_by, card_text)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        ON CONFLICT (request_id) DO UPDATE SET kind = $2, requester = $3, card_channel = $4,
            card_ts = $5, plan_id = $6, state = $7, created_ms = $8, expires_ms = $9,
            decided_by = $10, card_text = $11)sql",
                                 std::move(p));
    if (!done) {
        co_return done.error();
    }
    co_return Result<void>{};
}

// Rewrites the approvers of one approval: users (keys of either map), then their reactions and
// groups. Deleting the users cascades to both child tables.
asio::awaitable<Result<void>> replace_approvers(pg::Session& s,
                                                std::string_view op,
                                                const core::ApprovalSnapshot& a) {
    const std::string& id = a.id.str();
    std::vector<Param> del{param(id)};
    if (auto r = co_await s.query(op, "DELETE FROM approval_users WHERE request_id = $1", del);
        !r) {
        co_return r.error();
    }
    std::map<std::string, std::pair<bool, bool>> users;  // counted, has groups
    for (const auto& [u, reactions] : a.approvals) {
        users[u.str()].first = true;
    }
    for (const auto& [u, groups] : a.approver_groups) {
        users[u.str()].second = true;
    }
    for (const auto& [u, flags] : users) {
        std::vector<Param> p{param(id),
                             param(u),
                             param(flags.first ? "true" : "false"),
                             param(flags.second ? "true" : "false")};
        auto r = co_await s.query(
            op,
            "INSERT INTO approval_users (request_id, user_id, counted, has_groups) "
            "VALUES ($1, $2, $3, $4)",
            std::move(p));
        if (!r) {
            co_return r.error();
        }
    }
    for (const auto& [u, reactions] : a.approvals) {
        for (const auto& name : reactions) {
            std::vector<Param> p{param(id), param(u.str()), param(name)};
            auto r =
                co_await s.query(op,
                                 "INSERT INTO approval_reactions (request_id, user_id, reaction) "
                                 "VALUES ($1, $2, $3)",
                                 std::move(p));
            if (!r) {
                co_return r.error();
            }
        }
    }
    for (const auto& [u, groups] : a.approver_groups) {
        for (std::size_t i = 0; i < groups.size(); ++i) {
            std::vector<Param> p{param(id),
                                 param(u.str()),
                                 param(static_cast<std::int64_t>(i)),
                                 param(groups[i].str())};
            auto r =
                co_await s.query(op,
                                 "INSERT INTO approval_groups (request_id, user_id, pos, group_id) "
                                 "VALUES ($1, $2, $3, $4)",
                                 std::move(p));
            if (!r) {
                co_return r.error();
            }
        }
    }
    co_return Result<void>{};
}

asio::awaitable<Result<void>> load_approvers(pg::Session& s,
                                             std::string_view op,
                                             core::ApprovalSnapshot& a) {
    std::vector<Param> id{param(a.id.str())};
    auto users = co_await s.query(
        op, "SELECT user_id, counted, has_groups FROM approval_users WHERE request_id = $1", id);
    auto reactions = co_await s.query(
        op, "SELECT user_id, reaction FROM approval_reactions WHERE request_id = $1", id);
    auto groups = co_await s.query(op,
                                   "SELECT user_id, group_id FROM approval_groups "
                                   "WHERE request_id = $1 ORDER BY user_id, pos",
                                   id);
    for (auto* r : {&users, &reactions, &groups}) {
        if (!*r) {
            co_return r->error();
        }
    }
    for (int i = 0; i < users->size(); ++i) {
        const core::UserId u{users->text(i, 0)};
        if (users->text(i, 1) == "t") {
            a.approvals.try_emplace(u);
        }
        if (users->text(i, 2) == "t") {
            a.approver_groups.try_emplace(u);
        }
    }
    for (int i = 0; i < reactions->size(); ++i) {
        a.approvals[core::UserId{reactions->text(i, 0)}].insert(reactions->text(i, 1));
    }
    for (int i = 0; i < groups->size(); ++i) {
        a.approver_groups[core::UserId{groups->text(i, 0)}].emplace_back(groups->text(i, 1));
    }
    co_return Result<void>{};
}

constexpr std::string_view kSelectApproval = R"sql(
    SELECT r.id, r.requester, r.channel, r.command_text, r.received_at_ms,
           a.kind, a.requester, a.card_channel, a.card_ts, a.plan_id, a.state,
           a.created_ms, a.expires_ms, a.decided_by, a.card_text
    FROM approvals a JOIN requests r ON r.id = a.request_id)sql";

// Row `i` of kSelectApproval, without its approvers.
Result<core::StoredApproval> read_approval(std::string_view op, const pg::Rows& rows, int i) {
    core::StoredApproval a;
    a.request.id = core::RequestId{rows.text(i, 0)};
    a.request.requester = core::UserId{rows.text(i, 1)};
    a.request.channel = core::ChannelId{rows.text(i, 2)};
    a.request.command_text = rows.text(i, 3);
    a.request.received_at = from_ms(rows.integer(i, 4));
    auto& s = a.approval;
    s.id = a.request.id;
    const auto kind = action_kind_from_string(rows.text(i, 5));
    const auto state = core::approval_state_from_string(rows.text(i, 10));
    if (!kind || !state) {
        return storage_error(op,
                             fmt::format(R"(approval {} has an unknown kind "{}" or state "{}")",
                                         s.id.str(),
                                         rows.text(i, 5),
                                         rows.text(i, 10)));
    }
    s.kind = *kind;
    s.state = *state;
    s.requester = core::UserId{rows.text(i, 6)};
    if (!rows.is_null(i, 7)) {
        s.card =
            core::MessageRef{core::ChannelId{rows.text(i, 7)}, core::MessageTs{rows.text(i, 8)}};
    }
    s.plan_id = rows.text(i, 9);
    s.created = from_ms(rows.integer(i, 11));
    s.expires_at = from_ms(rows.integer(i, 12));
    if (auto by = rows.opt_text(i, 13)) {
        s.decided_by = core::UserId{*by};
    }
    a.card_text = rows.text(i, 14);
    return a;
}

// The approvals matching `where` (bound to `params`), with their approvers, in one snapshot.
asio::awaitable<Result<std::vector<core::StoredApproval>>> load_approvals(
    pg::Connection& db, std::string_view op, std::string where, std::vector<Param> params) {
    auto s = co_await db.session(op);
    if (!s) {
        co_return s.error();
    }
    if (auto r = co_await s->begin(op, "REPEATABLE READ READ ONLY"); !r) {
        co_return r.error();
    }
    auto sql = fmt::format("{} {}", kSelectApproval, where);
    auto rows = co_await s->query(op, std::move(sql), std::move(params));
    if (!rows) {
        co_return rows.error();
    }
    std::vector<core::StoredApproval> out;
    for (int i = 0; i < rows->size(); ++i) {
        auto a = read_approval(op, *rows, i);
        if (!a) {
            co_return a.error();
        }
        if (auto r = co_await load_approvers(*s, op, a->approval); !r) {
            co_return r.error();
        }
        out.push_back(std::move(*a));
    }
    if (auto r = co_await s->commit(op); !r) {
        co_return r.error();
    }
    co_return out;
}

}  // namespace

core::StateStore::Await<Result<std::unique_ptr<PgStore>>> PgStore::open(
    asio::any_io_executor executor, std::string url, pg::Options options) {
    auto store = std::make_unique<PgStore>(std::move(executor), std::move(url), options);
    if (auto r = co_await store->prepare(); !r) {
        co_return r.error();
    }
    co_return std::move(store);
}

core::StateStore::Await<Result<void>> PgStore::prepare() {
    co_return co_await migrate_pg_schema(*db_);
}

core::StateStore::Await<Result<pg::Session>> PgStore::begin_write(std::string_view op) {
    auto s = co_await db_->session(op);
    if (!s) {
        co_return s.error();
    }
    if (fence_term_ == 0) {
        if (auto r = co_await s->begin(op, "READ COMMITTED"); !r) {
            co_return r.error();
        }
        co_return std::move(*s);
    }
    // FOR SHARE: a takeover's UPDATE of the lease row waits until this write has committed,
    // so no write of an old term can land after a new term began. The term is our own integer.
    auto check =
        fmt::format("SELECT 1 FROM leader_lease WHERE id = 1 AND term = {} FOR SHARE", fence_term_);
    auto rows = co_await s->begin_with(op, "READ COMMITTED", std::move(check));
    if (!rows) {
        co_return rows.error();
    }
    if (rows->size() != 1) {
        co_return core::make_error(
            core::ErrorKind::Conflict,
            fmt::format("{}: fenced: term {} is no longer the leader's (another replica took "
                        "over); nothing was written",
                        op,
                        fence_term_));
    }
    co_return std::move(*s);
}

core::StateStore::Await<Result<void>> PgStore::confirm_term() {
    constexpr std::string_view kOp = "state.confirm_term";
    auto s = co_await begin_write(kOp);
    if (!s) {
        co_return s.error();
    }
    co_return co_await s->commit(kOp);
}

core::StateStore::Await<Result<core::RequestId>> PgStore::next_request_id() {
    constexpr std::string_view kOp = "state.next_request_id";
    // Atomic on its own, and two replicas never hand out the same number.
    auto s = co_await begin_write(kOp);
    if (!s) {
        co_return s.error();
    }
    std::vector<Param> none;
    auto rows = co_await s->query(kOp,
                                  R"sql(
        INSERT INTO counters (name, value) VALUES ('request', 1)
        ON CONFLICT (name) DO UPDATE SET value = counters.value + 1
        RETURNING value)sql",
                                  std::move(none));
    if (!rows) {
        co_return rows.error();
    }
    if (rows->size() != 1) {
        co_return storage_error(kOp, "the counter returned no value");
    }
    if (auto r = co_await s->commit(kOp); !r) {
        co_return r.error();
    }
    co_return core::RequestId{fmt::format("R{}", rows->integer(0, 0))};
}

Result<void> PgStore::check_writable() {
    if (!db_->healthy()) {
        return core::make_error(core::ErrorKind::Network,
                                "state.check_writable: no working connection to PostgreSQL");
    }
    return {};
}

core::StateStore::Await<Result<void>> PgStore::save_approval(core::StoredApproval approval) {
    constexpr std::string_view kOp = "state.save_approval";
    if (approval.request.id != approval.approval.id) {
        co_return core::make_error(core::ErrorKind::Invalid,
                                   fmt::format("{}: approval {} is saved with request {}",
                                               kOp,
                                               approval.approval.id.str(),
                                               approval.request.id.str()));
    }
    auto s = co_await begin_write(kOp);
    if (!s) {
        co_return s.error();
    }
    if (auto r = co_await upsert_request(*s, kOp, approval.request); !r) {
        co_return r.error();
    }
    if (auto r = co_await upsert_approval(*s, kOp, approval); !r) {
        co_return r.error();
    }
    if (auto r = co_await replace_approvers(*s, kOp, approval.approval); !r) {
        co_return r.error();
    }
    co_return co_await s->commit(kOp);
}

core::StateStore::Await<Result<std::vector<core::StoredApproval>>> PgStore::open_approvals() {
    std::vector<Param> p{param(core::to_string(core::ApprovalState::Pending)),
                         param(core::to_string(core::ApprovalState::Approved))};
    std::string where = "WHERE a.state IN ($1, $2) ORDER BY a.created_ms, a.ord";
    co_return co_await load_approvals(*db_, "state.open_approvals", std::move(where), std::move(p));
}

core::StateStore::Await<Result<std::optional<core::StoredApproval>>> PgStore::find_approval(
    core::RequestId id) {
    std::vector<Param> p{param(id.str())};
    std::string where = "WHERE a.request_id = $1";
    auto found =
        co_await load_approvals(*db_, "state.find_approval", std::move(where), std::move(p));
    if (!found) {
        co_return found.error();
    }
    if (found->empty()) {
        co_return std::optional<core::StoredApproval>{};
    }
    co_return std::optional<core::StoredApproval>{std::move(found->front())};
}

}  // namespace rollbot::store
