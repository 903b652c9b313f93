// FakeSlackServer's records of the Socket Mode side, and the envelopes it builds.
#include "test/support/fake_slack_workspace.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <utility>

namespace rollbot::test::fake_slack {
namespace {

using nlohmann::json;

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
        return static_cast<char>(std::tolower(c));
    });
    return out;
}

}  // namespace

Workspace::Workspace(FakeSlackOptions options, FakeSlackRecords& records)
    : options_(std::move(options)), records_(records), random_(std::random_device{}()) {}

void Workspace::set_bases(std::string http_base, std::string ws_base) {
    const std::lock_guard lock(records_.mutex_);
    http_base_ = std::move(http_base);
    ws_base_ = std::move(ws_base);
}

void Workspace::add_user(FakeSlackUser user) {
    const std::lock_guard lock(records_.mutex_);
    auto id = user.id;
    users_[std::move(id)] = std::move(user);
}

void Workspace::add_usergroup(std::string id, std::vector<std::string> user_ids) {
    const std::lock_guard lock(records_.mutex_);
    usergroups_[std::move(id)] = std::move(user_ids);
}

void Workspace::add_channel(std::string id, std::string name) {
    const std::lock_guard lock(records_.mutex_);
    channels_[std::move(id)] = std::move(name);
}

void Workspace::inject_fault(std::string method, FakeSlackFault fault) {
    const std::lock_guard lock(records_.mutex_);
    if (fault.times > 0) {
        faults_[std::move(method)].push_back(std::move(fault));
    }
}

void Workspace::clear_faults(std::string_view method) {
    const std::lock_guard lock(records_.mutex_);
    if (method.empty()) {
        faults_.clear();
    } else if (const auto found = faults_.find(method); found != faults_.end()) {
        faults_.erase(found);
    }
}

// ---- Socket Mode bookkeeping (server thread) ----

std::pair<std::size_t, std::string> Workspace::connection_opened() {
    std::string hello;
    std::size_t number = 0;
    {
        const std::lock_guard lock(records_.mutex_);
        FakeSlackConnection connection;
        connection.number = records_.connections_.size() + 1;
        connection.live = true;
        connection.opened_at = FakeSlackClock::now();
        records_.connections_.push_back(connection);
        number = connection.number;
        ++records_.live_;
        hello = to_text(
            json{{"type", "hello"},
                 {"num_connections", records_.live_},
                 {"debug_info",
                  {{"host", "applink-fake"},
                   {"build_number", 1},
                   {"approximate_connection_time", options_.approximate_connection_time.count()}}},
                 {"connection_info", {{"app_id", options_.app_id}}}});
    }
    records_.changed_.notify_all();
    return {number, std::move(hello)};
}

void Workspace::connection_ended(std::size_t number,
                                 FakeSlackClosedBy by,
                                 bool client_close_frame,
                                 std::uint16_t close_code) {
    {
        const std::lock_guard lock(records_.mutex_);
        auto& connection = records_.connections_.at(number - 1);
        if (!connection.live) {
            return;
        }
        connection.live = false;
        connection.closed_by = by;
        connection.client_close_frame = client_close_frame;
        connection.close_code = close_code;
        connection.closed_at = FakeSlackClock::now();
        --records_.live_;
    }
    records_.changed_.notify_all();
}

void Workspace::connection_stopped_reading(std::size_t number) {
    const std::lock_guard lock(records_.mutex_);
    records_.connections_.at(number - 1).reading = false;
}

void Workspace::frame_received(std::size_t number, std::string data, bool binary) {
    const auto at = FakeSlackClock::now();
    std::optional<FakeSlackAck> ack;
    if (!binary) {
        const json parsed = json::parse(data, nullptr, false);
        if (parsed.is_object()) {
            const auto id = parsed.find("envelope_id");
            if (id != parsed.end() && id->is_string()) {
                const auto payload = parsed.find("payload");
                ack = FakeSlackAck{id->get<std::string>(),
                                   payload == parsed.end() ? std::string() : to_text(*payload),
                                   number,
                                   at,
                                   std::nullopt};
            }
        }
    }
    {
        const std::lock_guard lock(records_.mutex_);
        records_.frames_.push_back(FakeSlackFrame{number, std::move(data), binary, at});
        if (ack) {
            if (const auto found = records_.envelope_index_.find(ack->envelope_id);
                found != records_.envelope_index_.end()) {
                auto& envelope = records_.envelopes_[found->second];
                if (envelope.acks++ == 0) {
                    envelope.acked_at = at;
                    ++records_.acked_envelopes_;
                }
                if (envelope.sent_at) {
                    ack->latency = at - *envelope.sent_at;
                }
            }
            records_.acks_.push_back(std::move(*ack));
        }
    }
    records_.changed_.notify_all();
}

void Workspace::control_received(std::size_t number, bool pong) {
    {
        const std::lock_guard lock(records_.mutex_);
        auto& connection = records_.connections_.at(number - 1);
        if (pong) {
            ++connection.client_pongs;
            ++records_.pongs_;
        } else {
            ++connection.client_pings;
        }
    }
    records_.changed_.notify_all();
}

void Workspace::envelope_written(const std::string& envelope_id, std::size_t number) {
    const auto at = FakeSlackClock::now();
    const std::lock_guard lock(records_.mutex_);
    if (const auto found = records_.envelope_index_.find(envelope_id);
        found != records_.envelope_index_.end()) {
        auto& envelope = records_.envelopes_[found->second];
        envelope.connection = number;
        envelope.sent_at = at;
    }
}

// ---- Envelopes (test thread) ----

OutFrame Workspace::slash_command(std::string_view text,
                                  std::string_view user,
                                  std::string_view channel,
                                  std::string_view command) {
    std::string response_id;
    std::string trigger_id;
    std::string user_name = lower(user);
    std::string channel_name = lower(channel);
    std::string http_base;
    {
        const std::lock_guard lock(records_.mutex_);
        response_id = std::to_string(++serial_) + "-" + random_hex(24);
        response_urls_[response_id] = ResponseUrl{std::string(channel), 0};
        trigger_id = std::to_string(serial_) + "." + random_hex(20);
        if (const auto found = users_.find(std::string(user)); found != users_.end()) {
            user_name = found->second.name;
        }
        if (const auto found = channels_.find(std::string(channel)); found != channels_.end()) {
            channel_name = found->second;
        }
        http_base = http_base_;
    }
    // Slash command payloads are the HTTP form fields as a JSON object: every value a string.
    json payload{{"token", "fake-verification-token"},
                 {"team_id", options_.team_id},
                 {"team_domain", options_.team_domain},
                 {"channel_id", channel},
                 {"channel_name", channel_name},
                 {"user_id", user},
                 {"user_name", user_name},
                 {"command", command},
                 {"text", text},
                 {"api_app_id", options_.app_id},
                 {"is_enterprise_install", "false"},
                 {"response_url", http_base + "/respond/" + response_id},
                 {"trigger_id", trigger_id}};
    return envelope("slash_commands", std::move(payload), true);
}

OutFrame Workspace::reaction(bool added,
                             std::string_view user,
                             std::string_view reaction,
                             std::string_view channel,
                             std::string_view ts,
                             std::string_view event_id,
                             int retry_attempt) {
    std::string id(event_id);
    std::string event_ts;
    bool bots_message = false;
    {
        const std::lock_guard lock(records_.mutex_);
        if (id.empty()) {
            char buffer[16];
            std::snprintf(
                buffer, sizeof buffer, "Ev0F%08llX", static_cast<unsigned long long>(++serial_));
            id = buffer;
        }
        event_ts = next_ts();
        bots_message = messages_.contains(std::string(ts));
    }
    json event{{"type", added ? "reaction_added" : "reaction_removed"},
               {"user", user},
               {"reaction", reaction},
               {"item", {{"type", "message"}, {"channel", channel}, {"ts", ts}}},
               {"event_ts", event_ts}};
    // item_user is absent for messages without an author user; the bot's own messages have it.
    if (bots_message) {
        event["item_user"] = options_.bot_user_id;
    }
    const auto seconds = event_ts.substr(0, event_ts.find('.'));
    json payload{{"token", "fake-verification-token"},
                 {"team_id", options_.team_id},
                 {"api_app_id", options_.app_id},
                 {"event", std::move(event)},
                 {"type", "event_callback"},
                 {"event_id", id},
                 {"event_time", std::stoll(seconds)},
                 {"authorizations",
                  json::array({json{{"enterprise_id", nullptr},
                                    {"team_id", options_.team_id},
                                    {"user_id", options_.bot_user_id},
                                    {"is_bot", true},
                                    {"is_enterprise_install", false}}})},
                 {"is_ext_shared_channel", false},
                 {"event_context", "4-fake-" + id}};
    return envelope("events_api", std::move(payload), false, id, retry_attempt);
}

OutFrame Workspace::envelope(std::string_view type,
                             json payload,
                             bool accepts_response_payload,
                             std::string event_id,
                             int retry_attempt) {
    FakeSlackEnvelope record;
    record.type = std::string(type);
    record.event_id = std::move(event_id);
    {
        const std::lock_guard lock(records_.mutex_);
        record.envelope_id = random_uuid();
    }
    json frame{{"envelope_id", record.envelope_id},
               {"payload", std::move(payload)},
               {"type", type},
               {"accepts_response_payload", accepts_response_payload}};
    if (retry_attempt >= 0) {
        frame["retry_attempt"] = retry_attempt;
        frame["retry_reason"] = retry_attempt > 0 ? "timeout" : "";
    }
    OutFrame out{to_text(frame), record.envelope_id};
    record.queued_at = FakeSlackClock::now();
    const std::lock_guard lock(records_.mutex_);
    records_.envelope_index_.emplace(record.envelope_id, records_.envelopes_.size());
    records_.envelopes_.push_back(std::move(record));
    return out;
}

std::string Workspace::disconnect_frame(std::string_view reason) const {
    return to_text(json{
        {"type", "disconnect"}, {"reason", reason}, {"debug_info", {{"host", "applink-fake"}}}});
}

// ---- Helpers (records_.mutex_ held) ----

std::string Workspace::next_ts() {
    // Slack ts: "<unix seconds>.<6 digits>", unique per channel; here unique and increasing.
    const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    last_ts_us_ = std::max<std::int64_t>(last_ts_us_ + 1, now);
    char buffer[32];
    std::snprintf(buffer,
                  sizeof buffer,
                  "%lld.%06lld",
                  static_cast<long long>(last_ts_us_ / 1000000),
                  static_cast<long long>(last_ts_us_ % 1000000));
    return buffer;
}

std::string Workspace::random_hex(std::size_t digits) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(digits);
    std::uint64_t bits = 0;
    for (std::size_t i = 0; i < digits; ++i) {
        if (i % 16 == 0) {
            bits = random_();
        }
        out.push_back(kHex[bits & 0xF]);
        bits >>= 4;
    }
    return out;
}

std::string Workspace::random_uuid() {
    // A v4-shaped UUID whose last 12 digits are a serial number: unique even at benchmark rates.
    const auto hex = random_hex(20);
    char serial[16];
    std::snprintf(serial, sizeof serial, "%012llx", static_cast<unsigned long long>(++serial_));
    return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-4" + hex.substr(12, 3) + "-a" +
           hex.substr(15, 3) + "-" + serial;
}

void Workspace::record_call(FakeSlackCall call) {
    ++records_.call_counts_[call.method];
    records_.calls_.push_back(std::move(call));
}

}  // namespace rollbot::test::fake_slack

namespace rollbot::test {

FakeSlackFault FakeSlackFault::rate_limited(std::chrono::seconds retry_after, std::size_t times) {
    FakeSlackFault fault;
    fault.status = 429;
    fault.error = "ratelimited";
    fault.retry_after = retry_after;
    fault.times = times;
    return fault;
}

FakeSlackFault FakeSlackFault::server_error(int status, std::size_t times) {
    FakeSlackFault fault;
    fault.status = status;
    fault.times = times;
    return fault;
}

FakeSlackFault FakeSlackFault::slack_error(std::string error, std::size_t times) {
    FakeSlackFault fault;
    fault.error = std::move(error);
    fault.times = times;
    return fault;
}

FakeSlackFault FakeSlackFault::delayed(std::chrono::milliseconds delay, std::size_t times) {
    FakeSlackFault fault;
    fault.delay = delay;
    fault.times = times;
    return fault;
}

}  // namespace rollbot::test
