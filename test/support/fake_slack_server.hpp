#pragma once

#include "bot/http.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rollbot::test {

using FakeSlackClock = std::chrono::steady_clock;

/// How one fake workspace is set up; the defaults are what rollbot's tests configure.
struct FakeSlackOptions {
    bool tls = false;  // https:// and wss:// with the certificate in test/data (trust ca_file())
    std::string app_token = "xapp-1-A0TEST-1-test";  // apps.connections.open
    std::string bot_token = "xoxb-test-token";       // every other Web API method
    std::string app_id = "A0TEST";
    std::string team_id = "T0TEST";
    std::string team_domain = "preskool";
    std::string bot_user_id = "U0ROLLBOT";
    std::string bot_id = "B0ROLLBOT";
    std::chrono::seconds approximate_connection_time{18060};  // in hello; Slack's usual value
    std::chrono::milliseconds ping_interval{0};  // server pings "Ping from applink-fake"; 0 = none
    bool send_hello = true;                      // false: the test sends its own first frame
    // Slack's cap on live sockets per app: a connection beyond it gets its hello, then a
    // disconnect "too_many_websockets".
    std::size_t max_connections = 10;
    // Slack reads JSON bodies only on write methods (chat.*, reactions.add); a read method such
    // as usergroups.users.list answers as if it got no arguments. true: read them everywhere.
    bool json_on_read_methods = false;
};

/// A Web API answer other than the normal one, for the next `times` calls of a method.
struct FakeSlackFault {
    static constexpr std::size_t kUntilCleared = std::numeric_limits<std::size_t>::max();
    int status = 200;   // 429 (with Retry-After), 5xx (HTML body), or 200
    std::string error;  // with status 200: {"ok":false,"error":<error>}
    std::chrono::seconds retry_after{0};
    std::chrono::milliseconds delay{0};  // answer this late (the call takes effect on arrival)
    std::size_t times = 1;

    static FakeSlackFault rate_limited(std::chrono::seconds retry_after, std::size_t times = 1);
    static FakeSlackFault server_error(int status = 500, std::size_t times = 1);
    static FakeSlackFault slack_error(std::string error, std::size_t times = 1);
    static FakeSlackFault delayed(std::chrono::milliseconds delay, std::size_t times = 1);
};

struct FakeSlackUser {
    std::string id;
    std::string name;
    bool is_bot = false;
    bool deleted = false;
    std::string real_name{};  // "" = same as name
};

/// One HTTP request to the Web API (`method` is e.g. "chat.postMessage"), to a response_url
/// ("response_url") or to the websocket endpoint ("socket_mode.connect": status 101, or 401
/// for a used or unknown ticket), with the answer it got.
struct FakeSlackCall {
    std::string method;
    std::map<std::string, std::string> params;  // query + form/JSON body; JSON non-strings as JSON
    core::Headers headers;                      // names lower-cased
    std::string body;
    int status = 200;
    std::string error;  // the ok:false code, "" if ok
    FakeSlackClock::time_point at;

    [[nodiscard]] std::string param(const std::string& name) const;  // "" if absent
};

/// A message that appeared: chat.postMessage, chat.postEphemeral, a response_url post or a
/// chat.update (then `ts` is the updated message).
struct FakeSlackPost {
    std::string method;
    std::string channel;  // response_url: the channel of the command it answers
    std::string ts;       // chat.postEphemeral: message_ts; response_url: ""
    std::string thread_ts;
    std::string user;  // chat.postEphemeral: the only one who sees it
    std::string text;
    std::string blocks;         // JSON text as sent, "" if none
    std::string block_text;     // the "text" strings found inside blocks, one per line
    std::string response_type;  // response_url: "ephemeral" (default) or "in_channel"
    FakeSlackClock::time_point at;
};

/// A client text frame that carried an `envelope_id`.
struct FakeSlackAck {
    std::string envelope_id;
    std::string payload;  // JSON text of "payload", "" if absent
    std::size_t connection = 0;
    FakeSlackClock::time_point at;
    std::optional<std::chrono::nanoseconds> latency;  // since the envelope's write began
};

/// Any client data frame, acks included.
struct FakeSlackFrame {
    std::size_t connection = 0;
    std::string data;
    bool binary = false;
    FakeSlackClock::time_point at;
};

/// An envelope this server built and sent, with its delivery and first ack.
struct FakeSlackEnvelope {
    std::string envelope_id;
    std::string type;            // slash_commands, events_api, …
    std::string event_id;        // events_api only
    std::size_t connection = 0;  // written on; 0 = not (yet) written: no live connection
    FakeSlackClock::time_point queued_at;
    std::optional<FakeSlackClock::time_point> sent_at;  // when its write began
    std::optional<FakeSlackClock::time_point> acked_at;
    std::size_t acks = 0;

    /// acked_at - sent_at, when both are known.
    [[nodiscard]] std::optional<std::chrono::nanoseconds> ack_latency() const;
};

enum class FakeSlackClosedBy { NotClosed, Client, ServerClose, ServerDrop };

struct FakeSlackConnection {
    std::size_t number = 0;  // 1, 2, … in upgrade order
    bool live = false;       // counts for num_connections and wait_for_connections
    bool reading = true;     // false after stop_reading()
    FakeSlackClosedBy closed_by = FakeSlackClosedBy::NotClosed;
    bool client_close_frame = false;  // the client sent a close frame
    std::uint16_t close_code = 0;     // from the client's close frame
    std::size_t client_pings = 0;     // pings the client sent (answered while reading)
    std::size_t client_pongs = 0;     // pongs the client sent (answers to server pings)
    FakeSlackClock::time_point opened_at;
    std::optional<FakeSlackClock::time_point> closed_at;
};

enum class FakeSlackDrop { Fin, Reset };

namespace fake_slack {
class Workspace;
class Network;
}  // namespace fake_slack

/// One fake Slack workspace for tests and benchmarks: Web API under /api/, response_urls, and
/// Socket Mode websockets, on 127.0.0.1:<ephemeral port> with its own thread. Thread-safe.
/// Scripted sends are queued in call order and return at once (with no such live connection
/// they are dropped: an envelope then shows as never written); drop/close/stop_reading return
/// when done. Waiters never sleep: they wait on what the server thread records.
class FakeSlackServer {
public:
    static constexpr std::size_t kLatest = 0;  // the newest live connection

    explicit FakeSlackServer(FakeSlackOptions options = {});
    /// Drops every connection and joins the server thread.
    ~FakeSlackServer();
    FakeSlackServer(const FakeSlackServer&) = delete;
    FakeSlackServer& operator=(const FakeSlackServer&) = delete;

    [[nodiscard]] std::uint16_t port() const;
    /// `http://127.0.0.1:<port>/api/` (https with tls).
    [[nodiscard]] std::string api_url() const;
    /// The environment that points rollbotd at this fake: SLACK_API_URL and both tokens.
    [[nodiscard]] std::vector<std::pair<std::string, std::string>> daemon_env() const;
    /// The test CA that signed the server certificate (PEM).
    [[nodiscard]] static std::string ca_file();
    [[nodiscard]] const FakeSlackOptions& options() const;

    // The directory users.info, usergroups.users.list and conversations.info answer from.
    void add_user(FakeSlackUser user);
    void add_usergroup(std::string id, std::vector<std::string> user_ids);
    void add_channel(std::string id, std::string name);

    /// Queues a fault for `method` ("apps.connections.open", "chat.postMessage", …,
    /// "response_url"); faults apply in the order queued.
    void inject_fault(std::string method, FakeSlackFault fault);
    /// Removes the queued faults of `method`, or of every method if empty.
    void clear_faults(std::string_view method = {});

    /// Sends a real `slash_commands` envelope; returns its envelope_id. Its response_url
    /// (`/respond/<id>` here) takes five JSON posts, as Slack's does; so does any other
    /// `/respond/<id>` a test writes into a hand-made envelope.
    std::string send_slash_command(std::string_view text,
                                   std::string_view user,
                                   std::string_view channel,
                                   std::string_view command = "/rollback",
                                   std::size_t connection = kLatest);
    /// Sends a real `events_api` reaction_added/removed envelope on message `ts`; an empty
    /// event_id gets a fresh one. Returns the envelope_id.
    std::string send_reaction(bool added,
                              std::string_view user,
                              std::string_view reaction,
                              std::string_view channel,
                              std::string_view ts,
                              std::string_view event_id = {},
                              int retry_attempt = 0,
                              std::size_t connection = kLatest);
    /// Sends `{"envelope_id":…,"type":type,"accepts_response_payload":…,"payload":payload}`.
    std::string send_envelope(std::string_view type,
                              std::string_view payload_json,
                              bool accepts_response_payload,
                              std::size_t connection = kLatest);
    void send_text(std::string frame, std::size_t connection = kLatest);
    void send_binary(std::string bytes, std::size_t connection = kLatest);
    void send_ping(std::string payload = "Ping from applink-fake",
                   std::size_t connection = kLatest);
    /// `{"type":"disconnect","reason":reason,…}` (warning, refresh_requested, link_disabled, …).
    void send_disconnect(std::string_view reason, std::size_t connection = kLatest);
    /// After the frames queued before it: closes TCP with no close frame (FIN, or RST).
    void drop_connection(std::size_t connection = kLatest, FakeSlackDrop how = FakeSlackDrop::Fin);
    /// After the frames queued before it: starts the close handshake with `code`.
    void close_connection(std::size_t connection = kLatest, std::uint16_t code = 1000);
    /// A dead peer: from now on nothing is read (so pings go unanswered) and nothing is sent;
    /// the connection stays live until the client closes its TCP side.
    void stop_reading(std::size_t connection = kLatest);

    [[nodiscard]] std::size_t connections_opened() const;
    [[nodiscard]] std::size_t live_connections() const;

    [[nodiscard]] testing::AssertionResult wait_for_ack(const std::string& envelope_id,
                                                        std::chrono::milliseconds timeout) const;
    /// Until at least `count` distinct envelopes built here have been acked.
    [[nodiscard]] testing::AssertionResult wait_for_acks(std::size_t count,
                                                         std::chrono::milliseconds timeout) const;
    /// A postMessage/postEphemeral/response_url post in `channel` ("" = any) whose text or
    /// block text contains `substring`.
    [[nodiscard]] testing::AssertionResult wait_for_post(std::string_view channel,
                                                         std::string_view substring,
                                                         std::chrono::milliseconds timeout) const;
    [[nodiscard]] testing::AssertionResult wait_for_update(std::string_view substring,
                                                           std::chrono::milliseconds timeout) const;
    /// Until exactly `live_count` connections are live.
    [[nodiscard]] testing::AssertionResult wait_for_connections(
        std::size_t live_count, std::chrono::milliseconds timeout) const;
    /// Until at least `total` connections have been opened since the start.
    [[nodiscard]] testing::AssertionResult wait_for_opened(std::size_t total,
                                                           std::chrono::milliseconds timeout) const;
    /// Until `method` has been called at least `count` times (any answer).
    [[nodiscard]] testing::AssertionResult wait_for_call(std::string_view method,
                                                         std::size_t count,
                                                         std::chrono::milliseconds timeout) const;
    /// A client data frame (ack or not) containing `substring`.
    [[nodiscard]] testing::AssertionResult wait_for_frame(std::string_view substring,
                                                          std::chrono::milliseconds timeout) const;
    /// Until the clients have answered at least `count` server pings in total.
    [[nodiscard]] testing::AssertionResult wait_for_pongs(std::size_t count,
                                                          std::chrono::milliseconds timeout) const;

    // Copies of what was recorded, in arrival order.
    [[nodiscard]] std::vector<FakeSlackCall> calls() const;
    [[nodiscard]] std::vector<FakeSlackPost> posts() const;
    [[nodiscard]] std::vector<FakeSlackPost> updates() const;
    [[nodiscard]] std::vector<FakeSlackAck> acks() const;
    [[nodiscard]] std::vector<FakeSlackFrame> frames() const;
    [[nodiscard]] std::vector<FakeSlackEnvelope> envelopes() const;
    [[nodiscard]] std::vector<FakeSlackConnection> connections() const;
    [[nodiscard]] std::optional<std::chrono::nanoseconds> ack_latency(
        const std::string& envelope_id) const;

private:
    std::unique_ptr<fake_slack::Workspace> workspace_;
    std::unique_ptr<fake_slack::Network> network_;
};

}  // namespace rollbot::test
