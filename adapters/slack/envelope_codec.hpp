#pragma once

#include "bot/chat.hpp"
#include "bot/ids.hpp"

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace rollbot::slack {

/// First frame of every connection: the link is live only after it.
struct Hello {
    int num_connections = 0;
    std::chrono::seconds approximate_connection_time{0};  // 0: not given
    std::string app_id;
    std::string host;  // debug_info.host, e.g. "applink-1"
    bool operator==(const Hello&) const = default;
};

enum class DisconnectReason { Warning, RefreshRequested, LinkDisabled, TooManyWebsockets, Unknown };

/// The reason as Slack spells it ("warning", "refresh_requested", …); "unknown" for any other.
[[nodiscard]] std::string_view to_string(DisconnectReason reason);

/// Slack asks us to move to a new connection (or tells us Socket Mode was switched off).
struct Disconnect {
    DisconnectReason reason = DisconnectReason::Unknown;
    std::string raw_reason;
    bool operator==(const Disconnect&) const = default;
};

/// A `slash_commands` envelope; every payload value is a string on the wire.
struct SlashCommandEnvelope {
    core::SlashCommand command;
    bool accepts_response_payload = false;
    bool operator==(const SlashCommandEnvelope&) const = default;
};

/// An `events_api` envelope. `reaction` is set for reaction_added / reaction_removed on a
/// message; any other event type is kept only by name (and ignored by the bot).
struct EventEnvelope {
    std::string event_id;  // the de-duplication key (globally unique)
    std::string event_type;
    int retry_attempt = 0;  // > 0: a redelivery; process it, it may be the only one we get
    std::string retry_reason;
    std::optional<core::ReactionEvent> reaction;
    bool operator==(const EventEnvelope&) const = default;
};

/// An `interactive` envelope (block_actions, shortcut, …): parsed, logged, not used yet.
struct InteractiveEnvelope {
    std::string payload_type;
    bool operator==(const InteractiveEnvelope&) const = default;
};

/// A frame rollbot does not act on: unknown type, malformed JSON, missing fields, too large.
struct Ignored {
    std::string why;  // for the log; never contains tokens or URLs from the frame
    bool operator==(const Ignored&) const = default;
};

/// One decoded text frame. `envelope_id` is set whenever the frame carried one, even if the
/// rest was unusable: every envelope is acknowledged, whatever its content.
struct Decoded {
    std::optional<core::EnvelopeId> envelope_id;
    std::variant<Hello,
                 Disconnect,
                 SlashCommandEnvelope,
                 EventEnvelope,
                 InteractiveEnvelope,
                 Ignored>
        body;
    bool operator==(const Decoded&) const = default;
};

/// Frames larger than this are not parsed (only their envelope_id is looked for, to ack them).
inline constexpr std::size_t kMaxFrameBytes = 512 * 1024;

/// Decodes a Socket Mode text frame. Pure, never throws: bad input becomes Ignored.
[[nodiscard]] Decoded decode_frame(std::string_view text);

/// `{"envelope_id":"…"}`, or with `"payload":{…}` when a response payload is given (JSON).
[[nodiscard]] std::string encode_ack(const core::EnvelopeId& id,
                                     std::optional<std::string_view> payload_json = std::nullopt);

}  // namespace rollbot::slack
