#pragma once
// What a FakeSlackServer recorded, and the test thread's queries of it (fake_slack_records.cpp).
// Part of fake_slack_server.hpp's API: include that one.

#include "bot/http.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rollbot::test {

using FakeSlackClock = std::chrono::steady_clock;

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

namespace fake_slack {
class Workspace;
}  // namespace fake_slack

/// What one fake workspace recorded, as the test thread sees it. Thread-safe. Waiters never
/// sleep: they wait on what the server thread records, and a failed one says what did arrive.
class FakeSlackRecords {
public:
    FakeSlackRecords(const FakeSlackRecords&) = delete;
    FakeSlackRecords& operator=(const FakeSlackRecords&) = delete;

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

protected:
    FakeSlackRecords() = default;
    ~FakeSlackRecords() = default;

private:
    // The workspace records into these on the server thread, with mutex_ held, and notifies.
    friend class fake_slack::Workspace;

    [[nodiscard]] testing::AssertionResult wait(std::chrono::milliseconds timeout,
                                                const std::function<bool()>& done,
                                                const std::function<std::string()>& explain) const;
    [[nodiscard]] testing::AssertionResult wait_for_message(
        bool update,
        std::string_view channel,
        std::string_view substring,
        std::chrono::milliseconds timeout) const;

    mutable std::mutex mutex_;  // also guards the workspace's own state
    mutable std::condition_variable changed_;

    std::vector<FakeSlackCall> calls_;
    std::map<std::string, std::size_t, std::less<>> call_counts_;
    std::vector<FakeSlackPost> posts_;
    std::vector<FakeSlackPost> updates_;
    std::vector<FakeSlackAck> acks_;
    std::vector<FakeSlackFrame> frames_;
    std::vector<FakeSlackEnvelope> envelopes_;
    std::unordered_map<std::string, std::size_t> envelope_index_;
    std::size_t acked_envelopes_ = 0;
    std::vector<FakeSlackConnection> connections_;  // [number - 1]
    std::size_t live_ = 0;
    std::size_t pongs_ = 0;
};

}  // namespace rollbot::test
