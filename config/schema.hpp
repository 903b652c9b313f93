#pragma once
// Internal to rollbot::config: the table-driven schema the loader is written in. A section is a
// list of Fields (key name -> how to read it into a member); value parsers report their own
// problems and return nullopt, so one pass collects everything that is wrong.

#include "bot/settings.hpp"
#include "config/loader.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace rollbot::config::detail {

/// What a load has found so far, and the directory relative paths are resolved against.
struct Context {
    std::string source;
    std::filesystem::path base_dir;
    std::vector<Problem> problems;

    void report(int line, std::string key, std::string message);
    void report_env(std::string variable, std::string message);
};

/// A node of the file, the key path that names it, and the line to blame for it (0: none).
struct Value {
    YAML::Node node;
    std::string path;
    int line = 0;
};

/// `parent.key`, or `key` at the top.
[[nodiscard]] std::string join(std::string_view parent, std::string_view key);
/// A value from the file for a message: quoted, shortened, anything token-like masked.
[[nodiscard]] std::string quote_value(std::string_view text);
/// The known key closest to `key` by edit distance, when it is close enough to be a typo.
[[nodiscard]] std::optional<std::string_view> closest_key(
    std::string_view key, const std::vector<std::string_view>& known);

using EntryVisitor = std::function<void(std::string_view key, const Value& value)>;

/// Visits a map's entries in file order; a null node is an empty map. Reports a non-map, keys
/// that are not plain text, duplicates and, when `known` is given, unknown keys (with a
/// suggestion). Keys naming tokens are left to report_token_keys.
void for_each_entry(Context& ctx,
                    const Value& map,
                    const std::vector<std::string_view>* known,
                    const EntryVisitor& visit);

/// The first entry `key` of a map, if there is one.
[[nodiscard]] std::optional<Value> find_entry(const Value& map, std::string_view key);
/// The line of entry `key` in a map, or the map's own line when it is absent.
[[nodiscard]] int line_of_key(const Value& map, std::string_view key);

/// The 1-based line of a node, or `fallback` when yaml-cpp has none.
[[nodiscard]] int line_of(const YAML::Node& node, int fallback);
/// Reports that a value is not `expected` ("a list") and says what it is instead.
void report_kind(Context& ctx, const Value& v, std::string_view expected);

/// Reports every `token`, `app_token` or `bot_token` key anywhere under `root`.
void report_token_keys(Context& ctx, const Value& root);

template <class V>
using ValueParser = std::function<std::optional<V>(Context&, const Value&)>;

/// One key of a section: its name and how it is read into the section's struct.
template <class T>
struct Field {
    enum class WhenAbsent { Keep, Visit, Report };
    using Reader = std::function<void(Context&, const Value&, T&)>;

    Field(std::string_view n, Reader r, WhenAbsent w = WhenAbsent::Keep)
        : name(n), read(std::move(r)), when_absent(w) {}

    std::string_view name;
    Reader read;
    WhenAbsent when_absent = WhenAbsent::Keep;  // Visit: read an empty node (sections)
    std::string_view missing_reason;            // for Report
};

template <class T>
using Schema = std::vector<Field<T>>;

template <class T>
void read_map(Context& ctx, const Value& map, const Schema<T>& schema, T& out) {
    std::vector<std::string_view> names;
    for (const auto& f : schema) {
        names.push_back(f.name);
    }
    std::vector<bool> seen(schema.size(), false);
    for_each_entry(ctx, map, &names, [&](std::string_view key, const Value& value) {
        auto i =
            static_cast<std::size_t>(std::find(names.begin(), names.end(), key) - names.begin());
        seen[i] = true;
        schema[i].read(ctx, value, out);
    });
    for (std::size_t i = 0; i < schema.size(); ++i) {
        const auto& f = schema[i];
        if (seen[i] || f.when_absent == Field<T>::WhenAbsent::Keep) {
            continue;
        }
        if (f.when_absent == Field<T>::WhenAbsent::Visit) {
            f.read(ctx, Value{YAML::Node(), join(map.path, f.name), map.line}, out);
        } else {
            std::string message = "missing";
            if (!f.missing_reason.empty()) {
                message += ": " + std::string(f.missing_reason);
            }
            ctx.report(map.line, join(map.path, f.name), std::move(message));
        }
    }
}

/// A key read by `parse` into `member`; the member keeps its default when parsing fails.
template <class T, class V>
Field<T> field(std::string_view name, V T::*member, std::type_identity_t<ValueParser<V>> parse) {
    return {name, [member, parse = std::move(parse)](Context& ctx, const Value& v, T& out) {
                if (auto parsed = parse(ctx, v)) {
                    out.*member = std::move(*parsed);
                }
            }};
}

/// A key that must be present: `missing: <reason>` otherwise.
template <class T>
Field<T> required(Field<T> f, std::string_view reason) {
    f.when_absent = Field<T>::WhenAbsent::Report;
    f.missing_reason = reason;
    return f;
}

/// A nested section; visited even when absent, so that its required keys are reported.
template <class T, class V>
Field<T> section(std::string_view name, V T::*member, const Schema<V>& schema) {
    return {name,
            [member, &schema](Context& ctx, const Value& v, T& out) {
                read_map(ctx, v, schema, out.*member);
            },
            Field<T>::WhenAbsent::Visit};
}

// Value parsers (values.cpp). A null value (`key:` and nothing) is an empty text, list or map.

/// A complaint about a text value ("is not a DNS label"), or nullopt when it is fine.
using Check = std::function<std::optional<std::string>(std::string_view)>;

[[nodiscard]] ValueParser<std::string> text(Check check = {});
[[nodiscard]] ValueParser<std::string> non_empty_text();
[[nodiscard]] ValueParser<int> integer_at_least(int minimum);
[[nodiscard]] ValueParser<bool> boolean();
[[nodiscard]] ValueParser<double> fraction();  // (0, 1]
[[nodiscard]] ValueParser<core::Duration> duration(bool zero_allowed);
[[nodiscard]] ValueParser<core::UserId> user_id();
[[nodiscard]] ValueParser<core::UsergroupId> usergroup_id();
[[nodiscard]] ValueParser<core::ChannelId> channel_id();

enum class PathRule {
    Optional,      // "" allowed, not checked
    Required,      // must not be empty
    Program,       // without a slash: looked up in PATH, kept as is
    Directory,     // "" allowed; else an existing directory
    ReadableFile,  // "" allowed; else a readable regular file
};
/// `text` resolved against `base_dir` when relative, lexically normalised, no trailing `/`.
[[nodiscard]] std::string resolve_path(const std::filesystem::path& base_dir,
                                       std::string_view text);
/// A path, resolved against the config file's directory and lexically normalised.
[[nodiscard]] ValueParser<std::string> path(PathRule rule);

/// A list whose elements `element` reads; named `key[i]` and located on their own lines.
template <class V>
ValueParser<std::vector<V>> list_of(ValueParser<V> element, bool non_empty = false) {
    return [element = std::move(element), non_empty](
               Context& ctx, const Value& v) -> std::optional<std::vector<V>> {
        if (!v.node.IsNull() && !v.node.IsSequence()) {
            report_kind(ctx, v, "a list");
            return std::nullopt;
        }
        std::vector<V> out;
        bool ok = true;
        for (std::size_t i = 0; i < v.node.size(); ++i) {
            const YAML::Node item = v.node[i];
            Value ev{item, v.path + "[" + std::to_string(i) + "]", line_of(item, v.line)};
            if (auto parsed = element(ctx, ev)) {
                out.push_back(std::move(*parsed));
            } else {
                ok = false;
            }
        }
        if (ok && non_empty && out.empty()) {
            ctx.report(v.line, v.path, "must list at least one item");
            return std::nullopt;
        }
        return ok ? std::optional(std::move(out)) : std::nullopt;
    };
}

/// A map with free keys (ids): `key` reads each key, `value` each value.
template <class K, class V>
ValueParser<std::map<K, V>> map_of(ValueParser<K> key, ValueParser<V> value) {
    return [key = std::move(key), value = std::move(value)](
               Context& ctx, const Value& v) -> std::optional<std::map<K, V>> {
        std::map<K, V> out;
        bool ok = true;
        for_each_entry(ctx, v, nullptr, [&](std::string_view name, const Value& entry) {
            auto k = key(ctx, Value{YAML::Node(std::string(name)), entry.path, entry.line});
            auto parsed = value(ctx, entry);
            if (k && parsed) {
                out.emplace(std::move(*k), std::move(*parsed));
            } else {
                ok = false;
            }
        });
        return ok ? std::optional(std::move(out)) : std::nullopt;
    };
}

}  // namespace rollbot::config::detail
