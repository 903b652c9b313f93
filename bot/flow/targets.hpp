#pragma once

#include "bot/command.hpp"
#include "bot/lock_table.hpp"
#include "bot/reporter.hpp"

#include <chrono>
#include <optional>
#include <string>

namespace rollbot::core {

/// Takes every target `request` needs for `holder`, or none; when one is held, the text that
/// tells the requester who holds it, for what and since when.
[[nodiscard]] std::optional<std::string> take_targets(LockTable& locks,
                                                      const RollbackRequest& request,
                                                      const LockHolder& holder,
                                                      const Reporter& reporter,
                                                      std::chrono::system_clock::time_point now);

}  // namespace rollbot::core
