#pragma once

#include "adapters/slack/backoff.hpp"
#include "adapters/slack/dedupe.hpp"
#include "adapters/slack/envelope_codec.hpp"
#include "adapters/slack/socket_connection.hpp"
#include "adapters/slack/web_api.hpp"
#include "bot/chat.hpp"
#include "bot/metrics.hpp"
#include "bot/ports/chat_transport.hpp"
#include "bot/ports/clock.hpp"
#include "bot/ports/user_directory.hpp"
#include "bot/task_group.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/logger.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace rollbot::slack {

struct SocketModeOptions {
    ConnectionOptions connection;
    std::chrono::milliseconds hello_timeout{std::chrono::seconds(10)};
    /// Refresh (make-before-break) this long before `approximate_connection_time` runs out.
    std::chrono::milliseconds refresh_margin{std::chrono::seconds(60)};
    std::chrono::milliseconds backoff_base{std::chrono::milliseconds(500)};
    std::chrono::milliseconds backoff_cap{std::chrono::seconds(30)};
    std::chrono::milliseconds dedupe_window{std::chrono::minutes(10)};
};

/// Why a connection is opened; to_string() gives the `rollbot_slack_reconnects_total` label.
enum class ReconnectReason {
    Start,     // the first connection: not a reconnect, never counted
    Lifetime,  // `approximate_connection_time` is nearly over
    // A disconnect frame, by its reason.
    Warning,
    RefreshRequested,
    LinkDisabled,
    TooManyWebsockets,
    Unknown,
    // The live connection ended, by its CloseCause.
    Closed,
    ClosedBySlack,
    ReadError,
    WriteError,
    ConnectError,
};

/// The metric label: "start", "lifetime", "warning", "refresh_requested", … (never free text).
[[nodiscard]] std::string_view to_string(ReconnectReason reason);
[[nodiscard]] ReconnectReason reconnect_reason(DisconnectReason reason);
[[nodiscard]] ReconnectReason reconnect_reason(CloseCause cause);

/// A reason to (re)connect with the text the log shows for it ("connection lifetime",
/// "closed by Slack (code 1000)", "slack.ws.read: End of file").
struct ReconnectCause {
    ReconnectReason reason = ReconnectReason::Start;
    std::string detail;
    bool operator==(const ReconnectCause&) const = default;
};

/// What /readyz and /metrics show about the link to Slack.
struct ConnectionStatus {
    bool live = false;   // a connection has said hello and is open
    bool fatal = false;  // reconnecting stopped: see fatal_reason
    std::string fatal_reason;
    int num_connections = 0;  // Slack's count in the latest hello
    std::uint64_t hellos = 0;
    std::uint64_t duplicates = 0;
    std::map<ReconnectReason, std::uint64_t> reconnects;  // never Start
    std::map<std::string, std::uint64_t> envelopes;       // by type
};

/// Slack through Socket Mode (events in) and the Web API (messages out).
///
/// One supervisor owns the connection state: it opens a fresh URL for every connect, counts a
/// link as live only after `hello`, refreshes make-before-break on `disconnect` warnings or
/// before the connection's expected lifetime ends, backs off with full jitter, and stops for
/// good (status().fatal) on unrecoverable auth errors or `link_disabled`. Every frame with an
/// envelope_id is acked from the read loop before anything else happens; commands and events
/// are de-duplicated for `dedupe_window`. Everything runs on the io thread.
class SlackSocketModeTransport final : public core::ChatTransport, public core::UserDirectory {
public:
    SlackSocketModeTransport(core::TaskGroup& tasks,
                             SlackWebApi& api,
                             SocketModeOptions options,
                             const core::Clock& clock,
                             std::shared_ptr<spdlog::logger> log,
                             std::function<double()> random = {});
    ~SlackSocketModeTransport() override;
    SlackSocketModeTransport(const SlackSocketModeTransport&) = delete;
    SlackSocketModeTransport& operator=(const SlackSocketModeTransport&) = delete;

    boost::asio::awaitable<void> run(core::InboundSink& sink) override;
    boost::asio::awaitable<core::Result<core::MessageRef>> post(
        core::OutboundMessage message) override;
    boost::asio::awaitable<core::Result<void>> update(core::MessageRef ref,
                                                      std::string text) override;
    boost::asio::awaitable<core::Result<void>> reply(core::ReplyTarget target,
                                                     core::Visibility visibility,
                                                     std::string text) override;
    void stop() override;

    boost::asio::awaitable<core::Result<std::vector<core::UserId>>> usergroup_members(
        core::UsergroupId group) override;
    boost::asio::awaitable<core::Result<core::UserInfo>> user_info(core::UserId user) override;

    [[nodiscard]] const ConnectionStatus& status() const { return status_; }
    /// Acks are timed into `rollbot_slack_ack_seconds` from now on.
    void attach_metrics(core::Metrics& metrics) { metrics_ = &metrics; }
    /// Copies the connection's state and counters (and the Web API's) into `metrics`.
    void export_metrics(core::Metrics& metrics) const;
    /// Who the bot is (from auth.test), once known.
    [[nodiscard]] const std::optional<AuthInfo>& identity() const { return identity_; }

private:
    struct Connection {
        std::shared_ptr<SocketConnection> socket;
        std::optional<Hello> hello;
    };

    boost::asio::awaitable<bool> connect_once(ReconnectCause cause);
    boost::asio::awaitable<void> wait_until(std::chrono::steady_clock::time_point deadline);
    boost::asio::awaitable<void> pause(std::chrono::milliseconds delay);
    boost::asio::awaitable<void> shut_down();

    void on_text(std::uint64_t id, std::string_view frame);
    void on_closed(std::uint64_t id, CloseCause cause, std::string why);
    void on_hello(std::uint64_t id, const Hello& hello);
    void on_disconnect(std::uint64_t id, const Disconnect& disconnect);
    void on_event(const EventEnvelope& event);
    void fail(std::string reason);
    void wake();

    core::TaskGroup& tasks_;
    boost::asio::any_io_executor executor_;
    SlackWebApi& api_;
    SocketModeOptions options_;
    const core::Clock& clock_;
    std::shared_ptr<spdlog::logger> log_;
    Backoff backoff_;
    DedupeWindow seen_;
    boost::asio::steady_timer wake_;
    core::InboundSink* sink_ = nullptr;
    std::optional<AuthInfo> identity_;
    std::map<std::uint64_t, Connection> connections_;
    std::optional<std::uint64_t> live_;
    std::uint64_t next_id_ = 0;
    ReconnectCause last_close_;                     // why the live connection went away
    std::optional<ReconnectCause> refresh_wanted_;  // when a replacement should be opened
    std::optional<std::chrono::steady_clock::time_point> refresh_at_;
    bool back_off_first_ = false;  // too_many_websockets: wait before reconnecting
    bool stopped_ = false;
    ConnectionStatus status_;
    core::Metrics* metrics_ = nullptr;
};

/// Declares the rollbot_slack_* families that export_metrics() and the ack timing fill. Called
/// in every mode, so /metrics shows the same families with or without Slack.
void define_slack_metrics(core::Metrics& metrics);

}  // namespace rollbot::slack
