#pragma once
// Internal to rollbot::config: checks of single text values, shared by the file and the
// environment. Each check_* returns a complaint to put after the quoted value, or nullopt.

#include "bot/settings.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace rollbot::config::detail {

/// `C…` or `G…`: core::is_channel_id without DMs.
[[nodiscard]] bool is_incidents_channel_id(std::string_view s);
[[nodiscard]] std::optional<std::string> check_dns_label(std::string_view s);
[[nodiscard]] std::optional<std::string> check_image_repository(std::string_view s);
[[nodiscard]] std::optional<std::string> check_exec_target(std::string_view s);
[[nodiscard]] std::optional<std::string> check_emoji_name(std::string_view s);
[[nodiscard]] std::optional<std::string> check_http_url(std::string_view s);
/// https://, or http:// for 127.0.0.1, ::1 and localhost only.
[[nodiscard]] std::optional<std::string> check_slack_api_url(std::string_view s);
[[nodiscard]] std::string with_trailing_slash(std::string url);
/// A libpq connection URI for state.url. With `password_allowed` false (the config file), one
/// that carries a password is refused. The complaint never repeats the URL.
[[nodiscard]] std::optional<std::string> check_state_url(std::string_view s, bool password_allowed);
/// `host:port` for http.listen; `localhost` becomes 127.0.0.1 so the server can bind it as is.
[[nodiscard]] std::optional<core::HttpSettings> parse_listen_address(std::string_view s);
/// Why `text` is not a duration, with the spelling to use where it can be guessed.
[[nodiscard]] std::string duration_complaint(std::string_view text);

}  // namespace rollbot::config::detail
