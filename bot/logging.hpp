#pragma once

#include <spdlog/common.h>
#include <spdlog/logger.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace rollbot::core {

enum class LogFormat { Text, Json };

/// The named loggers, created once in main and passed to each component's constructor.
struct Loggers {
    std::shared_ptr<spdlog::logger> core;
    std::shared_ptr<spdlog::logger> chat;
    std::shared_ptr<spdlog::logger> actions;
    std::shared_ptr<spdlog::logger> audit;  // every request, decision and execution
};

/// "trace".."critical", "off"; nullopt for anything else.
[[nodiscard]] std::optional<spdlog::level::level_enum> parse_log_level(std::string_view name);

/// Loggers writing to stderr (stdout may be the console chat) from a background thread with a
/// bounded queue. Every line goes through redact(), so a token that slips into a message still
/// never reaches the sink.
[[nodiscard]] Loggers make_loggers(spdlog::level::level_enum level, LogFormat format);

/// Log lines dropped because the sink could not keep up (for /metrics).
[[nodiscard]] std::size_t overrun_count();

/// Writes out every queued line; call once before the process exits.
void flush_logs();

/// A logger that drops everything (tests, tools).
[[nodiscard]] std::shared_ptr<spdlog::logger> null_logger(std::string name);

}  // namespace rollbot::core
