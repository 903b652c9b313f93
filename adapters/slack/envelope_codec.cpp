#include "adapters/slack/envelope_codec.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>

namespace rollbot::slack {
namespace {

using nlohmann::json;

// Envelope ids are UUIDs; the raw scan of an oversized or malformed frame accepts at most this
// many bytes so it never copies an unbounded value.
constexpr std::size_t kMaxScannedIdBytes = 256;
// Enum-like names (envelope type) are shown in `why` only when short and made of these
// characters: no `-`, `:` or `/`, so a token, ticket or URL can never be echoed into a log.
constexpr std::size_t kMaxShownNameBytes = 40;
// Socket Mode lives for hours; anything beyond a year is nonsense and treated as "not given".
constexpr std::int64_t kMaxConnectionSeconds = 366LL * 24 * 3600;

Decoded ignored(std::optional<core::EnvelopeId> id, std::string why) {
    return Decoded{std::move(id), Ignored{std::move(why)}};
}

// A field of an object, or nullptr when `obj` is not an object or has no such key.
const json* field(const json& obj, const char* key) {
    if (!obj.is_object()) {
        return nullptr;
    }
    const auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
}

std::optional<std::string_view> string_field(const json& obj, const char* key) {
    const json* value = field(obj, key);
    if (value == nullptr || !value->is_string()) {
        return std::nullopt;
    }
    return std::string_view{value->get_ref<const json::string_t&>()};
}

// An integer field within [lo, hi]; floats, strings and out-of-range values are "not given".
std::optional<std::int64_t> int_field(const json& obj,
                                      const char* key,
                                      std::int64_t lo,
                                      std::int64_t hi) {
    const json* value = field(obj, key);
    if (value == nullptr) {
        return std::nullopt;
    }
    if (value->is_number_unsigned()) {
        const auto u = value->get_ref<const json::number_unsigned_t&>();
        if (u > static_cast<std::uint64_t>(hi)) {
            return std::nullopt;
        }
        return static_cast<std::int64_t>(u);
    }
    if (value->is_number_integer()) {
        const auto i = value->get_ref<const json::number_integer_t&>();
        if (i < lo || i > hi) {
            return std::nullopt;
        }
        return i;
    }
    return std::nullopt;
}

// The envelope flag is a JSON bool; a "true" string is accepted too (payload values are strings).
bool bool_field(const json& obj, const char* key) {
    const json* value = field(obj, key);
    if (value == nullptr) {
        return false;
    }
    if (value->is_boolean()) {
        return value->get_ref<const json::boolean_t&>();
    }
    return value->is_string() && value->get_ref<const json::string_t&>() == "true";
}

// Describes a name for the log without echoing anything that could be a credential.
std::string describe(std::string_view name) {
    const bool safe =
        name.size() <= kMaxShownNameBytes && std::all_of(name.begin(), name.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '_' || c == '.';
        });
    if (safe && !name.empty()) {
        return fmt::format("\"{}\"", name);
    }
    return fmt::format("({} bytes, not shown)", name.size());
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::size_t skip_space(std::string_view text, std::size_t i) {
    while (i < text.size() && is_space(text[i])) {
        ++i;
    }
    return i;
}

// At a top-level `"envelope_id"` key starting at `i`: its plain string value (no escapes,
// printable ASCII, bounded length), if it has one.
std::optional<core::EnvelopeId> id_value_at(std::string_view text, std::size_t i) {
    constexpr std::string_view kKey = R"("envelope_id")";
    if (text.substr(i, kKey.size()) != kKey) {
        return std::nullopt;
    }
    i = skip_space(text, i + kKey.size());
    if (i >= text.size() || text[i] != ':') {
        return std::nullopt;
    }
    i = skip_space(text, i + 1);
    if (i >= text.size() || text[i] != '"') {
        return std::nullopt;
    }
    const std::size_t begin = i + 1;
    for (std::size_t j = begin; j < text.size() && j - begin <= kMaxScannedIdBytes; ++j) {
        const char c = text[j];
        if (c == '"') {
            if (j == begin) {
                return std::nullopt;
            }
            return core::EnvelopeId{std::string{text.substr(begin, j - begin)}};
        }
        if (c == '\\' || c < 0x20 || c > 0x7e) {
            return std::nullopt;
        }
    }
    return std::nullopt;
}

// One linear pass that tracks strings and nesting, so only a key of the outermost object
// matches (not a look-alike inside payload text). No allocation besides the result.
std::optional<core::EnvelopeId> scan_envelope_id(std::string_view text) {
    int depth = 0;
    bool in_string = false;
    bool escaped = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        if (c == '"') {
            if (depth == 1) {
                if (auto id = id_value_at(text, i)) {
                    return id;
                }
            }
            in_string = true;
        } else if (c == '{' || c == '[') {
            ++depth;
        } else if (c == '}' || c == ']') {
            --depth;
        }
    }
    return std::nullopt;
}

Hello decode_hello(const json& frame) {
    Hello hello;
    hello.num_connections = static_cast<int>(
        int_field(frame, "num_connections", 0, std::numeric_limits<int>::max()).value_or(0));
    if (const json* debug = field(frame, "debug_info")) {
        hello.approximate_connection_time = std::chrono::seconds{
            int_field(*debug, "approximate_connection_time", 0, kMaxConnectionSeconds).value_or(0)};
        hello.host = std::string{string_field(*debug, "host").value_or("")};
    }
    if (const json* info = field(frame, "connection_info")) {
        hello.app_id = std::string{string_field(*info, "app_id").value_or("")};
    }
    return hello;
}

Disconnect decode_disconnect(const json& frame) {
    Disconnect disconnect;
    const auto reason = string_field(frame, "reason");
    if (!reason) {
        return disconnect;
    }
    disconnect.raw_reason = std::string{*reason};
    if (*reason == "warning") {
        disconnect.reason = DisconnectReason::Warning;
    } else if (*reason == "refresh_requested") {
        disconnect.reason = DisconnectReason::RefreshRequested;
    } else if (*reason == "link_disabled") {
        disconnect.reason = DisconnectReason::LinkDisabled;
    } else if (*reason == "too_many_websockets") {
        disconnect.reason = DisconnectReason::TooManyWebsockets;
    }
    return disconnect;
}

// Slash command payloads are HTTP form fields turned into JSON: every value is a string.
std::variant<SlashCommandEnvelope, Ignored> decode_slash_command(const json& frame) {
    const json* payload = field(frame, "payload");
    if (payload == nullptr || !payload->is_object()) {
        return Ignored{"slash_commands: payload is not an object"};
    }
    const auto user = string_field(*payload, "user_id");
    const auto channel = string_field(*payload, "channel_id");
    const auto command = string_field(*payload, "command");
    if (!user || !core::is_user_id(*user)) {
        return Ignored{"slash_commands: user_id missing or not a Slack user id"};
    }
    if (!channel || !core::is_channel_id(*channel)) {
        return Ignored{"slash_commands: channel_id missing or not a Slack channel id"};
    }
    if (!command || command->empty()) {
        return Ignored{"slash_commands: command missing or not a string"};
    }
    const auto text = string_field(*payload, "text");
    if (!text && field(*payload, "text") != nullptr) {
        return Ignored{"slash_commands: text is not a string"};
    }
    SlashCommandEnvelope out;
    core::SlashCommand& cmd = out.command;
    cmd.user = core::UserId{std::string{*user}};
    cmd.user_name = std::string{string_field(*payload, "user_name").value_or("")};
    cmd.channel = core::ChannelId{std::string{*channel}};
    cmd.command = std::string{*command};
    cmd.text = std::string{text.value_or("")};
    cmd.reply = core::ReplyTarget{
        cmd.channel,
        cmd.user,
        core::Secret{std::string{string_field(*payload, "response_url").value_or("")}}};
    out.accepts_response_payload = bool_field(frame, "accepts_response_payload");
    return out;
}

// reaction_added / reaction_removed on a message; anything else (files, missing fields) → none.
std::optional<core::ReactionEvent> decode_reaction(const json& event, std::string_view type) {
    const auto user = string_field(event, "user");
    const auto reaction = string_field(event, "reaction");
    const json* item = field(event, "item");
    if (!user || !core::is_user_id(*user) || !reaction || reaction->empty() || item == nullptr) {
        return std::nullopt;
    }
    const auto item_type = string_field(*item, "type");
    const auto channel = string_field(*item, "channel");
    const auto ts = string_field(*item, "ts");
    if (item_type != "message" || !channel || !core::is_channel_id(*channel) || !ts ||
        ts->empty()) {
        return std::nullopt;
    }
    core::ReactionEvent out;
    out.added = type == "reaction_added";
    out.user = core::UserId{std::string{*user}};
    out.reaction = std::string{*reaction};
    out.item =
        core::MessageRef{core::ChannelId{std::string{*channel}}, core::MessageTs{std::string{*ts}}};
    return out;
}

std::variant<EventEnvelope, Ignored> decode_event(const json& frame) {
    const json* payload = field(frame, "payload");
    if (payload == nullptr || !payload->is_object()) {
        return Ignored{"events_api: payload is not an object"};
    }
    const json* event = field(*payload, "event");
    const auto type = event == nullptr ? std::nullopt : string_field(*event, "type");
    if (!type) {
        return Ignored{"events_api: payload.event.type missing or not a string"};
    }
    EventEnvelope out;
    out.event_id = std::string{string_field(*payload, "event_id").value_or("")};
    out.event_type = std::string{*type};
    // Slack retries at most 3 times; a bigger number is still a retry, so keep it.
    out.retry_attempt = static_cast<int>(
        int_field(frame, "retry_attempt", 0, std::numeric_limits<int>::max()).value_or(0));
    out.retry_reason = std::string{string_field(frame, "retry_reason").value_or("")};
    if (*type == "reaction_added" || *type == "reaction_removed") {
        out.reaction = decode_reaction(*event, *type);
        if (out.reaction) {
            out.reaction->event_id = out.event_id;
        }
    }
    return out;
}

std::variant<InteractiveEnvelope, Ignored> decode_interactive(const json& frame) {
    const json* payload = field(frame, "payload");
    const auto type = payload == nullptr ? std::nullopt : string_field(*payload, "type");
    if (!type) {
        return Ignored{"interactive: payload.type missing or not a string"};
    }
    return InteractiveEnvelope{std::string{*type}};
}

template <class... T>
Decoded with_id(std::optional<core::EnvelopeId> id, std::variant<T...> body) {
    return std::visit(
        [&id](auto&& b) {
            return Decoded{std::move(id), std::forward<decltype(b)>(b)};
        },
        std::move(body));
}

Decoded decode_object(const json& frame) {
    std::optional<core::EnvelopeId> id;
    if (const auto raw = string_field(frame, "envelope_id"); raw && !raw->empty()) {
        id = core::EnvelopeId{std::string{*raw}};
    }
    const auto type = string_field(frame, "type");
    if (!type) {
        return ignored(std::move(id), "envelope type missing or not a string");
    }
    // Control messages carry no envelope_id and are never acked.
    if (*type == "hello") {
        return Decoded{std::move(id), decode_hello(frame)};
    }
    if (*type == "disconnect") {
        return Decoded{std::move(id), decode_disconnect(frame)};
    }
    const bool envelope =
        *type == "slash_commands" || *type == "events_api" || *type == "interactive";
    if (!envelope) {
        return ignored(std::move(id), "unknown envelope type " + describe(*type));
    }
    // Acting on an envelope we cannot ack would run a command whose user sees a timeout.
    if (!id) {
        return ignored(std::nullopt, std::string{*type} + " envelope without envelope_id");
    }
    if (*type == "slash_commands") {
        return with_id(std::move(id), decode_slash_command(frame));
    }
    if (*type == "events_api") {
        return with_id(std::move(id), decode_event(frame));
    }
    return with_id(std::move(id), decode_interactive(frame));
}

}  // namespace

std::string_view to_string(DisconnectReason r) {
    switch (r) {
        case DisconnectReason::Warning:
            return "warning";
        case DisconnectReason::RefreshRequested:
            return "refresh_requested";
        case DisconnectReason::LinkDisabled:
            return "link_disabled";
        case DisconnectReason::TooManyWebsockets:
            return "too_many_websockets";
        case DisconnectReason::Unknown:
            break;
    }
    return "unknown";
}

Decoded decode_frame(std::string_view text) {
    try {
        if (text.size() > kMaxFrameBytes) {
            return ignored(scan_envelope_id(text),
                           "frame too large: " + std::to_string(text.size()) + " bytes");
        }
        const json frame = json::parse(text.begin(), text.end(), nullptr, false);
        if (frame.is_discarded()) {
            // Still ack what can be acked: an unacked event would only be redelivered, as broken.
            return ignored(scan_envelope_id(text),
                           "malformed JSON (" + std::to_string(text.size()) + " bytes)");
        }
        if (!frame.is_object()) {
            return ignored(std::nullopt, "frame is not a JSON object");
        }
        return decode_object(frame);
    } catch (const std::exception&) {
        // Only std::bad_alloc can get here; the frame is dropped rather than the daemon.
        return ignored(std::nullopt, "frame could not be decoded");
    }
}

std::string encode_ack(const core::EnvelopeId& id, std::optional<std::string_view> payload_json) {
    json ack = json::object();
    ack["envelope_id"] = id.str();
    if (payload_json) {
        json payload = json::parse(payload_json->begin(), payload_json->end(), nullptr, false);
        // A payload that is not a JSON object would make Slack reject the whole frame; a plain
        // ack at least stops the "operation_timeout" the user would otherwise see.
        if (!payload.is_discarded() && payload.is_object()) {
            ack["payload"] = std::move(payload);
        }
    }
    // Keys are sorted (std::map), so "envelope_id" always comes first.
    return ack.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace rollbot::slack
