// The subset of kubectl's JSONPath templates that runbooks use: fields (with `\.` escapes),
// `[N]`, `[*]`, `[?(@.path=="v")]` / `!=`, string literals `{"\t"}` and `{range …}{end}`.

#include "test/fakes/kubectl_cli.hpp"

#include <cstdlib>

namespace rollbot::fakes {
namespace {

struct Segment {
    enum class Kind { kField, kIndex, kAll, kFilter } kind = Kind::kField;
    std::string name;  // field, or the filter's @-relative path
    long index = 0;
    bool negate = false;
    std::string value;  // filter's right-hand side
};

struct Node {
    enum class Kind { kText, kPath, kRange } kind = Kind::kText;
    std::string text;
    std::vector<Segment> path;
    std::vector<Node> body;  // kRange
};

std::string unquote(std::string_view s) {
    std::string out;
    if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'')) {
        s = s.substr(1, s.size() - 2);
    }
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 1 < s.size()) {
            const char n = s[++i];
            out += n == 'n' ? '\n' : n == 't' ? '\t' : n == 'r' ? '\r' : n;
        } else {
            out += s[i];
        }
    }
    return out;
}

std::vector<Segment> parse_path(std::string_view p) {
    std::vector<Segment> segs;
    std::string field;
    auto flush = [&] {
        if (!field.empty()) {
            segs.push_back({Segment::Kind::kField, field, 0, false, ""});
            field.clear();
        }
    };
    for (std::size_t i = 0; i < p.size(); ++i) {
        const char c = p[i];
        if (c == '\\' && i + 1 < p.size()) {
            field += p[++i];
        } else if (c == '.') {
            flush();
        } else if (c == '[') {
            flush();
            const auto close = p.find(']', i);
            const std::string inner(p.substr(i + 1, close - i - 1));
            i = close == std::string_view::npos ? p.size() : close;
            if (inner == "*") {
                segs.push_back({Segment::Kind::kAll, "", 0, false, ""});
            } else if (inner.rfind("?(@.", 0) == 0) {
                const std::string cond = inner.substr(4, inner.size() - 5);
                const bool negate = cond.find("!=") != std::string::npos;
                const auto op = cond.find(negate ? "!=" : "==");
                segs.push_back({Segment::Kind::kFilter,
                                cond.substr(0, op),
                                0,
                                negate,
                                op == std::string::npos ? "" : unquote(cond.substr(op + 2))});
            } else if (!inner.empty() && (inner[0] == '\'' || inner[0] == '"')) {
                segs.push_back({Segment::Kind::kField, unquote(inner), 0, false, ""});
            } else {
                segs.push_back({Segment::Kind::kIndex,
                                "",
                                std::strtol(inner.c_str(), nullptr, 10),
                                false,
                                ""});
            }
        } else if (c != '@' && c != '$') {
            field += c;
        }
    }
    flush();
    return segs;
}

// Parses nodes until `{end}` (when nested) or the end of the template.
std::vector<Node> parse_nodes(std::string_view t, std::size_t& at, bool nested) {
    std::vector<Node> nodes;
    while (at < t.size()) {
        const auto open = t.find('{', at);
        if (open != at) {
            nodes.push_back({Node::Kind::kText, std::string(t.substr(at, open - at)), {}, {}});
            at = open;
            if (open == std::string_view::npos) {
                break;
            }
        }
        const auto close = t.find('}', open);
        const std::string_view action = t.substr(open + 1, close - open - 1);
        at = close == std::string_view::npos ? t.size() : close + 1;
        if (action == "end") {
            if (nested) {
                return nodes;
            }
            continue;
        }
        if (action.rfind("range ", 0) == 0) {
            Node range{Node::Kind::kRange, "", parse_path(action.substr(6)), {}};
            range.body = parse_nodes(t, at, true);
            nodes.push_back(std::move(range));
        } else if (!action.empty() && (action[0] == '"' || action[0] == '\'')) {
            nodes.push_back({Node::Kind::kText, unquote(action), {}, {}});
        } else {
            nodes.push_back({Node::Kind::kPath, "", parse_path(action), {}});
        }
    }
    return nodes;
}

// Sets `failure` (and stops) on an index out of bounds, as kubectl does.
std::vector<const Json*> evaluate(const Json& root,
                                  const std::vector<Segment>& path,
                                  std::string& failure) {
    std::vector<const Json*> at{&root};
    for (const auto& seg : path) {
        std::vector<const Json*> next;
        for (const Json* j : at) {
            if (seg.kind == Segment::Kind::kField) {
                if (j->is_object() && j->contains(seg.name)) {
                    next.push_back(&(*j)[seg.name]);
                }
            } else if (seg.kind == Segment::Kind::kIndex) {
                if (!j->is_array()) {
                    continue;
                }
                const long size = static_cast<long>(j->size());
                const long i = seg.index < 0 ? size + seg.index : seg.index;
                if (i < 0 || i >= size) {
                    failure = "array index out of bounds: index " + std::to_string(seg.index) +
                              ", length " + std::to_string(size);
                    return {};
                }
                next.push_back(&(*j)[static_cast<std::size_t>(i)]);
            } else if (j->is_array() || j->is_object()) {
                for (const auto& element : *j) {
                    if (seg.kind == Segment::Kind::kAll) {
                        next.push_back(&element);
                        continue;
                    }
                    const auto found = evaluate(element, parse_path(seg.name), failure);
                    const bool equal =
                        !found.empty() && (found[0]->is_string() ? found[0]->get<std::string>()
                                                                 : found[0]->dump()) == seg.value;
                    if (equal != seg.negate) {
                        next.push_back(&element);
                    }
                }
            }
        }
        at = std::move(next);
    }
    return at;
}

void render(const Json& root,
            const std::vector<Node>& nodes,
            std::string& out,
            std::string& failure) {
    for (const auto& node : nodes) {
        if (!failure.empty()) {
            return;
        }
        if (node.kind == Node::Kind::kText) {
            out += node.text;
        } else if (node.kind == Node::Kind::kRange) {
            for (const Json* item : evaluate(root, node.path, failure)) {
                render(*item, node.body, out, failure);
            }
        } else {
            std::string joined;
            for (const Json* v : evaluate(root, node.path, failure)) {
                joined += (joined.empty() ? "" : " ") +
                          (v->is_string() ? v->get<std::string>() : v->dump());
            }
            out += joined;
        }
    }
}

}  // namespace

std::variant<std::string, Outcome> render_jsonpath(const Json& root, std::string_view tmpl) {
    std::size_t at = 0;
    const std::vector<Node> nodes = parse_nodes(tmpl, at, false);
    std::string out;
    std::string failure;
    render(root, nodes, out, failure);
    if (!failure.empty()) {
        return error("error executing jsonpath \"" + std::string(tmpl) +
                     "\": Error executing template: " + failure +
                     ". Printing more information for debugging the template:");
    }
    return out;
}

}  // namespace rollbot::fakes
