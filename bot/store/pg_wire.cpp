// pg::Connection on the wire: the non-blocking connect, a statement's send, flush and answer,
// each wait on the socket against a deadline, and SQLSTATEs turned into error kinds.

#include "bot/store/pg_state.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <fmt/format.h>

#include <array>

namespace rollbot::store::pg {

namespace {

// The answer of a statement the server cancelled (statement_timeout) arrives at once; this
// margin only covers the network, so a reply still missing after it is a dead connection.
constexpr std::chrono::milliseconds kReplyMargin{2000};

}  // namespace

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

namespace {

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

enum class Ready { Read, Write, Deadline };

namespace {

// Waits for the socket to become readable (and, with `write`, writable) or the deadline.
asio::awaitable<Ready> wait_socket(asio::posix::stream_descriptor& socket,
                                   asio::steady_timer& timer,
                                   bool write,
                                   SteadyTime deadline) {
    using namespace asio::experimental::awaitable_operators;
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

asio::awaitable<Result<void>> detail::ConnectionState::connect(std::string_view op) {
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
        io_.watch(PQsocket(conn_));
        const bool write = poll == PGRES_POLLING_WRITING;
        const auto ready = co_await wait_socket(io_.socket, io_.timer, write, deadline);
        if (ready == Ready::Deadline) {
            drop();
            last_failure_ = fmt::format("{}: no connection to PostgreSQL within {} ms",
                                        op,
                                        options_.connect_timeout.count());
            co_return core::make_error(ErrorKind::Timeout, last_failure_);
        }
        poll = PQconnectPoll(conn_);
    }
    io_.watch(PQsocket(conn_));
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

asio::awaitable<Result<void>> detail::ConnectionState::send(std::string_view op,
                                                            SteadyTime deadline) {
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
        const auto ready = co_await wait_socket(io_.socket, io_.timer, true, deadline);
        if (ready == Ready::Deadline) {
            co_return broken(op, "the request could not be sent in time");
        }
        if (ready == Ready::Read && PQconsumeInput(conn_) == 0) {
            co_return broken(op, trimmed(PQerrorMessage(conn_)));
        }
    }
}

asio::awaitable<Result<void>> detail::ConnectionState::wait_readable(std::string_view op,
                                                                     SteadyTime deadline) {
    while (PQisBusy(conn_) == 1) {
        const auto ready = co_await wait_socket(io_.socket, io_.timer, false, deadline);
        if (ready == Ready::Deadline) {
            co_return broken(op, "no answer from PostgreSQL in time");
        }
        if (PQconsumeInput(conn_) == 0) {
            co_return broken(op, trimmed(PQerrorMessage(conn_)));
        }
    }
    co_return Result<void>{};
}

asio::awaitable<Result<Rows>> detail::ConnectionState::round_trip(std::string_view op,
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
