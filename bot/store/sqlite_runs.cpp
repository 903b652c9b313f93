// SqliteStore: runs and their steps.

#include "bot/store/sqlite_db.hpp"
#include "bot/store/sqlite_store.hpp"

#include <fmt/format.h>

namespace rollbot::store {
namespace {

using core::Result;

// States and outcomes are stored by their to_string names; anything else was not written by
// rollbot and is reported, not guessed at.
core::Error unreadable(std::string_view op, std::string_view what, std::string_view value) {
    return core::make_error(
        core::ErrorKind::Storage,
        fmt::format("{}: unknown {} \"{}\" in the state file", op, what, value));
}

constexpr std::string_view kSelectRun = R"sql(
    SELECT request_id, requester, what, state, started_ms, finished_ms, card_channel, card_ts
    FROM runs)sql";

Result<core::StoredRun> read_run(const Statement& st, std::string_view op) {
    core::StoredRun run;
    run.id = core::RequestId{st.text(0)};
    run.requester = core::UserId{st.text(1)};
    run.what = st.text(2);
    const auto state = core::run_state_from_string(st.text(3));
    if (!state) {
        return unreadable(op, "run state", st.text(3));
    }
    run.state = *state;
    run.started = from_ms(st.int64(4));
    if (auto f = st.opt_int64(5)) {
        run.finished = from_ms(*f);
    }
    if (!st.is_null(6)) {
        run.card = core::MessageRef{core::ChannelId{st.text(6)}, core::MessageTs{st.text(7)}};
    }
    return run;
}

Result<void> load_steps(sqlite3* db, std::string_view op, core::StoredRun& run) {
    auto st = Statement::prepare(db, op, R"sql(
        SELECT n, command, outcome, exit_code, duration_ms, digest
        FROM steps WHERE request_id = ?1 ORDER BY n)sql");
    if (!st) {
        return st.error();
    }
    st->bind(1, run.id.str());
    return for_each_row(*st, [&]() -> Result<void> {
        core::StoredStep step;
        step.n = static_cast<int>(st->int64(0));
        step.command = st->text(1);
        const auto outcome = core::step_outcome_from_string(st->text(2));
        if (!outcome) {
            return unreadable(op, "step outcome", st->text(2));
        }
        step.outcome = *outcome;
        if (auto code = st->opt_int64(3)) {
            step.exit_code = static_cast<int>(*code);
        }
        step.duration = core::Duration{st->int64(4)};
        step.digest = st->text(5);
        run.steps.push_back(std::move(step));
        return {};
    });
}

// The runs `sql` selects (parameters bound by `bind`), each with its steps.
template <class Bind>
Result<std::vector<core::StoredRun>> load_runs(sqlite3* db,
                                               std::string_view op,
                                               std::string_view sql,
                                               Bind&& bind) {
    auto st = Statement::prepare(db, op, sql);
    if (!st) {
        return st.error();
    }
    bind(*st);
    std::vector<core::StoredRun> runs;
    auto r = for_each_row(*st, [&]() -> Result<void> {
        auto run = read_run(*st, op);
        if (!run) {
            return run.error();
        }
        runs.push_back(std::move(*run));
        return {};
    });
    if (!r) {
        return r.error();
    }
    for (auto& run : runs) {
        if (auto s = load_steps(db, op, run); !s) {
            return s.error();
        }
    }
    return runs;
}

Result<void> insert_step(sqlite3* db,
                         std::string_view op,
                         const core::RequestId& id,
                         const core::StoredStep& step) {
    auto st = Statement::prepare(db, op, R"sql(
        INSERT INTO steps (request_id, n, command, outcome, exit_code, duration_ms, digest)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7))sql");
    if (!st) {
        return st.error();
    }
    std::optional<std::int64_t> code;
    if (step.exit_code) {
        code = *step.exit_code;
    }
    st->bind(1, id.str())
        .bind(2, std::int64_t{step.n})
        .bind(3, step.command)
        .bind(4, core::to_string(step.outcome))
        .bind_opt(5, code)
        .bind(6, static_cast<std::int64_t>(step.duration.count()))
        .bind(7, step.digest);
    return st->run();
}

Result<bool> run_exists(sqlite3* db, std::string_view op, const core::RequestId& id) {
    auto st = Statement::prepare(db, op, "SELECT 1 FROM runs WHERE request_id = ?1");
    if (!st) {
        return st.error();
    }
    st->bind(1, id.str());
    return st->step();
}

core::Error run_not_found(std::string_view op, const core::RequestId& id) {
    return core::make_error(core::ErrorKind::NotFound,
                            fmt::format("{}: no run of request {}", op, id.str()));
}

}  // namespace

Result<void> SqliteStore::run_started(const core::StoredRun& run) {
    constexpr std::string_view kOp = "state.run_started";
    auto tx = Transaction::begin(db_.get(), kOp);
    if (!tx) {
        return tx.error();
    }
    auto st = Statement::prepare(db_.get(), kOp, R"sql(
        INSERT INTO runs (request_id, requester, what, state, started_ms, finished_ms,
                          card_channel, card_ts)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8))sql");
    if (!st) {
        return st.error();
    }
    std::optional<std::int64_t> finished;
    if (run.finished) {
        finished = to_ms(*run.finished);
    }
    st->bind(1, run.id.str())
        .bind(2, run.requester.str())
        .bind(3, run.what)
        .bind(4, core::to_string(run.state))
        .bind(5, to_ms(run.started))
        .bind_opt(6, finished);
    if (run.card) {
        st->bind(7, run.card->channel.str()).bind(8, run.card->ts.str());
    } else {
        st->bind_null(7).bind_null(8);
    }
    if (auto r = st->run(); !r) {
        return r;
    }
    for (const auto& step : run.steps) {
        if (auto r = insert_step(db_.get(), kOp, run.id, step); !r) {
            return r;
        }
    }
    return tx->commit();
}

Result<void> SqliteStore::step_finished(const core::RequestId& id, const core::StoredStep& step) {
    constexpr std::string_view kOp = "state.step_finished";
    auto tx = Transaction::begin(db_.get(), kOp);
    if (!tx) {
        return tx.error();
    }
    auto exists = run_exists(db_.get(), kOp, id);
    if (!exists) {
        return exists.error();
    }
    if (!*exists) {
        return run_not_found(kOp, id);
    }
    if (auto r = insert_step(db_.get(), kOp, id, step); !r) {
        return r;
    }
    return tx->commit();
}

Result<void> SqliteStore::run_finished(const core::RequestId& id,
                                       core::RunState state,
                                       core::WallTime at) {
    constexpr std::string_view kOp = "state.run_finished";
    auto st = Statement::prepare(
        db_.get(), kOp, "UPDATE runs SET state = ?2, finished_ms = ?3 WHERE request_id = ?1");
    if (!st) {
        return st.error();
    }
    st->bind(1, id.str()).bind(2, core::to_string(state)).bind(3, to_ms(at));
    if (auto r = st->run(); !r) {
        return r;
    }
    if (sqlite3_changes(db_.get()) == 0) {
        return run_not_found(kOp, id);
    }
    return {};
}

Result<std::vector<core::StoredRun>> SqliteStore::interrupt_running(core::WallTime at) {
    constexpr std::string_view kOp = "state.interrupt_running";
    auto tx = Transaction::begin(db_.get(), kOp);
    if (!tx) {
        return tx.error();
    }
    auto runs =
        load_runs(db_.get(),
                  kOp,
                  fmt::format("{} WHERE state = ?1 ORDER BY started_ms, rowid", kSelectRun),
                  [](Statement& st) { st.bind(1, core::to_string(core::RunState::Running)); });
    if (!runs) {
        return runs.error();
    }
    auto st = Statement::prepare(
        db_.get(), kOp, "UPDATE runs SET state = ?2, finished_ms = ?3 WHERE state = ?1");
    if (!st) {
        return st.error();
    }
    st->bind(1, core::to_string(core::RunState::Running))
        .bind(2, core::to_string(core::RunState::Interrupted))
        .bind(3, to_ms(at));
    if (auto r = st->run(); !r) {
        return r.error();
    }
    if (auto r = tx->commit(); !r) {
        return r.error();
    }
    for (auto& run : *runs) {
        run.state = core::RunState::Interrupted;
        run.finished = from_ms(to_ms(at));
    }
    return runs;
}

Result<std::optional<core::StoredRun>> SqliteStore::find_run(const core::RequestId& id) {
    constexpr std::string_view kOp = "state.find_run";
    auto tx = Transaction::begin_read(db_.get(), kOp);
    if (!tx) {
        return tx.error();
    }
    auto runs = load_runs(
        db_.get(), kOp, fmt::format("{} WHERE request_id = ?1", kSelectRun), [&](Statement& st) {
            st.bind(1, id.str());
        });
    if (!runs) {
        return runs.error();
    }
    if (auto r = tx->commit(); !r) {
        return r.error();
    }
    if (runs->empty()) {
        return std::optional<core::StoredRun>{};
    }
    return std::optional<core::StoredRun>{std::move(runs->front())};
}

Result<std::vector<core::StoredRun>> SqliteStore::recent_runs(int limit) {
    constexpr std::string_view kOp = "state.recent_runs";
    auto tx = Transaction::begin_read(db_.get(), kOp);
    if (!tx) {
        return tx.error();
    }
    // rowid breaks ties between runs started in the same millisecond: later insert, newer.
    auto runs =
        load_runs(db_.get(),
                  kOp,
                  fmt::format("{} ORDER BY started_ms DESC, rowid DESC LIMIT ?1", kSelectRun),
                  [&](Statement& st) { st.bind(1, std::int64_t{limit < 0 ? 0 : limit}); });
    if (!runs) {
        return runs.error();
    }
    if (auto r = tx->commit(); !r) {
        return r.error();
    }
    return runs;
}

}  // namespace rollbot::store
