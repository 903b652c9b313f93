#pragma once

// One PostgreSQL connection driven by libpq's non-blocking API on the Asio io thread: the
// connect (PQconnectStartParams/PQconnectPoll), each query (PQsendQueryParams, PQflush,
// PQconsumeInput/PQisBusy) and every wait (the libpq socket's async_wait against a deadline)
// suspend the calling coroutine, never the thread. Only the store's translation units see it.

#include "bot/result.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct pg_result;
struct pg_conn;

namespace rollbot::store::pg {

/// A query parameter in text form; nullopt is SQL NULL. Values are always sent apart from the
/// SQL text (PQsendQueryParams), never spliced into it.
using Param = std::optional<std::string>;

[[nodiscard]] inline Param param(std::int64_t value) {
    return std::to_string(value);
}
[[nodiscard]] inline Param param(std::string_view value) {
    return std::string(value);
}

/// The rows of one statement (text format), owned.
class Rows {
public:
    Rows() = default;
    explicit Rows(pg_result* result);

    [[nodiscard]] int size() const;
    /// Rows changed by an INSERT/UPDATE/DELETE (PQcmdTuples), 0 for other statements.
    [[nodiscard]] std::int64_t affected() const;
    [[nodiscard]] bool is_null(int row, int column) const;
    [[nodiscard]] std::string text(int row, int column) const;
    /// The value as a 64-bit integer; a value that is not one is a bug in the SQL (checked).
    [[nodiscard]] std::int64_t integer(int row, int column) const;
    [[nodiscard]] std::optional<std::string> opt_text(int row, int column) const;
    [[nodiscard]] std::optional<std::int64_t> opt_integer(int row, int column) const;

private:
    struct Clear {
        void operator()(pg_result* r) const;
    };
    std::unique_ptr<pg_result, Clear> result_;
};

struct Options {
    /// The whole connect, TLS included (libpq's own connect_timeout is for blocking connects).
    std::chrono::milliseconds connect_timeout{5000};
    /// The server cancels a statement that runs longer (statement_timeout, SQLSTATE 57014); the
    /// client gives up on an answer that has not arrived a little after that and drops the
    /// connection (the server is unreachable, or the network ate the reply).
    std::chrono::milliseconds query_timeout{5000};
};

namespace detail {
struct ConnectionState;
}

/// Exclusive use of a connection for several statements (a transaction); the next user waits
/// until it is destroyed. A transaction begun and not committed is rolled back before the
/// connection is used again. Safe to destroy after its Connection (it shares the state).
class Session {
public:
    explicit Session(std::shared_ptr<detail::ConnectionState> state);
    Session(Session&& other) noexcept;
    Session& operator=(Session&&) = delete;
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    ~Session();

    [[nodiscard]] boost::asio::awaitable<core::Result<Rows>> query(std::string_view op,
                                                                   std::string sql,
                                                                   std::vector<Param> params);
    /// BEGIN ISOLATION LEVEL `level` ("READ COMMITTED", "SERIALIZABLE", …).
    [[nodiscard]] boost::asio::awaitable<core::Result<void>> begin(std::string_view op,
                                                                   std::string level);
    /// BEGIN, then `first` (constant SQL without parameters) in the same round trip; the rows of
    /// `first`. The transaction is open even when `first` failed (it is rolled back).
    [[nodiscard]] boost::asio::awaitable<core::Result<Rows>> begin_with(std::string_view op,
                                                                        std::string level,
                                                                        std::string first);
    [[nodiscard]] boost::asio::awaitable<core::Result<void>> commit(std::string_view op);

private:
    std::shared_ptr<detail::ConnectionState> state_;
    bool in_transaction_ = false;
};

/// A libpq connection that (re)connects on the next use whenever it is not connected. Not
/// thread-safe: used from the io thread only. Its state is shared with the Sessions in flight,
/// so coroutines still suspended when the io_context goes away are destroyed safely.
class Connection {
public:
    /// Connects to `conninfo` (a libpq URI or key=value string). The error names what failed
    /// as libpq says it, never the conninfo itself (it may carry a password).
    [[nodiscard]] static boost::asio::awaitable<core::Result<std::unique_ptr<Connection>>> open(
        boost::asio::any_io_executor executor, std::string conninfo, Options options);
    /// Without connecting yet: the first session() does (a daemon that starts while the
    /// database is down).
    Connection(const boost::asio::any_io_executor& executor, std::string conninfo, Options options);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    Connection(Connection&&) = delete;
    Connection& operator=(Connection&&) = delete;

    /// One statement on its own (an implicit transaction), waiting for its turn.
    [[nodiscard]] boost::asio::awaitable<core::Result<Rows>> query(std::string_view op,
                                                                   std::string sql,
                                                                   std::vector<Param> params);
    /// Waits for exclusive use, connecting first when not connected.
    [[nodiscard]] boost::asio::awaitable<core::Result<Session>> session(std::string_view op);

    /// Connected, and the last round trip did not break it. Does not wait.
    [[nodiscard]] bool healthy() const;
    /// The server process serving this connection (pg_backend_pid()), 0 when not connected.
    [[nodiscard]] int backend_pid() const;
    /// When the last statement succeeded (steady clock), for a readiness answer without waiting.
    [[nodiscard]] std::chrono::steady_clock::time_point last_success() const;
    /// The last error that broke or refused the connection, "" when none.
    [[nodiscard]] const std::string& last_failure() const;

private:
    std::shared_ptr<detail::ConnectionState> state_;
};

}  // namespace rollbot::store::pg
