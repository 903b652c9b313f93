#pragma once

// Inside pg::Connection (not for other users): the state a Connection shares with its Sessions,
// the socket watcher, and the helpers of the wire protocol's translation units.

#include "bot/store/pg_connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <libpq-fe.h>

namespace rollbot::store::pg {

namespace asio = boost::asio;
using core::ErrorKind;
using core::Result;
using SteadyTime = std::chrono::steady_clock::time_point;

inline constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

struct Io {
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

namespace detail {

// Everything a connection is, shared by the Connection and its Sessions.
struct ConnectionState : std::enable_shared_from_this<ConnectionState> {
    ConnectionState(const asio::any_io_executor& executor, std::string conninfo, Options options)
        : io_(executor), conninfo_(std::move(conninfo)), options_(options) {}
    ~ConnectionState() { drop(); }
    ConnectionState(const ConnectionState&) = delete;
    ConnectionState& operator=(const ConnectionState&) = delete;
    ConnectionState(ConnectionState&&) = delete;
    ConnectionState& operator=(ConnectionState&&) = delete;

    asio::awaitable<Result<Session>> session(std::string_view op);
    asio::awaitable<Result<void>> connect(std::string_view op);
    asio::awaitable<Result<Rows>> round_trip(std::string_view op,
                                             std::string sql,
                                             std::vector<Param> params);
    asio::awaitable<Result<void>> send(std::string_view op, SteadyTime deadline);
    asio::awaitable<Result<void>> wait_readable(std::string_view op, SteadyTime deadline);
    void release() noexcept;
    void drop() noexcept;
    core::Error broken(std::string_view op, std::string_view why);

    Io io_;
    std::string conninfo_;
    Options options_;
    pg_conn* conn_ = nullptr;
    bool busy_ = false;              // a Session holds the connection
    bool rollback_pending_ = false;  // a Session ended inside a transaction
    bool in_flight_ = false;         // a statement was sent and its answer not fully read
    SteadyTime last_success_{};
    std::string last_failure_;
};

}  // namespace detail

/// "unknown libpq error" for an empty message; newlines become spaces.
[[nodiscard]] std::string trimmed(const char* message);

}  // namespace rollbot::store::pg
