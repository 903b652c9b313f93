#include "config/schema.hpp"

#include "bot/text.hpp"

#include <array>
#include <map>
#include <utility>

namespace rollbot::config::detail {
namespace {

constexpr std::array<std::string_view, 3> kTokenKeys{"token", "app_token", "bot_token"};
constexpr std::string_view kTokenMessage =
    "tokens come only from the environment (SLACK_APP_TOKEN and SLACK_BOT_TOKEN, or their "
    "_FILE variants), never from the config file";

bool is_token_key(std::string_view key) {
    return std::find(kTokenKeys.begin(), kTokenKeys.end(), key) != kTokenKeys.end();
}

std::string unknown_key_message(std::string_view key, const std::vector<std::string_view>& known) {
    std::string message = "unknown key " + quote_value(key);
    if (key == "<<") {
        return message + " (YAML merge keys are not supported: write the keys out)";
    }
    if (auto suggestion = closest_key(key, known)) {
        return message + " (did you mean \"" + std::string(*suggestion) + "\"?)";
    }
    message += " (known keys:";
    for (std::size_t i = 0; i < known.size(); ++i) {
        message += (i == 0 ? " " : ", ") + std::string(known[i]);
    }
    return message + ")";
}

std::string_view kind_name(const YAML::Node& node) {
    if (node.IsMap()) {
        return "a map";
    }
    if (node.IsSequence()) {
        return "a list";
    }
    if (node.IsScalar()) {
        return "a single value";
    }
    return "nothing";
}

// `visited` holds the collections already walked: an alias is walked once, at its anchor,
// and a self-referencing one (`&a [*a]`, which yaml-cpp builds as a cycle) ends the walk.
void walk_token_keys(Context& ctx,
                     const YAML::Node& node,
                     const std::string& path,
                     int line,
                     std::vector<YAML::Node>& visited) {
    if (!node.IsMap() && !node.IsSequence()) {
        return;
    }
    if (std::any_of(
            visited.begin(), visited.end(), [&](const YAML::Node& n) { return n.is(node); })) {
        return;
    }
    visited.push_back(node);
    if (node.IsSequence()) {
        for (std::size_t i = 0; i < node.size(); ++i) {
            const YAML::Node item = node[i];
            walk_token_keys(
                ctx, item, path + "[" + std::to_string(i) + "]", line_of(item, line), visited);
        }
        return;
    }
    for (const auto& kv : node) {
        if (!kv.first.IsScalar()) {
            continue;
        }
        const std::string key_path = join(path, kv.first.Scalar());
        const int key_line = line_of(kv.first, line);
        if (is_token_key(kv.first.Scalar())) {
            ctx.report(key_line, key_path, std::string(kTokenMessage));
        }
        walk_token_keys(ctx, kv.second, key_path, key_line, visited);
    }
}

}  // namespace

void Context::report(int line, std::string key, std::string message) {
    problems.push_back(Problem{source, line, std::move(key), std::move(message)});
}

void Context::report_env(std::string variable, std::string message) {
    problems.push_back(Problem{"", 0, std::move(variable), std::move(message)});
}

std::string join(std::string_view parent, std::string_view key) {
    return parent.empty() ? std::string(key) : std::string(parent) + "." + std::string(key);
}

std::string quote_value(std::string_view text) {
    // A value from the file may be a pasted token: show its kind (`xoxb-`), never the secret.
    const std::size_t token_at = std::min(text.find("xapp-"), text.find("xox"));
    const bool masked = token_at != std::string_view::npos;
    if (masked) {
        text = text.substr(0, std::min(text.size(), token_at + 5));
    }
    constexpr std::size_t kMaxShown = 60;
    std::string out = "\"";
    for (char c : text.substr(0, kMaxShown)) {
        if (static_cast<unsigned char>(c) < ' ' || c == '\x7f') {
            out += '?';
            continue;
        }
        if (c == '"' || c == '\\') {
            out += '\\';
        }
        out += c;
    }
    if (masked) {
        out += "***";
    } else if (text.size() > kMaxShown) {
        out += "…";
    }
    return out + "\"";
}

std::optional<std::string_view> closest_key(std::string_view key,
                                            const std::vector<std::string_view>& known) {
    return core::closest_word(key, known);
}

int line_of(const YAML::Node& node, int fallback) {
    const YAML::Mark mark = node.Mark();
    return mark.is_null() ? fallback : mark.line + 1;
}

void report_kind(Context& ctx, const Value& v, std::string_view expected) {
    std::string message =
        "expected " + std::string(expected) + ", found " + std::string(kind_name(v.node));
    if (expected == "a list" && v.node.IsScalar()) {
        message += " (write [" + quote_value(v.node.Scalar()) + "] for a list of one)";
    }
    ctx.report(v.line, v.path, std::move(message));
}

void for_each_entry(Context& ctx,
                    const Value& map,
                    const std::vector<std::string_view>* known,
                    const EntryVisitor& visit) {
    if (map.node.IsNull()) {
        return;
    }
    if (!map.node.IsMap()) {
        report_kind(ctx, map, "a map");
        return;
    }
    std::map<std::string, int, std::less<>> seen;  // key -> line
    for (const auto& kv : map.node) {
        const int line = line_of(kv.first, map.line);
        if (!kv.first.IsScalar()) {
            ctx.report(line,
                       map.path,
                       "keys must be plain names, found " + std::string(kind_name(kv.first)));
            continue;
        }
        const std::string& key = kv.first.Scalar();
        const std::string path = join(map.path, key);
        if (auto [first, fresh] = seen.emplace(key, line); !fresh) {
            ctx.report(line,
                       path,
                       "duplicate key (first set on line " + std::to_string(first->second) +
                           "): keep one");
            continue;
        }
        if (is_token_key(key)) {
            continue;  // report_token_keys says why, wherever the key is
        }
        if (known != nullptr && std::find(known->begin(), known->end(), key) == known->end()) {
            ctx.report(line, path, unknown_key_message(key, *known));
            continue;
        }
        visit(key, Value{kv.second, path, line});
    }
}

std::optional<Value> find_entry(const Value& map, std::string_view key) {
    if (!map.node.IsMap()) {
        return std::nullopt;
    }
    for (const auto& kv : map.node) {
        if (kv.first.IsScalar() && kv.first.Scalar() == key) {
            return Value{kv.second, join(map.path, key), line_of(kv.first, map.line)};
        }
    }
    return std::nullopt;
}

int line_of_key(const Value& map, std::string_view key) {
    const auto entry = find_entry(map, key);
    return entry ? entry->line : map.line;
}

void report_token_keys(Context& ctx, const Value& root) {
    std::vector<YAML::Node> visited;
    walk_token_keys(ctx, root.node, root.path, root.line, visited);
}

}  // namespace rollbot::config::detail
