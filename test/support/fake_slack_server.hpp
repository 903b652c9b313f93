#pragma once

#include "test/support/fake_slack_records.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rollbot::test {

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

enum class FakeSlackDrop { Fin, Reset };

namespace fake_slack {
class Workspace;
class Network;
}  // namespace fake_slack

/// One fake Slack workspace for tests and benchmarks: Web API under /api/, response_urls, and
/// Socket Mode websockets, on 127.0.0.1:<ephemeral port> with its own thread. Thread-safe.
/// Scripted sends are queued in call order and return at once (with no such live connection
/// they are dropped: an envelope then shows as never written); drop/close/stop_reading return
/// when done. What it recorded, and the waiters, are FakeSlackRecords'.
class FakeSlackServer : public FakeSlackRecords {
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

private:
    std::unique_ptr<fake_slack::Workspace> workspace_;
    std::unique_ptr<fake_slack::Network> network_;
};

}  // namespace rollbot::test
