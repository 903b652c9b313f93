#pragma once

#include "bot/result.hpp"
#include "bot/settings.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rollbot::core {

/// What `/rollback …` asked for.
enum class CommandKind {
    Overview,  // bare `/rollback`: help and current status, runs nothing
    Help,
    Status,
    History,
    Verify,
    Advise,
    Cancel,
    Log,
    Rollback,
};

[[nodiscard]] std::string_view to_string(CommandKind kind);

/// Target of a DB downgrade: `-N` steps, or an alembic revision id.
struct DbTarget {
    int steps = 1;         // used when `revision` is empty
    std::string revision;  // [A-Za-z0-9_]{1,64}

    [[nodiscard]] std::string alembic_argument() const;  // "-1", "ae1027a6acf"
    bool operator==(const DbTarget&) const = default;
};

/// A rollback the user asked for, validated but not yet planned.
struct RollbackRequest {
    ActionKind action = ActionKind::Full;
    std::optional<std::string> sha;  // 7–40 lower-case hex
    std::optional<DbTarget> db;      // only for ActionKind::Db
    bool dry_run = false;

    bool operator==(const RollbackRequest&) const = default;
};

/// A parsed `/rollback` command.
struct Command {
    CommandKind kind = CommandKind::Overview;
    std::optional<RollbackRequest> rollback;  // kind == Rollback
    std::optional<std::string> deployment;    // history [backend|frontend]
    std::optional<RequestId> id;              // cancel [<id>], log [<id>]
    std::optional<std::string> reason;        // --reason <text>

    bool operator==(const Command&) const = default;
};

/// Parses the text after `/rollback`; an error says what was wrong (usage is shown separately).
[[nodiscard]] Result<Command> parse_command(std::string_view text);

/// The slash grammar, as shown after every rejection and in help.
[[nodiscard]] std::string_view command_usage();

/// Lower-case hex of 7 to 40 characters.
[[nodiscard]] bool is_commit_sha(std::string_view s);

/// Human name of a request: "backend rollback to abc1234f", "DB downgrade -1".
[[nodiscard]] std::string describe(const RollbackRequest& request);

}  // namespace rollbot::core
