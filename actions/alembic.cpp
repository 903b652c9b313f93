#include "actions/alembic.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <sstream>

namespace rollbot::actions {
namespace {

std::string trim(std::string_view text) {
    const auto first = text.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) {
        return {};
    }
    const auto last = text.find_last_not_of(" \t\r");
    return std::string(text.substr(first, last - first + 1));
}

std::string upper(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
        return static_cast<char>(std::toupper(c));
    });
    return out;
}

// Statements that lose data: the runbook says dropped data must be restored from backup.
bool destroys_data(std::string_view statement) {
    const std::string s = upper(statement);
    if (s.find("ALEMBIC_VERSION") != std::string::npos) {
        return false;  // alembic's own bookkeeping
    }
    constexpr std::array<std::string_view, 4> kStarts = {
        "DROP TABLE", "TRUNCATE", "DELETE FROM", "DROP SCHEMA"};
    for (auto start : kStarts) {
        if (s.starts_with(start)) {
            return true;
        }
    }
    return s.starts_with("ALTER TABLE") && s.find(" DROP ") != std::string::npos &&
           s.find(" DROP CONSTRAINT") == std::string::npos &&
           s.find(" DROP DEFAULT") == std::string::npos &&
           s.find(" DROP NOT NULL") == std::string::npos;
}

}  // namespace

std::string parse_alembic_current(std::string_view out) {
    std::istringstream in{std::string(out)};
    for (std::string line; std::getline(in, line);) {
        const std::string text = trim(line);
        if (text.empty() || text.starts_with("INFO ") || text.starts_with("FAILED")) {
            continue;
        }
        return text.substr(0, text.find(' '));
    }
    return {};
}

core::DatabaseState parse_offline_downgrade(std::string_view sql) {
    core::DatabaseState state;
    state.sql = std::string(sql);
    constexpr std::string_view kRunning = "-- Running downgrade ";
    std::istringstream in{std::string(sql)};
    std::string statement;
    for (std::string line; std::getline(in, line);) {
        const std::string text = trim(line);
        if (text.starts_with(kRunning)) {
            std::string move = text.substr(kRunning.size());
            const auto arrow = move.find(" ->");
            std::string to =
                arrow == std::string::npos ? std::string{} : trim(move.substr(arrow + 3));
            state.downgrades.push_back(trim(move));
            state.target = to.empty() ? "base" : to;
            continue;
        }
        if (text.empty() || text.starts_with("--")) {
            continue;
        }
        statement += (statement.empty() ? "" : " ") + text;
        if (statement.back() == ';') {
            if (destroys_data(statement)) {
                state.destructive.push_back(statement);
            }
            statement.clear();
        }
    }
    return state;
}

}  // namespace rollbot::actions
