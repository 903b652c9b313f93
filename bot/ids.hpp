#pragma once

#include <fmt/format.h>

#include <compare>
#include <string>
#include <string_view>

namespace rollbot::core {

/// A string identifier that cannot be mixed up with another kind of identifier.
template <class Tag>
struct StrongId {
    std::string value;

    StrongId() = default;
    explicit StrongId(std::string v) : value(std::move(v)) {}

    [[nodiscard]] bool empty() const { return value.empty(); }
    [[nodiscard]] const std::string& str() const { return value; }

    auto operator<=>(const StrongId&) const = default;
    bool operator==(const StrongId&) const = default;
};

using UserId = StrongId<struct UserIdTag>;            // U…, W…
using UsergroupId = StrongId<struct UsergroupIdTag>;  // S…
using ChannelId = StrongId<struct ChannelIdTag>;      // C…, G…
using MessageTs = StrongId<struct MessageTsTag>;      // "1700000000.000100": opaque, never a float
using EnvelopeId = StrongId<struct EnvelopeIdTag>;
using RequestId = StrongId<struct RequestIdTag>;  // "R12": what users type after cancel / log

/// True for Slack-shaped user ids (`U` or `W`, then upper-case letters and digits).
[[nodiscard]] bool is_user_id(std::string_view s);
/// True for Slack-shaped usergroup ids (`S…`).
[[nodiscard]] bool is_usergroup_id(std::string_view s);
/// True for Slack-shaped conversation ids (`C…`, `G…`, `D…`).
[[nodiscard]] bool is_channel_id(std::string_view s);

}  // namespace rollbot::core

template <class Tag>
struct fmt::formatter<rollbot::core::StrongId<Tag>> : fmt::formatter<std::string_view> {
    template <class Ctx>
    auto format(const rollbot::core::StrongId<Tag>& id, Ctx& ctx) const {
        return fmt::formatter<std::string_view>::format(id.value, ctx);
    }
};
