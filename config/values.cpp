#include "config/checks.hpp"
#include "config/schema.hpp"

#include <charconv>
#include <filesystem>
#include <fstream>
#include <system_error>

namespace rollbot::config::detail {
namespace {

namespace fs = std::filesystem;

// The longest duration a key may have, and how messages (and the README) say it.
constexpr core::Duration kMaxDuration = std::chrono::hours(720);
constexpr char kMaxDurationText[] = "720h (30 days)";

// The text of a single value; a null value (`key:` with nothing after it) is "".
std::optional<std::string> scalar_text(Context& ctx, const Value& v) {
    if (v.node.IsNull()) {
        return std::string();
    }
    if (!v.node.IsScalar()) {
        report_kind(ctx, v, "a single value");
        return std::nullopt;
    }
    return v.node.Scalar();
}

template <class Id>
ValueParser<Id> slack_id(bool (*valid)(std::string_view), std::string_view complaint) {
    return [valid, complaint](Context& ctx, const Value& v) -> std::optional<Id> {
        auto s = text([valid, complaint](std::string_view t) -> std::optional<std::string> {
            return valid(t) ? std::nullopt : std::optional(std::string(complaint));
        })(ctx, v);
        return s ? std::optional(Id{std::move(*s)}) : std::nullopt;
    };
}

// A number that is the whole text: no sign but `-`, no blanks, nothing after it.
template <class Number>
bool parse_whole(std::string_view text, Number& out) {
    const char* last = text.data() + text.size();
    auto [end, ec] = std::from_chars(text.data(), last, out);
    return !text.empty() && ec == std::errc{} && end == last;
}

bool is_readable_file(const std::string& p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec) && std::ifstream(p).good();
}

// Checks the resolved path against its rule; a complaint, or nullopt when it is fine.
std::optional<std::string> check_path(PathRule rule, const std::string& resolved) {
    std::error_code ec;
    if (rule == PathRule::Directory && !fs::is_directory(resolved, ec)) {
        return "is not a directory (looked for " + resolved + ")";
    }
    if (rule == PathRule::ReadableFile && !is_readable_file(resolved)) {
        return "is not a readable file (looked for " + resolved + ")";
    }
    return std::nullopt;
}

}  // namespace

std::string resolve_path(const fs::path& base_dir, std::string_view text) {
    fs::path p(text);
    if (p.is_relative()) {
        p = base_dir / p;
    }
    p = p.lexically_normal();
    if (!p.has_filename() && p != p.root_path()) {
        p = p.parent_path();  // "dir/." normalises to "dir/": store "dir"
    }
    return p.string();
}

ValueParser<std::string> text(Check check) {
    return [check = std::move(check)](Context& ctx, const Value& v) -> std::optional<std::string> {
        auto s = scalar_text(ctx, v);
        if (!s) {
            return std::nullopt;
        }
        if (check) {
            if (auto complaint = check(*s)) {
                ctx.report(v.line, v.path, quote_value(*s) + " " + *complaint);
                return std::nullopt;
            }
        }
        return s;
    };
}

ValueParser<std::string> non_empty_text() {
    return [](Context& ctx, const Value& v) -> std::optional<std::string> {
        auto s = scalar_text(ctx, v);
        if (s && s->empty()) {
            ctx.report(v.line, v.path, "must not be empty");
            return std::nullopt;
        }
        return s;
    };
}

ValueParser<int> integer_at_least(int minimum) {
    return [minimum](Context& ctx, const Value& v) -> std::optional<int> {
        auto s = scalar_text(ctx, v);
        if (!s) {
            return std::nullopt;
        }
        int n = 0;
        if (!parse_whole(*s, n)) {
            ctx.report(v.line, v.path, quote_value(*s) + " is not a whole number");
            return std::nullopt;
        }
        if (n < minimum) {
            ctx.report(
                v.line, v.path, "must be at least " + std::to_string(minimum) + ", not " + *s);
            return std::nullopt;
        }
        return n;
    };
}

ValueParser<bool> boolean() {
    return [](Context& ctx, const Value& v) -> std::optional<bool> {
        auto s = scalar_text(ctx, v);
        if (!s) {
            return std::nullopt;
        }
        // YAML 1.2 core schema only: `yes`, `on`, `y` are the YAML 1.1 traps.
        if (*s == "true" || *s == "True" || *s == "TRUE") {
            return true;
        }
        if (*s == "false" || *s == "False" || *s == "FALSE") {
            return false;
        }
        ctx.report(v.line, v.path, quote_value(*s) + " is not a boolean (use true or false)");
        return std::nullopt;
    };
}

ValueParser<double> fraction() {
    return [](Context& ctx, const Value& v) -> std::optional<double> {
        auto s = scalar_text(ctx, v);
        if (!s) {
            return std::nullopt;
        }
        double x = 0;
        if (!parse_whole(*s, x)) {
            const bool percent = s->ends_with('%');
            ctx.report(
                v.line,
                v.path,
                quote_value(*s) + " is not a number" + (percent ? " (write 0.10 for 10%)" : ""));
            return std::nullopt;
        }
        if (!(x > 0.0 && x <= 1.0)) {
            ctx.report(v.line,
                       v.path,
                       quote_value(*s) + " is not a fraction in (0, 1] (e.g. 0.10 for 10%)");
            return std::nullopt;
        }
        return x;
    };
}

ValueParser<core::Duration> duration(bool zero_allowed) {
    return [zero_allowed](Context& ctx, const Value& v) -> std::optional<core::Duration> {
        auto s = scalar_text(ctx, v);
        if (!s) {
            return std::nullopt;
        }
        const auto d = parse_duration(*s);
        if (!d) {
            ctx.report(v.line, v.path, duration_complaint(*s));
            return std::nullopt;
        }
        if (!zero_allowed && d->count() == 0) {
            ctx.report(v.line, v.path, "must be greater than 0");
            return std::nullopt;
        }
        // Every rollbot duration is minutes or hours; a month is a typo, and far larger ones
        // would overflow the clocks they are added to.
        if (*d > kMaxDuration) {
            ctx.report(v.line, v.path, "\"" + *s + "\" is longer than " + kMaxDurationText);
            return std::nullopt;
        }
        return *d;
    };
}

ValueParser<core::UserId> user_id() {
    return slack_id<core::UserId>(
        core::is_user_id,
        "is not a user id (U… or W…, e.g. U0123ABCD: the member id, not the name)");
}

ValueParser<core::UsergroupId> usergroup_id() {
    return slack_id<core::UsergroupId>(
        core::is_usergroup_id, "is not a usergroup id (S…, e.g. S0123ABCD: not the @handle)");
}

ValueParser<core::ChannelId> channel_id() {
    return slack_id<core::ChannelId>(
        is_incidents_channel_id,
        "is not a channel id (C… or G…, e.g. C0123ABCD: the id, not the #name)");
}

ValueParser<std::string> path(PathRule rule) {
    return [rule](Context& ctx, const Value& v) -> std::optional<std::string> {
        auto s = scalar_text(ctx, v);
        if (!s) {
            return std::nullopt;
        }
        if (s->empty()) {
            if (rule == PathRule::Required || rule == PathRule::Program) {
                ctx.report(v.line, v.path, "must not be empty");
                return std::nullopt;
            }
            return s;
        }
        if (s->starts_with('~')) {
            ctx.report(v.line,
                       v.path,
                       quote_value(*s) +
                           ": ~ is not expanded (use an absolute path, or one relative "
                           "to the config file)");
            return std::nullopt;
        }
        if (rule == PathRule::Program && s->find('/') == std::string::npos) {
            if (s->find_first_of(" \t") != std::string::npos) {
                ctx.report(v.line, v.path, quote_value(*s) + " is one program, not a command line");
                return std::nullopt;
            }
            return s;  // looked up in PATH when it runs
        }
        std::string resolved = resolve_path(ctx.base_dir, *s);
        if (auto complaint = check_path(rule, resolved)) {
            ctx.report(v.line, v.path, quote_value(*s) + " " + *complaint);
            return std::nullopt;
        }
        return resolved;
    };
}

}  // namespace rollbot::config::detail
