#pragma once

#include <concepts>
#include <functional>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace rollbot::templates {

/// A value for a message template: a string, a boolean, a list of values or an object of named
/// values. Only the renderer turns it into the mustache library's type.
class Data {
public:
    using List = std::vector<Data>;
    using Object = std::map<std::string, Data, std::less<>>;
    using Value = std::variant<std::string, bool, List, Object>;

    /// An object with no names yet: `set` adds them; `{{#name}}` on it renders its section once.
    [[nodiscard]] static Data object();
    /// A list with no items yet: `push_back` adds them; empty, it hides `{{#name}}` sections.
    [[nodiscard]] static Data list();

    // Implicit on purpose: `d.set("id", id)` and `d.set("ok", true)` read best at the call site.
    /// A string: `{{name}}` shows it escaped for Slack, `{{{name}}}` as it is.
    Data(std::string text);
    /// A string from a literal (without this overload a literal would become a boolean).
    Data(const char* text);
    /// A boolean: true renders `{{#name}}` sections, false `{{^name}}` ones. Only a real bool
    /// converts (no int, pointer or optional turning silently into true).
    template <std::same_as<bool> Bool>
    Data(Bool flag) : value_(static_cast<bool>(flag)) {}

    /// Sets `key` on an object, replacing any earlier value; on a non-object throws logic_error.
    void set(std::string key, Data value);
    /// Appends `item` to a list; on a non-list throws logic_error (a bug in the caller).
    void push_back(Data item);

    /// What this value holds (for the renderer and for tests).
    [[nodiscard]] const Value& value() const { return value_; }

    [[nodiscard]] bool operator==(const Data&) const = default;

private:
    explicit Data(Value value);

    Value value_;
};

}  // namespace rollbot::templates
