// The /rollback grammar (design §4). Strict on purpose: anything that is not exactly a known
// word, a commit SHA, an alembic revision or a request id is an error, never a guess.
#include "bot/command.hpp"
#include "bot/command_words.hpp"
#include "bot/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <vector>

namespace rollbot::core {
namespace {

using words::echo;
using words::is_hex;
using words::lower;
using words::reject_non_ascii;
using words::Token;
using words::tokenize;
using words::trim;

constexpr std::size_t kMaxCommandLength = 1000;

Error invalid(std::string message) {
    return Error{ErrorKind::Invalid, std::move(message)};
}

constexpr std::array<std::string_view, 13> kWords{"full",
                                                  "backend",
                                                  "frontend",
                                                  "db",
                                                  "status",
                                                  "history",
                                                  "verify",
                                                  "advise",
                                                  "cancel",
                                                  "log",
                                                  "help",
                                                  "--dry-run",
                                                  "--reason"};

std::string suggestion(std::string_view word) {
    auto best = closest_word(word, std::vector<std::string_view>(kWords.begin(), kWords.end()));
    return best ? fmt::format(" (did you mean '{}'?)", *best) : std::string{};
}

Result<std::string> parse_sha(std::string_view token) {
    if (auto e = reject_non_ascii(token)) {
        return *e;
    }
    if (!is_hex(token)) {
        return invalid(fmt::format(
            "{} is not a commit SHA: a SHA is 7 to 40 hex characters (0-9, a-f)", echo(token)));
    }
    if (token.size() < 7 || token.size() > 40) {
        return invalid(
            fmt::format("{} is not a commit SHA: it has {} characters, a SHA has 7 to 40",
                        echo(token),
                        token.size()));
    }
    return lower(token);
}

Result<DbTarget> parse_db_target(std::string_view token) {
    if (auto e = reject_non_ascii(token)) {
        return *e;
    }
    if (token.starts_with('+')) {
        return invalid(
            fmt::format("{}: /rollback db only downgrades; use -N or a revision id", echo(token)));
    }
    if (token.starts_with('-')) {
        const auto digits = token.substr(1);
        const bool numeric = !digits.empty() && digits.size() <= 2 &&
                             std::all_of(digits.begin(), digits.end(), [](unsigned char c) {
                                 return std::isdigit(c) != 0;
                             });
        if (!numeric || std::stoi(std::string(digits)) == 0) {
            return invalid(fmt::format(
                "{} is not a downgrade step count: use -1 to -99, or a revision id", echo(token)));
        }
        return DbTarget{std::stoi(std::string(digits)), {}};
    }
    const bool word = token.size() <= 64 && std::all_of(token.begin(), token.end(), [](char c) {
                          return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
                      });
    if (!word) {
        return invalid(fmt::format(
            "{} is not an alembic revision: a revision is 1 to 64 of A-Z, a-z, 0-9 and _",
            echo(token)));
    }
    const auto l = lower(token);
    if (l == "base" || l == "head" || l == "heads") {
        return invalid(fmt::format(
            "{} is a symbolic target, not a revision id: name the revision to go back to "
            "(alembic history lists them)",
            echo(token)));
    }
    return DbTarget{0, std::string(token)};
}

Result<RequestId> parse_request_id(std::string_view token) {
    std::string_view digits = token;
    if (!digits.empty() &&
        (digits.front() == '#' || digits.front() == 'R' || digits.front() == 'r')) {
        digits.remove_prefix(1);
    }
    const bool ok = !digits.empty() && digits.size() <= 9 && digits.front() != '0' &&
                    std::all_of(digits.begin(), digits.end(), [](unsigned char c) {
                        return std::isdigit(c) != 0;
                    });
    if (!ok) {
        return invalid(fmt::format("{} is not a request id (like R12)", echo(token)));
    }
    return RequestId{"R" + std::string(digits)};
}

struct Words {
    std::vector<std::string> positional;
    bool dry_run = false;
    std::optional<std::string> reason;
};

// Separates options from words; --reason takes the rest of the original line, verbatim.
Result<Words> split_options(std::string_view text, const std::vector<Token>& tokens) {
    Words w;
    for (const auto& t : tokens) {
        if (t.text == "--reason" || t.text.starts_with("--reason=")) {
            const std::size_t from = t.text == "--reason" ? t.end : text.find('=', t.start) + 1;
            std::string rest = trim(text.substr(from));
            if (rest.empty()) {
                return invalid("--reason needs a text: --reason <what happened, in one line>");
            }
            w.reason = std::move(rest);
            return w;
        }
        if (t.text == "--dry-run") {
            if (w.dry_run) {
                return invalid("--dry-run is given twice");
            }
            w.dry_run = true;
            continue;
        }
        if (t.text.starts_with("--") || (t.text.starts_with('-') && w.positional.empty())) {
            if (auto e = reject_non_ascii(t.text)) {
                return *e;
            }
            return invalid(fmt::format("unknown option {}{}", echo(t.text), suggestion(t.text)));
        }
        w.positional.push_back(t.text);
    }
    return w;
}

Result<Command> too_many(const std::vector<std::string>& words, std::size_t allowed) {
    std::string head;
    for (std::size_t i = 0; i < allowed; ++i) {
        head += (i > 0 ? " " : "") + words[i];
    }
    return invalid(fmt::format("unexpected {} after '{}'", echo(words[allowed]), head));
}

Result<Command> parse_rollback(const Words& w, ActionKind kind) {
    RollbackRequest r;
    r.action = kind;
    r.dry_run = w.dry_run;
    if (w.positional.size() > 2) {
        return too_many(w.positional, 2);
    }
    if (kind == ActionKind::Db) {
        auto target = w.positional.size() == 2 ? parse_db_target(w.positional[1])
                                               : Result<DbTarget>(DbTarget{});
        if (!target) {
            return target.error();
        }
        r.db = *target;
    } else if (w.positional.size() == 2) {
        auto sha = parse_sha(w.positional[1]);
        if (!sha) {
            return sha.error();
        }
        r.sha = *sha;
        if (kind == ActionKind::Full) {
            r.action = ActionKind::Sha;
        }
    }
    return Command{CommandKind::Rollback, r, std::nullopt, std::nullopt, w.reason};
}

Result<Command> parse_read(const Words& w, CommandKind kind) {
    const auto& p = w.positional;
    if (w.dry_run) {
        return invalid(fmt::format("--dry-run applies only to a rollback, not to '{}'", p[0]));
    }
    if (w.reason && kind != CommandKind::Cancel) {
        return invalid(
            fmt::format("--reason applies only to a rollback or cancel, not to '{}'", p[0]));
    }
    Command c{kind, std::nullopt, std::nullopt, std::nullopt, w.reason};
    const bool takes_argument =
        kind == CommandKind::History || kind == CommandKind::Cancel || kind == CommandKind::Log;
    if (p.size() > (takes_argument ? 2U : 1U)) {
        return too_many(p, takes_argument ? 2 : 1);
    }
    if (p.size() == 2 && kind == CommandKind::History) {
        const auto d = lower(p[1]);
        if (d != "backend" && d != "frontend") {
            return invalid(fmt::format("history takes backend or frontend, not {}", echo(p[1])));
        }
        c.deployment = d;
    } else if (p.size() == 2) {
        auto id = parse_request_id(p[1]);
        if (!id) {
            return id.error();
        }
        c.id = *id;
    }
    return c;
}

Result<Command> unknown_word(std::string_view word) {
    if (auto e = reject_non_ascii(word)) {
        return *e;
    }
    const auto hexish = std::count_if(
        word.begin(), word.end(), [](unsigned char c) { return std::isxdigit(c) != 0; });
    if (word.size() >= 7 && static_cast<std::size_t>(hexish) + 2 >= word.size()) {
        return parse_sha(word).error();  // almost a SHA: say why it is not one
    }
    return invalid(fmt::format("unknown command {}{}", echo(word), suggestion(word)));
}

}  // namespace

std::string_view to_string(ActionKind kind) {
    switch (kind) {
        case ActionKind::Full:
            return "full";
        case ActionKind::Backend:
            return "backend";
        case ActionKind::Frontend:
            return "frontend";
        case ActionKind::Db:
            return "db";
        case ActionKind::Sha:
            return "sha";
    }
    return "unknown";
}

std::string_view to_string(CommandKind kind) {
    constexpr std::array<std::string_view, 9> kNames{
        "overview", "help", "status", "history", "verify", "advise", "cancel", "log", "rollback"};
    return kNames.at(static_cast<std::size_t>(kind));
}

std::string DbTarget::alembic_argument() const {
    return revision.empty() ? fmt::format("-{}", steps) : revision;
}

bool is_commit_sha(std::string_view s) {
    return s.size() >= 7 && s.size() <= 40 && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

std::string_view command_usage() {
    return "/rollback full [<sha>]        full rollback: bash scripts/rollback.sh [<sha>]\n"
           "/rollback <sha>               full rollback to a commit\n"
           "/rollback backend [<sha>]     kubectl rollout undo, or set image to <sha>\n"
           "/rollback frontend [<sha>]    rollback.sh --frontend-only, or set image to <sha>\n"
           "/rollback db [-N|<revision>]  alembic downgrade (needs DBA or Eng Lead approval)\n"
           "/rollback status | history [backend|frontend] | verify | advise\n"
           "/rollback cancel [<id>] | log [<id>] | help\n"
           "options: --dry-run (before --reason); --reason <text> (always last)";
}

std::string describe(const RollbackRequest& r) {
    const std::string target = r.sha ? fmt::format("to {}", *r.sha) : "to the previous revision";
    switch (r.action) {
        case ActionKind::Full:
            return "full rollback (backend + frontend) " + target;
        case ActionKind::Sha:
            return "full rollback " + target;
        case ActionKind::Backend:
            return "backend rollback " + target;
        case ActionKind::Frontend:
            return "frontend rollback " + target;
        case ActionKind::Db:
            return r.db && !r.db->revision.empty()
                       ? fmt::format("DB downgrade to {}", r.db->revision)
                       : fmt::format("DB downgrade {}", r.db ? r.db->alembic_argument() : "-1");
    }
    return "rollback";
}

Result<Command> parse_command(std::string_view text) {
    if (text.size() > kMaxCommandLength) {
        return invalid(fmt::format("the command is {} characters long; at most {} are accepted",
                                   text.size(),
                                   kMaxCommandLength));
    }
    for (char c : text) {
        if ((static_cast<unsigned char>(c) < 0x20U && c != '\t') || c == 0x7F) {
            return invalid(
                "the command contains a control character (a line break?): "
                "type it on one line");
        }
    }
    auto words = split_options(text, tokenize(text));
    if (!words) {
        return words.error();
    }
    const auto& p = words->positional;
    if (p.empty()) {
        if (words->dry_run || words->reason) {
            return invalid("say what to roll back: full, backend, frontend, db or a commit SHA");
        }
        return Command{};
    }
    const auto word = lower(p[0]);
    if (word == "full") {
        return parse_rollback(*words, ActionKind::Full);
    }
    if (word == "backend") {
        return parse_rollback(*words, ActionKind::Backend);
    }
    if (word == "frontend") {
        return parse_rollback(*words, ActionKind::Frontend);
    }
    if (word == "db") {
        return parse_rollback(*words, ActionKind::Db);
    }
    static constexpr std::array<std::pair<std::string_view, CommandKind>, 7> kReads{{
        {"help", CommandKind::Help},
        {"status", CommandKind::Status},
        {"history", CommandKind::History},
        {"verify", CommandKind::Verify},
        {"advise", CommandKind::Advise},
        {"cancel", CommandKind::Cancel},
        {"log", CommandKind::Log},
    }};
    for (const auto& [name, kind] : kReads) {
        if (word == name) {
            return parse_read(*words, kind);
        }
    }
    if (is_hex(p[0]) && p[0].size() >= 7 && p[0].size() <= 40) {
        auto with_sha = *words;
        with_sha.positional.insert(with_sha.positional.begin(), "full");
        return parse_rollback(with_sha, ActionKind::Full);
    }
    return unknown_word(p[0]);
}

}  // namespace rollbot::core
