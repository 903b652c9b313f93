#pragma once

#include "bot/result.hpp"
#include "bot/secret.hpp"
#include "bot/task_group.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <spdlog/logger.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace rollbot::slack {

/// The parts of a ws:// or wss:// URL. Plain ws:// is only for loopback hosts (tests).
struct WebSocketUrl {
    bool tls = true;
    std::string host;
    std::string port;
    std::string target;  // path and query: carries the ticket, so it is never logged
    bool operator==(const WebSocketUrl&) const = default;
};

/// Parses a Socket Mode URL; refuses other schemes and ws:// to a non-loopback host.
[[nodiscard]] core::Result<WebSocketUrl> parse_websocket_url(std::string_view url);

/// True for 127.0.0.0/8, ::1 and localhost.
[[nodiscard]] bool is_loopback_host(std::string_view host);

struct ConnectionOptions {
    std::string ca_file;  // extra CA bundle; verification is always on
    std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
    std::chrono::milliseconds liveness_timeout{std::chrono::seconds(30)};
    std::chrono::milliseconds close_timeout{std::chrono::seconds(5)};
    std::size_t max_message_bytes = 16U * 1024U * 1024U;
};

/// Why a connection ended: the kind is for counting, the `why` text beside it for the log.
enum class CloseCause {
    ConnectError,   // before reading began: URL, TLS set-up, resolve, connect, TLS, upgrade
    ClosedBySlack,  // a close frame from Slack (also its answer to ours)
    ReadError,      // the read failed: end of file, reset, idle timeout, oversized frame
    WriteError,     // the writer stopped
    Closed,         // the read loop ended without an error
};

/// What a connection reports. Called on the io thread from the connection's own coroutines.
struct ConnectionHandlers {
    std::function<void(std::uint64_t id)> on_open;  // websocket handshake done
    std::function<void(std::uint64_t id, std::string_view frame)> on_text;
    std::function<void(std::uint64_t id, std::size_t bytes)> on_binary;
    // Exactly once; `why` names the operation ("slack.ws.read: …", "closed by Slack (code …)").
    std::function<void(std::uint64_t id, CloseCause cause, std::string why)> on_closed;
};

/// One websocket to Slack: connect (TCP, TLS with SNI and host-name verification, upgrade),
/// then a read loop that keeps a read pending (so Slack's pings are answered) and one queued
/// writer. Its own pings and the idle timeout detect a dead link. Lives on the io thread.
class SocketConnection {
public:
    virtual ~SocketConnection() = default;
    /// Connects and starts reading; reports through the handlers.
    virtual void start(core::Secret url) = 0;
    /// Queues a text frame (frames go out in the order they were queued); `written`, when
    /// given, runs once the frame is on the socket (the ack latency metric).
    virtual void send(std::string text, std::function<void()> written) = 0;
    /// Sends a close frame after what is queued; the read loop ends when the peer answers or
    /// close_timeout passes.
    virtual void close() = 0;
    /// Drops the TCP connection now.
    virtual void abort() = 0;
    [[nodiscard]] virtual std::uint64_t id() const = 0;
};

/// Makes a wss:// (tls) or ws:// connection; Beast and OpenSSL stay in one translation unit.
[[nodiscard]] std::shared_ptr<SocketConnection> make_socket_connection(
    core::TaskGroup& tasks,
    std::uint64_t id,
    ConnectionOptions options,
    ConnectionHandlers handlers,
    std::shared_ptr<spdlog::logger> log,
    bool tls);

}  // namespace rollbot::slack
