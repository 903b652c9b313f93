#pragma once

#include "bot/plan.hpp"

#include <string>
#include <string_view>

namespace rollbot::actions {

/// The revision `alembic current` printed on stdout ("3f2a1b4c5d6e (head)" → "3f2a1b4c5d6e");
/// "" when the database has none. Logging lines (stderr) never reach this.
[[nodiscard]] std::string parse_alembic_current(std::string_view out);

/// Reads the stdout of `alembic downgrade <from>:<to> --sql` (reference §5): the
/// `-- Running downgrade X -> Y` steps, where the downgrade ends, the SQL itself, and the
/// statements that drop, truncate or delete data (alembic's own bookkeeping excluded).
/// `revision` and `preview_error` are left for the caller.
[[nodiscard]] core::DatabaseState parse_offline_downgrade(std::string_view sql);

}  // namespace rollbot::actions
