// Tokens and the API URL from the environment. Problems name the variable and never quote a
// token: a config error line may end up in a CI log or a chat message.
#include "config/checks.hpp"
#include "config/sections.hpp"

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <system_error>

namespace rollbot::config::detail {
namespace {

struct TokenVariable {
    std::string_view name;
    std::string_view prefix;
    std::string_view what;  // "app-level token"
    std::string_view other_prefix;
};

constexpr TokenVariable kAppToken{"SLACK_APP_TOKEN", "xapp-", "app-level token", "xoxb-"};
constexpr TokenVariable kBotToken{"SLACK_BOT_TOKEN", "xoxb-", "bot token", "xapp-"};
// A token is ~60-100 characters; anything much larger is the wrong file.
constexpr std::streamsize kMaxTokenFile = 4096;

// An empty variable counts as unset, as `VAR=` lines in env files intend.
std::optional<std::string> lookup(const Environment& env, std::string_view name) {
    auto value = env(name);
    if (value && value->empty()) {
        return std::nullopt;
    }
    return value;
}

bool looks_like_token(std::string_view s) {
    return s.starts_with("xapp-") || s.starts_with("xox");
}

// The content of a small file holding one secret (a Kubernetes Secret mounted as a file),
// without trailing blanks; reported against `variable` when it cannot be read.
std::optional<std::string> read_secret_file(Context& ctx,
                                            const std::string& variable,
                                            const std::string& file,
                                            std::string_view holds) {
    std::error_code ec;
    if (std::filesystem::is_directory(file, ec)) {
        ctx.report_env(variable, "cannot read " + quote_value(file) + ": it is a directory");
        return std::nullopt;
    }
    errno = 0;
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        const int err = errno;
        ctx.report_env(variable,
                       "cannot read " + quote_value(file) + ": " +
                           (err != 0 ? std::generic_category().message(err) : "cannot open it"));
        return std::nullopt;
    }
    std::string content(static_cast<std::size_t>(kMaxTokenFile) + 1, '\0');
    in.read(content.data(), kMaxTokenFile + 1);
    if (in.gcount() > kMaxTokenFile) {
        ctx.report_env(variable,
                       quote_value(file) + " is too large to hold just " + std::string(holds));
        return std::nullopt;
    }
    content.resize(static_cast<std::size_t>(in.gcount()));
    content.erase(content.find_last_not_of(" \t\r\n") + 1);  // npos + 1 == 0: all blank
    return content;
}

std::optional<std::string> read_token_file(Context& ctx,
                                           const std::string& variable,
                                           const TokenVariable& t,
                                           const std::string& file) {
    if (looks_like_token(file)) {
        ctx.report_env(variable,
                       "holds a token, not a file name: set " + std::string(t.name) +
                           " instead, or name the file that holds it");
        return std::nullopt;
    }
    return read_secret_file(ctx, variable, file, "a token");
}

// ROLLBOT_STATE_URL_FILE: the whole state.url, password included, from a mounted Secret.
void read_state_url_file(Context& ctx, const Environment& env, core::StateSettings& out) {
    const std::string variable = "ROLLBOT_STATE_URL_FILE";
    const auto file = lookup(env, variable);
    if (!file) {
        return;
    }
    if (!out.url.empty()) {
        ctx.report_env(variable, "both state.url and " + variable + " are set: set only one");
        return;
    }
    if (file->find("://") != std::string::npos) {
        ctx.report_env(variable, "holds a URL, not a file name: name the file that holds the URL");
        return;
    }
    auto url = read_secret_file(ctx, variable, *file, "a connection URL");
    if (!url) {
        return;
    }
    if (auto complaint = check_state_url(*url, true)) {
        ctx.report_env(variable, "the URL in " + quote_value(*file) + " " + *complaint);
        return;
    }
    out.url = core::Secret(std::move(*url));
}

// What is wrong with a token's shape, in words that never include the token.
std::optional<std::string> token_complaint(std::string_view token, const TokenVariable& t) {
    if (token.empty()) {
        return "is empty";
    }
    if (!token.starts_with(t.prefix)) {
        std::string complaint = "does not start with " + std::string(t.prefix);
        if (token.starts_with(t.other_prefix)) {
            complaint +=
                " (it looks like the other token: are SLACK_APP_TOKEN and "
                "SLACK_BOT_TOKEN swapped?)";
        }
        return complaint;
    }
    const bool printable =
        std::all_of(token.begin(), token.end(), [](char c) { return c > ' ' && c < '\x7f'; });
    if (token.size() == t.prefix.size() || !printable) {
        return "is not a whole token (nothing after " + std::string(t.prefix) +
               ", or spaces or control characters inside)";
    }
    return std::nullopt;
}

std::optional<core::Secret> read_token(Context& ctx,
                                       const Environment& env,
                                       const TokenVariable& t,
                                       bool required) {
    const std::string name(t.name);
    const std::string file_variable = name + "_FILE";
    const auto direct = lookup(env, name);
    const auto file = lookup(env, file_variable);
    if (direct && file) {
        ctx.report_env(name, "both " + name + " and " + file_variable + " are set: set only one");
        return std::nullopt;
    }
    if (!direct && !file) {
        if (required) {
            ctx.report_env(name,
                           "not set: set " + name + " (or " + file_variable +
                               ", a file holding it) to the Slack " + std::string(t.what) + ", " +
                               std::string(t.prefix) + "…");
        }
        return std::nullopt;
    }
    auto token = direct ? direct : read_token_file(ctx, file_variable, t, *file);
    if (!token) {
        return std::nullopt;
    }
    if (auto complaint = token_complaint(*token, t)) {
        ctx.report_env(
            direct ? name : file_variable,
            direct ? *complaint : "the token in " + quote_value(*file) + " " + *complaint);
        return std::nullopt;
    }
    return core::Secret(std::move(*token));
}

}  // namespace

void read_environment(Context& ctx,
                      const Environment& env,
                      const LoadOptions& options,
                      core::Settings& out) {
    if (auto app = read_token(ctx, env, kAppToken, options.require_slack_tokens)) {
        out.tokens.app_token = std::move(*app);
    }
    if (auto bot = read_token(ctx, env, kBotToken, options.require_slack_tokens)) {
        out.tokens.bot_token = std::move(*bot);
    }
    read_state_url_file(ctx, env, out.state);
    if (auto url = lookup(env, "SLACK_API_URL")) {
        if (auto complaint = check_slack_api_url(*url)) {
            ctx.report_env("SLACK_API_URL", quote_value(*url) + " " + *complaint);
        } else {
            out.slack.api_url = with_trailing_slash(std::move(*url));
        }
    }
}

}  // namespace rollbot::config::detail
