#include "templates/renderer.hpp"

#include <fstream>
#include <sstream>

namespace rollbot::templates {
namespace {

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
    std::string out = tmpl.render(data);
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
