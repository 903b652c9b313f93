#pragma once
// Internal to FakeSlackServer: a fake workspace's directory, scripts and Web API. The server
// thread runs it and it records into the server's FakeSlackRecords, which the test thread
// waits on. No Beast here.

#include "test/support/fake_slack_server.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <random>
#include <set>

namespace rollbot::test::fake_slack {

/// One HTTP request as the network layer read it.
struct HttpIn {
    std::string method;
    std::string target;
    core::Headers headers;  // names lower-cased
    std::string body;
};

/// The answer to send, `delay` late.
struct HttpOut {
    int status = 200;
    std::string content_type = "application/json; charset=utf-8";
    core::Headers headers{};
    std::string body{};
    std::chrono::milliseconds delay{0};
};

/// A frame built on the test thread, to be written on a connection.
struct OutFrame {
    std::string text;
    std::string envelope_id;  // "" unless it is an envelope this workspace registered
};

/// JSON text; invalid UTF-8 (a client's) is replaced rather than thrown on.
[[nodiscard]] std::string to_text(const nlohmann::json& value);
/// `{"ok":false,"error":code}`
[[nodiscard]] nlohmann::json slack_error(std::string_view code);
/// The "text" strings inside Block Kit JSON, one per line; nullopt where Slack would answer
/// invalid_blocks (not an array of typed blocks, too many, a text over Slack's limit).
[[nodiscard]] std::optional<std::string> block_text(const std::string& blocks);

/// What the writer of one connection does next, in the order the test asked for it.
struct Outgoing {
    enum class Kind { Text, Binary, Ping, Close, Drop };
    Kind kind = Kind::Text;
    std::string data{};
    std::string envelope_id{};  // set for envelopes: their write time is recorded
    std::uint16_t code = 1000;
    FakeSlackDrop drop = FakeSlackDrop::Fin;
    std::shared_ptr<std::promise<bool>> done{};  // Close/Drop: the test thread waits on it
};

class Workspace;

/// The sockets side of a fake workspace: its own io_context thread (fake_slack_network.cpp).
class Network {
public:
    /// Listens on 127.0.0.1:0 and starts serving; the destructor stops and joins.
    static std::unique_ptr<Network> start(Workspace& workspace, bool tls);
    virtual ~Network() = default;

    [[nodiscard]] virtual std::uint16_t port() const = 0;
    /// Queues `item` for `connection` (kLatest: the newest live one); dropped if there is none.
    virtual void send(std::size_t connection, Outgoing item) = 0;
    /// Queues a Close/Drop and waits until it has happened; false if no such connection.
    virtual bool send_and_wait(std::size_t connection, Outgoing item) = 0;
    /// Stops reading (and writing) on `connection`; false if no such connection.
    virtual bool stop_reading(std::size_t connection) = 0;
};

/// The workspace's directory, scripts and Web API; what happens is recorded into `records`
/// (the server's), under its mutex.
class Workspace {
public:
    Workspace(FakeSlackOptions options, FakeSlackRecords& records);

    /// Once the port is known: "http://127.0.0.1:P" and "ws://127.0.0.1:P" (https/wss with tls).
    void set_bases(std::string http_base, std::string ws_base);
    [[nodiscard]] const FakeSlackOptions& options() const { return options_; }
    [[nodiscard]] std::string api_url() const { return http_base_ + "/api/"; }
    [[nodiscard]] const FakeSlackRecords& records() const { return records_; }

    void add_user(FakeSlackUser user);
    void add_usergroup(std::string id, std::vector<std::string> user_ids);
    void add_channel(std::string id, std::string name);
    void inject_fault(std::string method, FakeSlackFault fault);
    void clear_faults(std::string_view method);

    // Server thread: HTTP (fake_slack_web_api.cpp).
    [[nodiscard]] HttpOut handle_http(const HttpIn& request);
    /// A websocket upgrade to /link/: true (once) for a ticket apps.connections.open handed
    /// out. Recorded as a call of "socket_mode.connect" (status 101, or 401 invalid_ticket).
    [[nodiscard]] bool connect_attempt(const HttpIn& request);

    // Server thread: Socket Mode bookkeeping.
    /// A websocket was accepted; returns its number and the hello to send first.
    std::pair<std::size_t, std::string> connection_opened();
    /// No longer live (idempotent); `by` says who ended it.
    void connection_ended(std::size_t number,
                          FakeSlackClosedBy by,
                          bool client_close_frame,
                          std::uint16_t close_code);
    void connection_stopped_reading(std::size_t number);
    void frame_received(std::size_t number, std::string data, bool binary);
    void control_received(std::size_t number, bool pong);
    void envelope_written(const std::string& envelope_id, std::size_t number);

    // Test thread: envelopes (registered with their queue time).
    [[nodiscard]] OutFrame slash_command(std::string_view text,
                                         std::string_view user,
                                         std::string_view channel,
                                         std::string_view command);
    [[nodiscard]] OutFrame reaction(bool added,
                                    std::string_view user,
                                    std::string_view reaction,
                                    std::string_view channel,
                                    std::string_view ts,
                                    std::string_view event_id,
                                    int retry_attempt);
    [[nodiscard]] OutFrame envelope(std::string_view type,
                                    nlohmann::json payload,
                                    bool accepts_response_payload,
                                    std::string event_id = {},
                                    int retry_attempt = -1);
    [[nodiscard]] std::string disconnect_frame(std::string_view reason) const;

private:
    using Lock = std::unique_lock<std::mutex>;
    struct ResponseUrl {
        std::string channel;
        int uses = 0;
    };
    struct Message {  // one the bot posted
        std::string channel;
        std::set<std::string> reactions;
    };

    // Web API internals (fake_slack_web_api.cpp); called with records_.mutex_ held.
    [[nodiscard]] HttpOut web_api(const std::string& method,
                                  FakeSlackCall& call,
                                  const std::string& body_error,
                                  bool missing_charset);
    [[nodiscard]] HttpOut response_url(const std::string& id, FakeSlackCall& call);
    [[nodiscard]] nlohmann::json dispatch(const std::string& method, const FakeSlackCall& call);
    [[nodiscard]] nlohmann::json connections_open();
    [[nodiscard]] nlohmann::json auth_test() const;
    [[nodiscard]] nlohmann::json post_message(const FakeSlackCall& call, bool ephemeral);
    [[nodiscard]] nlohmann::json update_message(const FakeSlackCall& call);
    [[nodiscard]] nlohmann::json add_reaction(const FakeSlackCall& call);
    [[nodiscard]] nlohmann::json usergroup_users(const FakeSlackCall& call) const;
    [[nodiscard]] nlohmann::json user_info(const FakeSlackCall& call) const;
    [[nodiscard]] nlohmann::json conversation_info(const FakeSlackCall& call) const;
    [[nodiscard]] std::optional<FakeSlackFault> take_fault(const std::string& method);

    // With records_.mutex_ held.
    [[nodiscard]] std::string next_ts();
    [[nodiscard]] std::string random_hex(std::size_t digits);
    [[nodiscard]] std::string random_uuid();
    void record_call(FakeSlackCall call);

    const FakeSlackOptions options_;
    FakeSlackRecords& records_;  // records_.mutex_ guards every member below

    std::string http_base_;
    std::string ws_base_;
    std::mt19937_64 random_;
    std::uint64_t serial_ = 0;
    std::int64_t last_ts_us_ = 0;

    std::map<std::string, FakeSlackUser> users_;
    std::map<std::string, std::vector<std::string>> usergroups_;
    std::map<std::string, std::string> channels_;  // id → name
    std::map<std::string, std::deque<FakeSlackFault>, std::less<>> faults_;
    std::set<std::string, std::less<>> tickets_;
    std::map<std::string, ResponseUrl> response_urls_;
    std::map<std::string, Message> messages_;  // by ts
};

}  // namespace rollbot::test::fake_slack
