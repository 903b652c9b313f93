#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace rollbot::core {

/// A credential (token, connection URL, response_url): formats as `***`, read only via reveal().
class Secret {
public:
    Secret() = default;
    explicit Secret(std::string value) : value_(std::move(value)) {}

    [[nodiscard]] const std::string& reveal() const { return value_; }
    [[nodiscard]] bool empty() const { return value_.empty(); }

    bool operator==(const Secret&) const = default;

private:
    std::string value_;
};

/// Masks Slack tokens (`xapp-…`, `xoxb-…`, `xoxp-…`) and socket tickets in free text for logs.
[[nodiscard]] std::string redact(std::string_view text);

}  // namespace rollbot::core

template <>
struct fmt::formatter<rollbot::core::Secret> : fmt::formatter<std::string_view> {
    template <class Ctx>
    auto format(const rollbot::core::Secret& /*secret*/, Ctx& ctx) const {
        return fmt::formatter<std::string_view>::format("***", ctx);
    }
};
