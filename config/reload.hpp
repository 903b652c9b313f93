#pragma once

#include "bot/settings.hpp"

#include <string>
#include <vector>

namespace rollbot::config {

/// What a SIGHUP reload changes: the keys that take effect now, and the keys that changed in
/// the file but are only read at start-up (they are kept as they are until a restart).
struct SettingsChange {
    std::vector<std::string> applied;       // e.g. "access", "approvals", "verify"
    std::vector<std::string> need_restart;  // e.g. "http.listen", "state.path", "tokens"

    [[nodiscard]] bool empty() const { return applied.empty() && need_restart.empty(); }
};

/// Compares the running settings with a freshly loaded (valid) file.
[[nodiscard]] SettingsChange diff_settings(const core::Settings& running,
                                           const core::Settings& fresh);

/// Copies the parts of `fresh` that can change while running into `running`, section by
/// section and only where they differ; start-up-only keys keep their running values. The
/// caller applies it on the io thread while no command is being handled: components hold
/// `running` by reference and read it per command.
void apply_live(core::Settings& running, const core::Settings& fresh);

}  // namespace rollbot::config
