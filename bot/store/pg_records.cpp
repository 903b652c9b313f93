// PgStore: runs and their steps. The outbox and dedupe keys are in pg_outbox.cpp.

#include "bot/store/codec.hpp"
#include "bot/store/pg_store.hpp"

#include <fmt/format.h>

namespace rollbot::store {
namespace {

namespace asio = boost::asio;
using core::Result;
using pg::param;
using pg::Param;

core::Error unreadable(std::string_view op, std::string_view what, std::string_view value) {
    return core::make_error(
        core::ErrorKind::Storage,
        fmt::format("{}: unknown {} \"{}\" in the state database", op, what, value));
}

core::Error run_not_found(std::string_view op, const core::RequestId& id) {
    return core::make_error(core::ErrorKind::NotFound,
                            fmt::format("{}: no run of request {}", op, id.str()));
}

constexpr std::string_view kSelectRun = R"sql(
    SELECT request_id, requester, what, state, started_ms, finished_ms, card_channel, card_ts
    FROM runs)sql";

Result<core::StoredRun> read_run(std::string_view op, const pg::Rows& rows, int i) {
    core::StoredRun run;
    run.id = core::RequestId{rows.text(i, 0)};
    run.requester = core::UserId{rows.text(i, 1)};
    run.what = rows.text(i, 2);
    const auto state = core::run_state_from_string(rows.text(i, 3));
    if (!state) {
        return unreadable(op, "run state", rows.text(i, 3));
    }
    run.state = *state;
    run.started = from_ms(rows.integer(i, 4));
    if (auto f = rows.opt_integer(i, 5)) {
        run.finished = from_ms(*f);
    }
    if (!rows.is_null(i, 6)) {
        run.card =
            core::MessageRef{core::ChannelId{rows.text(i, 6)}, core::MessageTs{rows.text(i, 7)}};
    }
    return run;
}

asio::awaitable<Result<void>> load_steps(pg::Session& s,
                                         std::string_view op,
                                         core::StoredRun& run) {
    std::vector<Param> p{param(run.id.str())};
    auto rows = co_await s.query(op,
                                 R"sql(
        SELECT n, command, outcome, exit_code, duration_ms, digest
        FROM steps WHERE request_id = $1 ORDER BY n)sql",
                                 std::move(p));
    if (!rows) {
        co_return rows.error();
    }
    for (int i = 0; i < rows->size(); ++i) {
        core::StoredStep step;
        step.n = static_cast<int>(rows->integer(i, 0));
        step.command = rows->text(i, 1);
        const auto outcome = core::step_outcome_from_string(rows->text(i, 2));
        if (!outcome) {
            co_return unreadable(op, "step outcome", rows->text(i, 2));
        }
        step.outcome = *outcome;
        if (auto code = rows->opt_integer(i, 3)) {
            step.exit_code = static_cast<int>(*code);
        }
        step.duration = core::Duration{rows->integer(i, 4)};
        step.digest = rows->text(i, 5);
        run.steps.push_back(std::move(step));
    }
    co_return Result<void>{};
}

// The runs `sql` selects, each with its steps, inside the session's current transaction.
asio::awaitable<Result<std::vector<core::StoredRun>>> load_runs(pg::Session& s,
                                                                std::string_view op,
                                                                std::string sql,
                                                                std::vector<Param> params) {
    auto rows = co_await s.query(op, std::move(sql), std::move(params));
    if (!rows) {
        co_return rows.error();
    }
    std::vector<core::StoredRun> runs;
    for (int i = 0; i < rows->size(); ++i) {
        auto run = read_run(op, *rows, i);
        if (!run) {
            co_return run.error();
        }
        if (auto r = co_await load_steps(s, op, *run); !r) {
            co_return r.error();
        }
        runs.push_back(std::move(*run));
    }
    co_return runs;
}

// load_runs in a read-only snapshot of its own.
asio::awaitable<Result<std::vector<core::StoredRun>>> read_runs(pg::Connection& db,
                                                                std::string_view op,
                                                                std::string sql,
                                                                std::vector<Param> params) {
    auto s = co_await db.session(op);
    if (!s) {
        co_return s.error();
    }
    if (auto r = co_await s->begin(op, "REPEATABLE READ READ ONLY"); !r) {
        co_return r.error();
    }
    auto runs = co_await load_runs(*s, op, std::move(sql), std::move(params));
    if (!runs) {
        co_return runs.error();
    }
    if (auto r = co_await s->commit(op); !r) {
        co_return r.error();
    }
    co_return runs;
}

std::vector<Param> step_params(const core::RequestId& id, const core::StoredStep& step) {
    return {param(id.str()),
            param(std::int64_t{step.n}),
            param(step.command),
            param(core::to_string(step.outcome)),
            step.exit_code ? param(std::int64_t{*step.exit_code}) : Param{},
            param(static_cast<std::int64_t>(step.duration.count())),
            param(step.digest)};
}

constexpr std::string_view kInsertStep = R"sql(
    INSERT INTO steps (request_id, n, command, outcome, exit_code, duration_ms, digest)
    VALUES ($1, $2, $3, $4, $5, $6, $7))sql";

}  // namespace

core::StateStore::Await<Result<void>> PgStore::run_started(core::StoredRun run) {
    constexpr std::string_view kOp = "state.run_started";
    auto s = co_await begin_write(kOp);
    if (!s) {
        co_return s.error();
    }
    std::vector<Param> p{param(run.id.str()),
                         param(run.requester.str()),
                         param(run.what),
                         param(core::to_string(run.state)),
                         param(to_ms(run.started)),
                         run.finished ? param(to_ms(*run.finished)) : Param{},
                         run.card ? param(run.card->channel.str()) : Param{},
                         run.card ? param(run.card->ts.str()) : Param{}};
    auto inserted = co_await s->query(kOp,
                                      R"sql(
        INSERT INTO runs (request_id, requester, what, state, started_ms, finished_ms,
                          card_channel, card_ts)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8))sql",
                                      std::move(p));
    if (!inserted) {
        co_return inserted.error();
    }
    for (const auto& step : run.steps) {
        auto sp = step_params(run.id, step);
        if (auto r = co_await s->query(kOp, std::string(kInsertStep), std::move(sp)); !r) {
            co_return r.error();
        }
    }
    co_return co_await s->commit(kOp);
}

core::StateStore::Await<Result<void>> PgStore::step_finished(core::RequestId id,
                                                             core::StoredStep step) {
    constexpr std::string_view kOp = "state.step_finished";
    // One statement: the step is inserted only if its run exists (no row: NotFound).
    std::string sql =
        "INSERT INTO steps (request_id, n, command, outcome, exit_code, duration_ms, digest) "
        "SELECT $1::text, $2::integer, $3::text, $4::text, $5::integer, $6::bigint, $7::text "
        "WHERE EXISTS (SELECT 1 FROM runs WHERE request_id = $1)";
    auto p = step_params(id, step);
    auto missing = run_not_found(kOp, id);
    co_return co_await change_one(kOp, std::move(sql), std::move(p), std::move(missing));
}

core::StateStore::Await<Result<void>> PgStore::run_finished(core::RequestId id,
                                                            core::RunState state,
                                                            core::WallTime at) {
    constexpr std::string_view kOp = "state.run_finished";
    std::vector<Param> p{param(id.str()), param(core::to_string(state)), param(to_ms(at))};
    std::string sql = "UPDATE runs SET state = $2, finished_ms = $3 WHERE request_id = $1";
    auto missing = run_not_found(kOp, id);
    co_return co_await change_one(kOp, std::move(sql), std::move(p), std::move(missing));
}

core::StateStore::Await<Result<std::vector<core::StoredRun>>> PgStore::interrupt_running(
    core::WallTime at) {
    constexpr std::string_view kOp = "state.interrupt_running";
    auto s = co_await begin_write(kOp);
    if (!s) {
        co_return s.error();
    }
    const std::string running(core::to_string(core::RunState::Running));
    std::vector<Param> p{param(running)};
    auto sql = fmt::format("{} WHERE state = $1 ORDER BY started_ms, ord FOR UPDATE", kSelectRun);
    auto runs = co_await load_runs(*s, kOp, std::move(sql), std::move(p));
    if (!runs) {
        co_return runs.error();
    }
    std::vector<Param> u{
        param(running), param(core::to_string(core::RunState::Interrupted)), param(to_ms(at))};
    auto updated = co_await s->query(
        kOp, "UPDATE runs SET state = $2, finished_ms = $3 WHERE state = $1", std::move(u));
    if (!updated) {
        co_return updated.error();
    }
    if (auto r = co_await s->commit(kOp); !r) {
        co_return r.error();
    }
    for (auto& run : *runs) {
        run.state = core::RunState::Interrupted;
        run.finished = from_ms(to_ms(at));
    }
    co_return runs;
}

core::StateStore::Await<Result<std::optional<core::StoredRun>>> PgStore::find_run(
    core::RequestId id) {
    std::vector<Param> p{param(id.str())};
    auto sql = fmt::format("{} WHERE request_id = $1", kSelectRun);
    auto runs = co_await read_runs(*db_, "state.find_run", std::move(sql), std::move(p));
    if (!runs) {
        co_return runs.error();
    }
    if (runs->empty()) {
        co_return std::optional<core::StoredRun>{};
    }
    co_return std::optional<core::StoredRun>{std::move(runs->front())};
}

core::StateStore::Await<Result<std::vector<core::StoredRun>>> PgStore::recent_runs(int limit) {
    std::vector<Param> p{param(std::int64_t{limit < 0 ? 0 : limit})};
    auto sql = fmt::format("{} ORDER BY started_ms DESC, ord DESC LIMIT $1", kSelectRun);
    co_return co_await read_runs(*db_, "state.recent_runs", std::move(sql), std::move(p));
}

core::StateStore::Await<Result<void>> PgStore::change_one(std::string_view op,
                                                          std::string sql,
                                                          std::vector<Param> params,
                                                          core::Error missing) {
    auto s = co_await begin_write(op);
    if (!s) {
        co_return s.error();
    }
    auto rows = co_await s->query(op, std::move(sql), std::move(params));
    if (!rows) {
        co_return rows.error();
    }
    if (rows->affected() == 0) {
        co_return missing;
    }
    co_return co_await s->commit(op);
}

}  // namespace rollbot::store
