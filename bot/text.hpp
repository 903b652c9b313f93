#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rollbot::core {

/// Optimal string alignment distance, ignoring ASCII case: Levenshtein plus adjacent
/// transpositions, so "tiemout" is one edit from "timeout".
[[nodiscard]] std::size_t edit_distance(std::string_view a, std::string_view b);

/// The candidate closest to `word` when it is close enough to be a typo (one edit for up to 4
/// characters, two up to 8, three beyond); nullopt otherwise. "did you mean …?" messages.
[[nodiscard]] std::optional<std::string_view> closest_word(
    std::string_view word, const std::vector<std::string_view>& candidates);

/// A value for key="value" log and audit fields: quoted, with `"` and `\` escaped, so free
/// text (a reason, an error) can never forge another field.
[[nodiscard]] std::string log_quote(std::string_view text);

/// "2026-11-24T01:00:00Z" (Kubernetes writes UTC with a Z, to the second) → a time point;
/// nullopt when it does not read as one.
[[nodiscard]] std::optional<std::chrono::system_clock::time_point> parse_utc(std::string_view text);

/// How long ago `at` was, for people: "40 min ago" (under 2 h), "5 h ago" (under 2 days),
/// "10 days ago"; a time in the future reads "0 min ago".
[[nodiscard]] std::string format_age(std::chrono::system_clock::time_point at,
                                     std::chrono::system_clock::time_point now);

/// Text for inside a ``` block: a stray fence in it would end the block early.
[[nodiscard]] std::string defuse_code_fences(std::string text);

}  // namespace rollbot::core
