#include "bot/store/pg_connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cstring>
#include <libpq-fe.h>

namespace rollbot::store::pg {

namespace asio = boost::asio;
using asio::experimental::awaitable_operators::operator||;
using core::ErrorKind;
using core::Result;
using SteadyTime = std::chrono::steady_clock::time_point;

namespace {

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

// The answer of a statement the server cancelled (statement_timeout) arrives at once; this
// margin only covers the network, so a reply still missing after it is a dead connection.
constexpr std::chrono::milliseconds kReplyMargin{2000};

// libpq ends its messages with a newline and may add a second line ("DETAIL: …").
std::string trimmed(const char* message) {
    std::string out = message != nullptr ? message : "";
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) {
        out.pop_back();
    }
    for (auto& c : out) {
        if (c == '\n') {
            c = ' ';
        }
    }
    return out.empty() ? std::string("unknown libpq error") : out;
}

// SQLSTATE classes (PostgreSQL Appendix A): what a caller can branch on.
ErrorKind kind_of(std::string_view sqlstate) {
    if (sqlstate == "23505" || sqlstate == "40001" || sqlstate == "40P01") {
        return ErrorKind::Conflict;  // unique violation, serialization failure, deadlock
    }
    if (sqlstate == "57014") {
        return ErrorKind::Timeout;  // statement_timeout
    }
    if (sqlstate.starts_with("08") || sqlstate.starts_with("57P")) {
        return ErrorKind::Network;  // connection exception, admin shutdown / crash
    }
    return ErrorKind::Storage;
}

// Quiets libpq's default notice processor (it writes NOTICEs such as "there is no transaction
// in progress" to stderr, which would interleave with the daemon's log).
void ignore_notice(void* /*arg*/, const char* /*message*/) {}

}  // namespace

struct Connection::Io {
    explicit Io(const asio::any_io_executor& executor)
        : socket(executor), timer(executor), turn(executor, SteadyTime::max()) {}

    asio::posix::stream_descriptor socket;
    asio::steady_timer timer;
    asio::steady_timer turn;  // cancelled whenever the connection is released
    int fd = -1;

    // libpq owns the socket: the descriptor only watches it and never closes it.
    void watch(int new_fd) {
        if (new_fd == fd) {
            return;
        }
        forget();
        if (new_fd >= 0) {
            socket.assign(new_fd);
            fd = new_fd;
        }
    }
    void forget() noexcept {
        if (fd >= 0) {
            boost::system::error_code ignored;
            socket.cancel(ignored);
            (void)socket.release();
            fd = -1;
        }
    }
};

enum class Ready { Read, Write, Deadline };

namespace {

// Waits for the socket to become readable (and, with `write`, writable) or the deadline.
asio::awaitable<Ready> wait_socket(asio::posix::stream_descriptor& socket,
                                   asio::steady_timer& timer,
                                   bool write,
                                   SteadyTime deadline) {
    timer.expires_at(deadline);
    auto readable = socket.async_wait(asio::posix::descriptor_base::wait_read, kUse);
    auto expired = timer.async_wait(kUse);
    if (!write) {
        auto r = co_await (std::move(readable) || std::move(expired));
        co_return r.index() == 0 ? Ready::Read : Ready::Deadline;
    }
    auto writable = socket.async_wait(asio::posix::descriptor_base::wait_write, kUse);
    auto r = co_await (std::move(readable) || std::move(writable) || std::move(expired));
    if (r.index() == 0) {
        co_return Ready::Read;
    }
    co_return r.index() == 1 ? Ready::Write : Ready::Deadline;
}

}  // namespace

// --- Rows -------------------------------------------------------------------------------------

void Rows::Clear::operator()(pg_result* r) const {
    PQclear(r);
}

Rows::Rows(pg_result* result) : result_(result) {}

int Rows::size() const {
    return result_ ? PQntuples(result_.get()) : 0;
}

std::int64_t Rows::affected() const {
    if (!result_) {
        return 0;
    }
    const char* n = PQcmdTuples(result_.get());
    std::int64_t out = 0;
    std::from_chars(n, n + std::strlen(n), out);
    return out;
}

bool Rows::is_null(int row, int column) const {
    ROLLBOT_CHECK(row < size() && column < PQnfields(result_.get()), "pg: no such row or column");
    return PQgetisnull(result_.get(), row, column) == 1;
}

std::string Rows::text(int row, int column) const {
    ROLLBOT_CHECK(row < size() && column < PQnfields(result_.get()), "pg: no such row or column");
    return {PQgetvalue(result_.get(), row, column),
            static_cast<std::size_t>(PQgetlength(result_.get(), row, column))};
}

std::int64_t Rows::integer(int row, int column) const {
    const std::string value = text(row, column);
    std::int64_t out = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
    ROLLBOT_CHECK(ec == std::errc{} && end == value.data() + value.size(),
                  "pg: a column read as an integer is not one");
    return out;
}

std::optional<std::string> Rows::opt_text(int row, int column) const {
    if (is_null(row, column)) {
        return std::nullopt;
    }
    return text(row, column);
}

std::optional<std::int64_t> Rows::opt_integer(int row, int column) const {
    if (is_null(row, column)) {
        return std::nullopt;
    }
    return integer(row, column);
}

// --- Session ----------------------------------------------------------------------------------

Session::Session(Session&& other) noexcept
    : connection_(other.connection_), in_transaction_(other.in_transaction_) {
    other.connection_ = nullptr;
}

Session::~Session() {
    if (connection_ != nullptr) {
        connection_->rollback_pending_ = connection_->rollback_pending_ || in_transaction_;
        connection_->release();
    }
}

asio::awaitable<Result<Rows>> Session::query(std::string_view op,
                                             std::string sql,
                                             std::vector<Param> params) {
    co_return co_await connection_->round_trip(op, std::move(sql), std::move(params));
}

asio::awaitable<Result<void>> Session::begin(std::string_view op, std::string level) {
    auto sql = fmt::format("BEGIN ISOLATION LEVEL {}", level);
    std::vector<Param> none;
    auto r = co_await connection_->round_trip(op, std::move(sql), std::move(none));
    if (!r) {
        co_return r.error();
    }
    in_transaction_ = true;
    co_return Result<void>{};
}

asio::awaitable<Result<void>> Session::commit(std::string_view op) {
    std::vector<Param> none;
    auto r = co_await connection_->round_trip(op, "COMMIT", std::move(none));
    // Whatever the answer, the transaction is over: COMMIT of a failed transaction rolls back.
    in_transaction_ = false;
    if (!r) {
        co_return r.error();
    }
    co_return Result<void>{};
}

// --- Connection -------------------------------------------------------------------------------

Connection::Connection(asio::any_io_executor executor, std::string conninfo, Options options)
    : io_(std::make_unique<Io>(executor)), conninfo_(std::move(conninfo)), options_(options) {}

Connection::~Connection() {
    drop();
}

asio::awaitable<Result<std::unique_ptr<Connection>>> Connection::open(
    asio::any_io_executor executor, std::string conninfo, Options options) {
    std::unique_ptr<Connection> c(
        new Connection(std::move(executor), std::move(conninfo), options));
    {
        auto s = co_await c->session("state.connect");  // connects
        if (!s) {
            co_return s.error();
        }
    }
    co_return std::move(c);
}

bool Connection::healthy() const {
    return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK;
}

int Connection::backend_pid() const {
    return conn_ != nullptr ? PQbackendPID(conn_) : 0;
}

std::chrono::steady_clock::time_point Connection::last_success() const {
    return last_success_;
}

void Connection::drop() noexcept {
    // The descriptor must let go of the socket before PQfinish closes it.
    io_->forget();
    if (conn_ != nullptr) {
        PQfinish(conn_);
        conn_ = nullptr;
    }
    in_flight_ = false;
    rollback_pending_ = false;
}

void Connection::release() noexcept {
    busy_ = false;
    boost::system::error_code ignored;
    io_->turn.cancel();  // every waiter re-checks busy_; the first to run takes the turn
}

core::Error Connection::broken(std::string_view op, std::string_view why) {
    drop();
    return core::make_error(ErrorKind::Network, fmt::format("{}: {}", op, why));
}

asio::awaitable<Result<void>> Connection::connect(std::string_view op) {
    drop();
    const auto deadline = std::chrono::steady_clock::now() + options_.connect_timeout;
    // Defaults first, then the operator's URL (expand_dbname), which may override any of them.
    // Keepalives and tcp_user_timeout notice a dead peer within seconds, well inside a lease,
    // instead of after the kernel's two hours of idle and fifteen minutes of retransmissions.
    const std::array<const char*, 8> keys{"application_name",
                                          "keepalives",
                                          "keepalives_idle",
                                          "keepalives_interval",
                                          "keepalives_count",
                                          "tcp_user_timeout",
                                          "dbname",
                                          nullptr};
    const std::array<const char*, 8> values{
        "rollbot", "1", "5", "2", "2", "9000", conninfo_.c_str(), nullptr};
    conn_ = PQconnectStartParams(keys.data(), values.data(), 1);
    if (conn_ == nullptr) {
        co_return core::make_error(ErrorKind::Storage, fmt::format("{}: out of memory", op));
    }
    PQsetNoticeProcessor(conn_, ignore_notice, nullptr);
    if (PQstatus(conn_) == CONNECTION_BAD) {
        co_return broken(op, trimmed(PQerrorMessage(conn_)));
    }
    PostgresPollingStatusType poll = PGRES_POLLING_WRITING;
    while (poll != PGRES_POLLING_OK) {
        if (poll == PGRES_POLLING_FAILED) {
            co_return broken(op, trimmed(PQerrorMessage(conn_)));
        }
        // The socket can change between polls (another host of a list, a retry without TLS).
        io_->watch(PQsocket(conn_));
        const bool write = poll == PGRES_POLLING_WRITING;
        const auto ready = co_await wait_socket(io_->socket, io_->timer, write, deadline);
        if (ready == Ready::Deadline) {
            drop();
            co_return core::make_error(ErrorKind::Timeout,
                                       fmt::format("{}: no connection to PostgreSQL within {} ms",
                                                   op,
                                                   options_.connect_timeout.count()));
        }
        poll = PQconnectPoll(conn_);
    }
    io_->watch(PQsocket(conn_));
    if (PQsetnonblocking(conn_, 1) != 0) {
        co_return broken(op, trimmed(PQerrorMessage(conn_)));
    }
    // Session settings: the server cancels what runs too long, and every time is UTC.
    auto setup = fmt::format("SET statement_timeout = {}; SET TIME ZONE 'UTC'",
                             options_.query_timeout.count());
    std::vector<Param> none;
    auto r = co_await round_trip(op, std::move(setup), std::move(none));
    if (!r) {
        drop();
        co_return r.error();
    }
    co_return Result<void>{};
}

asio::awaitable<Result<Session>> Connection::session(std::string_view op) {
    while (busy_) {
        io_->turn.expires_at(SteadyTime::max());
        co_await io_->turn.async_wait(kUse);
    }
    busy_ = true;
    Session s(*this);  // releases the turn on every path out
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
    auto s = co_await session(op);
    if (!s) {
        co_return s.error();
    }
    co_return co_await s->query(op, std::move(sql), std::move(params));
}

asio::awaitable<Result<void>> Connection::send(std::string_view op, SteadyTime deadline) {
    for (;;) {
        const int flushed = PQflush(conn_);
        if (flushed == 0) {
            co_return Result<void>{};
        }
        if (flushed < 0) {
            co_return broken(op, trimmed(PQerrorMessage(conn_)));
        }
        // While the request is still going out, the server may already answer: read what it
        // sends so neither side waits on a full buffer.
        const auto ready = co_await wait_socket(io_->socket, io_->timer, true, deadline);
        if (ready == Ready::Deadline) {
            co_return broken(op, "the request could not be sent in time");
        }
        if (ready == Ready::Read && PQconsumeInput(conn_) == 0) {
            co_return broken(op, trimmed(PQerrorMessage(conn_)));
        }
    }
}

asio::awaitable<Result<void>> Connection::wait_readable(std::string_view op, SteadyTime deadline) {
    while (PQisBusy(conn_) == 1) {
        const auto ready = co_await wait_socket(io_->socket, io_->timer, false, deadline);
        if (ready == Ready::Deadline) {
            co_return broken(op, "no answer from PostgreSQL in time");
        }
        if (PQconsumeInput(conn_) == 0) {
            co_return broken(op, trimmed(PQerrorMessage(conn_)));
        }
    }
    co_return Result<void>{};
}

asio::awaitable<Result<Rows>> Connection::round_trip(std::string_view op,
                                                     std::string sql,
                                                     std::vector<Param> params) {
    ROLLBOT_CHECK(busy_, "pg: a statement outside a session");
    if (conn_ == nullptr) {
        co_return core::make_error(ErrorKind::Network, fmt::format("{}: not connected", op));
    }
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) {
        values.push_back(p ? p->c_str() : nullptr);
    }
    const auto deadline = std::chrono::steady_clock::now() + options_.query_timeout + kReplyMargin;
    // Several statements in one text (the session set-up, migrations) need the simple protocol;
    // anything with parameters goes through the extended one, values apart from the text.
    const int sent = values.empty() ? PQsendQuery(conn_, sql.c_str())
                                    : PQsendQueryParams(conn_,
                                                        sql.c_str(),
                                                        static_cast<int>(values.size()),
                                                        nullptr,
                                                        values.data(),
                                                        nullptr,
                                                        nullptr,
                                                        0);
    if (sent == 0) {
        co_return broken(op, trimmed(PQerrorMessage(conn_)));
    }
    in_flight_ = true;
    if (auto r = co_await send(op, deadline); !r) {
        co_return r.error();
    }
    // Read every result to the end (one per statement): the last one answers, the first error
    // wins.
    Rows last;
    std::optional<core::Error> failure;
    for (;;) {
        if (auto r = co_await wait_readable(op, deadline); !r) {
            co_return r.error();
        }
        PGresult* result = PQgetResult(conn_);
        if (result == nullptr) {
            break;
        }
        Rows rows(result);
        const auto status = PQresultStatus(result);
        if (status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE ||
            status == PGRES_NONFATAL_ERROR) {
            if (!failure) {
                const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
                const std::string sqlstate = state != nullptr ? state : "";
                failure = core::make_error(
                    kind_of(sqlstate),
                    fmt::format("{}: {}", op, trimmed(PQresultErrorMessage(result))));
            }
        } else {
            last = std::move(rows);
        }
    }
    in_flight_ = false;
    if (PQstatus(conn_) != CONNECTION_OK) {
        const auto why = failure ? failure->message : trimmed(PQerrorMessage(conn_));
        drop();
        co_return core::make_error(ErrorKind::Network, why);
    }
    if (failure) {
        co_return *failure;
    }
    last_success_ = std::chrono::steady_clock::now();
    co_return std::move(last);
}

}  // namespace rollbot::store::pg
