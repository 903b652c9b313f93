#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace rollbot::slack {

/// Slack truncates message text past 40,000 characters and advises keeping it under 4,000;
/// rollbot stays under this many bytes per message.
inline constexpr std::size_t kMaxMessageBytes = 3900;

/// Splits mrkdwn into messages of at most `limit` bytes: at line breaks where possible, never
/// inside a UTF-8 character, closing an open ``` block at the end of a part and reopening it
/// in the next. Parts after the first start with "(continued k/n)". Never drops text.
[[nodiscard]] std::vector<std::string> split_message(std::string_view text,
                                                     std::size_t limit = kMaxMessageBytes);

}  // namespace rollbot::slack
