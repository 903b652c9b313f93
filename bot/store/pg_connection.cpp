// pg::Connection and pg::Session: taking turns on one connection, transactions that roll back
// when abandoned, and the state they share. The wire protocol is in pg_wire.cpp.

#include "bot/store/pg_connection.hpp"

#include "bot/store/pg_state.hpp"

#include <fmt/format.h>

namespace rollbot::store::pg {

// --- Session ----------------------------------------------------------------------------------

Session::Session(std::shared_ptr<detail::ConnectionState> state) : state_(std::move(state)) {}

Session::Session(Session&& other) noexcept
    : state_(std::move(other.state_)), in_transaction_(other.in_transaction_) {}

Session::~Session() {
    if (state_) {
        state_->rollback_pending_ = state_->rollback_pending_ || in_transaction_;
        state_->release();
    }
}

asio::awaitable<Result<Rows>> Session::query(std::string_view op,
                                             std::string sql,
                                             std::vector<Param> params) {
    co_return co_await state_->round_trip(op, std::move(sql), std::move(params));
}

asio::awaitable<Result<void>> Session::begin(std::string_view op, std::string level) {
    auto sql = fmt::format("BEGIN ISOLATION LEVEL {}", level);
    std::vector<Param> none;
    in_transaction_ = true;
    auto r = co_await state_->round_trip(op, std::move(sql), std::move(none));
    if (!r) {
        co_return r.error();
    }
    co_return Result<void>{};
}

asio::awaitable<Result<Rows>> Session::begin_with(std::string_view op,
                                                  std::string level,
                                                  std::string first) {
    // The simple query protocol runs both statements in one message; BEGIN's own answer comes
    // first and the rows of `first` last.
    auto sql = fmt::format("BEGIN ISOLATION LEVEL {}; {}", level, first);
    std::vector<Param> none;
    in_transaction_ = true;
    co_return co_await state_->round_trip(op, std::move(sql), std::move(none));
}

asio::awaitable<Result<void>> Session::commit(std::string_view op) {
    std::vector<Param> none;
    auto r = co_await state_->round_trip(op, "COMMIT", std::move(none));
    // Whatever the answer, the transaction is over: COMMIT of a failed transaction rolls back.
    in_transaction_ = false;
    if (!r) {
        co_return r.error();
    }
    co_return Result<void>{};
}

// --- Connection -------------------------------------------------------------------------------

Connection::Connection(const asio::any_io_executor& executor, std::string conninfo, Options options)
    : state_(std::make_shared<detail::ConnectionState>(executor, std::move(conninfo), options)) {}

// The state lives on while a Session (a suspended coroutine) holds it; the connection itself
// is closed now.
Connection::~Connection() {
    state_->drop();
}

asio::awaitable<Result<std::unique_ptr<Connection>>> Connection::open(
    asio::any_io_executor executor, std::string conninfo, Options options) {
    auto c = std::make_unique<Connection>(std::move(executor), std::move(conninfo), options);
    {
        auto s = co_await c->session("state.connect");  // connects
        if (!s) {
            co_return s.error();
        }
    }
    co_return std::move(c);
}

bool Connection::healthy() const {
    return state_->conn_ != nullptr && PQstatus(state_->conn_) == CONNECTION_OK;
}

int Connection::backend_pid() const {
    return state_->conn_ != nullptr ? PQbackendPID(state_->conn_) : 0;
}

std::chrono::steady_clock::time_point Connection::last_success() const {
    return state_->last_success_;
}

const std::string& Connection::last_failure() const {
    return state_->last_failure_;
}

asio::awaitable<Result<Session>> Connection::session(std::string_view op) {
    auto state = state_;  // alive while this waits, whatever happens to the Connection
    co_return co_await state->session(op);
}

void detail::ConnectionState::drop() noexcept {
    // The descriptor must let go of the socket before PQfinish closes it.
    io_.forget();
    if (conn_ != nullptr) {
        PQfinish(conn_);
        conn_ = nullptr;
    }
    in_flight_ = false;
    rollback_pending_ = false;
}

void detail::ConnectionState::release() noexcept {
    busy_ = false;
    try {
        io_.turn.cancel();  // every waiter re-checks busy_; the first to run takes the turn
    } catch (...) {
        // Only when the reactor itself failed; the waiters then fail on their own.
    }
}

core::Error detail::ConnectionState::broken(std::string_view op, std::string_view why) {
    drop();
    last_failure_ = fmt::format("{}: {}", op, why);
    return core::make_error(ErrorKind::Network, last_failure_);
}

asio::awaitable<Result<Session>> detail::ConnectionState::session(std::string_view op) {
    while (busy_) {
        io_.turn.expires_at(SteadyTime::max());
        co_await io_.turn.async_wait(kUse);
    }
    busy_ = true;
    Session s(shared_from_this());  // releases the turn on every path out
    if (in_flight_ || (conn_ != nullptr && PQstatus(conn_) != CONNECTION_OK)) {
        drop();  // an answer was never read in full, or the server went away
    }
    if (rollback_pending_ && conn_ != nullptr) {
        rollback_pending_ = false;
        std::vector<Param> none;
        if (auto r = co_await round_trip(op, "ROLLBACK", std::move(none)); !r) {
            drop();
        }
    }
    if (conn_ == nullptr) {
        if (auto r = co_await connect(op); !r) {
            co_return r.error();
        }
    }
    co_return std::move(s);
}

asio::awaitable<Result<Rows>> Connection::query(std::string_view op,
                                                std::string sql,
                                                std::vector<Param> params) {
    auto state = state_;
    auto s = co_await state->session(op);
    if (!s) {
        co_return s.error();
    }
    co_return co_await s->query(op, std::move(sql), std::move(params));
}
}  // namespace rollbot::store::pg
