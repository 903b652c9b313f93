#include "templates/renderer.hpp"

#include <kainjow/mustache.hpp>

#include <fstream>
#include <sstream>
#include <variant>

namespace rollbot::templates {
namespace {

using Mustache = kainjow::mustache::data;

// The one place rollbot's Data meets the mustache library: each value maps to the library's
// value of the same kind, so what renders is what the library would render from its own type.
struct ToMustache {
    Mustache operator()(const std::string& text) const { return Mustache{text}; }
    Mustache operator()(bool flag) const { return Mustache{flag}; }
    Mustache operator()(const Data::List& items) const {
        Mustache out{Mustache::type::list};
        for (const auto& item : items) {
            out.push_back(std::visit(*this, item.value()));
        }
        return out;
    }
    Mustache operator()(const Data::Object& fields) const {
        Mustache out{Mustache::type::object};
        for (const auto& [key, value] : fields) {
            out.set(key, std::visit(*this, value.value()));
        }
        return out;
    }
};

void validate(const std::string& name, const std::string& text, const std::string& origin) {
    kainjow::mustache::mustache tmpl{text};
    if (!tmpl.is_valid()) {
        throw TemplateError("template " + name + " (" + origin + "): " + tmpl.error_message());
    }
}

}  // namespace

std::string escape_mrkdwn(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

Renderer Renderer::builtin() {
    Renderer r;
    for (const auto& t : builtin_templates()) {
        validate(t.name, t.text, "built-in");
        r.entries_.emplace(t.name, Entry{t.text, "built-in"});
    }
    return r;
}

Renderer Renderer::with_overrides(const std::filesystem::path& dir) {
    Renderer r = builtin();
    std::error_code ec;
    for (const auto& file : std::filesystem::directory_iterator(dir, ec)) {
        if (file.path().extension() != ".mustache") {
            continue;
        }
        const std::string name = file.path().stem().string();
        auto it = r.entries_.find(name);
        if (it == r.entries_.end()) {
            throw TemplateError("template override " + file.path().string() +
                                ": no built-in template is called " + name);
        }
        std::ifstream in(file.path(), std::ios::binary);
        std::ostringstream text;
        text << in.rdbuf();
        if (!in) {
            throw TemplateError("template override " + file.path().string() + ": cannot read");
        }
        validate(name, text.str(), file.path().string());
        it->second = Entry{text.str(), file.path().string()};
    }
    if (ec) {
        throw TemplateError("templates.dir " + dir.string() + ": " + ec.message());
    }
    return r;
}

std::string Renderer::render(std::string_view name, const Data& data) const {
    auto it = entries_.find(name);
    if (it == entries_.end()) {
        throw std::logic_error("no template named " + std::string(name));
    }
    kainjow::mustache::mustache tmpl{it->second.text};
    tmpl.set_custom_escape(escape_mrkdwn);
    std::string out = tmpl.render(std::visit(ToMustache{}, data.value()));
    if (!tmpl.error_message().empty()) {
        throw std::logic_error("template " + std::string(name) + ": " + tmpl.error_message());
    }
    return out;
}

std::vector<std::string> Renderer::names() const {
    std::vector<std::string> out;
    out.reserve(entries_.size());
    for (const auto& [name, entry] : entries_) {
        out.push_back(name);
    }
    return out;
}

std::string Renderer::origin(std::string_view name) const {
    auto it = entries_.find(name);
    return it == entries_.end() ? std::string{} : it->second.origin;
}

}  // namespace rollbot::templates
