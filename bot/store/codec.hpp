#pragma once

// How both stores write values: times as epoch milliseconds, enums by their to_string names.
// Shared by the SQLite and PostgreSQL stores so a state copies from one to the other unchanged.

#include "bot/result.hpp"
#include "bot/settings.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace rollbot::store {

/// "`op`: `message`" as a Storage error.
[[nodiscard]] core::Error storage_error(std::string_view op, std::string_view message);

/// Epoch milliseconds (system_clock), how every time is stored.
[[nodiscard]] std::int64_t to_ms(std::chrono::system_clock::time_point t);
[[nodiscard]] std::chrono::system_clock::time_point from_ms(std::int64_t ms);

/// The kind whose to_string() is `text`; nullopt for a name rollbot never writes.
[[nodiscard]] std::optional<core::ActionKind> action_kind_from_string(std::string_view text);

}  // namespace rollbot::store
