#pragma once
// Internal to rollbot::config: the pieces loader.cpp puts together.

#include "bot/settings.hpp"
#include "config/loader.hpp"
#include "config/schema.hpp"

#include <filesystem>

namespace rollbot::config::detail {

/// Settings with design §4's defaults, including both deployments.
[[nodiscard]] core::Settings default_settings(const std::filesystem::path& base_dir);
/// Reads the whole document into `out` (which holds the defaults), reporting every problem.
void read_settings(Context& ctx, const Value& root, core::Settings& out);
/// Tokens and SLACK_API_URL from the environment into `out`.
void read_environment(Context& ctx,
                      const Environment& env,
                      const LoadOptions& options,
                      core::Settings& out);

}  // namespace rollbot::config::detail
