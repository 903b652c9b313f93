#pragma once

#include "templates/data.hpp"

#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace rollbot::templates {

/// A template compiled into the binary (generated from templates/*.mustache).
struct BuiltinTemplate {
    const char* name;
    const char* text;
};

/// Every template file of templates/, by name without extension.
const std::vector<BuiltinTemplate>& builtin_templates();

/// A template that does not parse, or an override that cannot be read. Start-up only.
class TemplateError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Escapes text for Slack mrkdwn (`&`, `<`, `>`), so user text can never mention @channel
/// or forge a link. `{{value}}` is escaped this way; `{{{value}}}` is not (bot-made markup only).
[[nodiscard]] std::string escape_mrkdwn(const std::string& text);

/// Renders message templates by name. Not thread-safe; used on the io_context thread.
class Renderer {
public:
    /// The built-in templates only.
    [[nodiscard]] static Renderer builtin();
    /// Built-in templates, each replaced by `<dir>/<name>.mustache` when that file exists.
    /// Throws TemplateError for an unreadable or invalid file, or an unknown file name.
    [[nodiscard]] static Renderer with_overrides(const std::filesystem::path& dir);

    /// Renders a known template; an unknown name or a render error is a bug (throws logic_error).
    [[nodiscard]] std::string render(std::string_view name, const Data& data) const;
    /// Names of every template, sorted.
    [[nodiscard]] std::vector<std::string> names() const;
    /// Where a template came from: "built-in" or the override file's path.
    [[nodiscard]] std::string origin(std::string_view name) const;

private:
    struct Entry {
        std::string text;
        std::string origin;
    };
    std::map<std::string, Entry, std::less<>> entries_;
};

}  // namespace rollbot::templates
