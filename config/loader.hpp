#pragma once

#include "bot/settings.hpp"

#include <boost/system/result.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rollbot::config {

/// One thing wrong with the configuration, located so that an operator can fix it in one go.
struct Problem {
    std::string file;  // the config path as given; empty for the environment
    int line = 0;      // 1-based; 0 when there is no line (environment, a section that is absent)
    std::string key;   // key path (`approvals.db.timeout`, `access.operators.users[1]`) or variable
    std::string message;

    /// `file:line: key: message`; `file: key: message` without a line; `KEY: message` for the
    /// environment. Never contains a token value.
    [[nodiscard]] std::string to_string() const;

    bool operator==(const Problem&) const = default;
};

/// Looks up an environment variable; tests pass a fake so they never touch the real environment.
using Environment = std::function<std::optional<std::string>(std::string_view name)>;

/// The process environment (getenv).
[[nodiscard]] Environment process_environment();

struct LoadOptions {
    bool require_slack_tokens = true;  // false for --console, which talks to no Slack
};

using LoadResult = boost::system::result<core::Settings, std::vector<Problem>>;

/// Found by ADL when `LoadResult::value()` is called on problems: throws them, one per line.
[[noreturn]] void throw_exception_from_error(const std::vector<Problem>& problems,
                                             const boost::source_location& loc);

/// Reads, validates and resolves the configuration file at `path` plus the environment; returns
/// every problem found (ordered by line), never throws for bad input. Relative paths in the file
/// are resolved against the file's directory.
[[nodiscard]] LoadResult load_settings(const std::string& path,
                                       const Environment& env,
                                       const LoadOptions& options);

/// As load_settings, from text: `source_name` names it in problems, `base_dir` resolves paths.
[[nodiscard]] LoadResult parse_settings(std::string_view yaml,
                                        const std::string& source_name,
                                        const std::filesystem::path& base_dir,
                                        const Environment& env,
                                        const LoadOptions& options);

/// `90s`, `15m`, `2h`, `500ms`, `1h30m` (units h, m, s, ms, each once, largest first), or `0`
/// (none). Nothing else: no sign, no spaces, no bare numbers but 0, no overflow.
[[nodiscard]] std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace rollbot::config
