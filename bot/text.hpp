#pragma once

#include <optional>
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

}  // namespace rollbot::core
