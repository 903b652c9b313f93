// `kubectl get` for deployments, replicasets, pods, events and namespaces: -o json (an object
// for one named resource, else a List), -o name, -o jsonpath=…, or a plain table.

#include "test/fakes/kube_objects.hpp"
#include "test/fakes/kubectl_cli.hpp"

#include <algorithm>
#include <ctime>

namespace rollbot::fakes {
namespace {

struct Kind {
    std::string plural;       // "deployments"
    std::string api_name;     // "deployments.apps", as in NotFound errors
    std::string name_prefix;  // "deployment.apps", as in -o name
};

std::optional<Kind> kind_of(std::string_view word) {
    if (is_deployment_kind(word)) {
        return Kind{"deployments", "deployments.apps", "deployment.apps"};
    }
    if (word == "rs" || word == "replicaset" || word == "replicasets" ||
        word == "replicasets.apps" || word == "replicaset.apps") {
        return Kind{"replicasets", "replicasets.apps", "replicaset.apps"};
    }
    if (word == "po" || word == "pod" || word == "pods") {
        return Kind{"pods", "pods", "pod"};
    }
    if (word == "ev" || word == "event" || word == "events") {
        return Kind{"events", "events", "event"};
    }
    if (word == "ns" || word == "namespace" || word == "namespaces") {
        return Kind{"namespaces", "namespaces", "namespace"};
    }
    return std::nullopt;
}

std::vector<Json> all_objects(const Json& state, const std::string& plural) {
    std::vector<Json> out;
    if (plural == "deployments") {
        for (const auto& [name, dep] : state.at("deployments").items()) {
            out.push_back(deployment_object(state, name));
        }
    } else if (plural == "replicasets") {
        for (const auto& [name, dep] : state.at("deployments").items()) {
            std::vector<const Json*> sets;
            for (const auto& rs : dep.at("replicasets")) {
                sets.push_back(&rs);
            }
            std::sort(sets.begin(), sets.end(), [](const Json* a, const Json* b) {
                return a->value("revision", 0) < b->value("revision", 0);
            });
            for (const Json* rs : sets) {
                out.push_back(replicaset_object(state, name, *rs));
            }
        }
    } else if (plural == "pods") {
        out = pod_objects(state);
    } else if (plural == "events") {
        out = event_objects(state);
    } else {
        const std::string ns = state.value("namespace", "preskool");
        out.push_back({{"apiVersion", "v1"},
                       {"kind", "Namespace"},
                       {"metadata",
                        {{"name", ns},
                         {"uid", stable_uid("namespace/" + ns)},
                         {"creationTimestamp", "2025-01-01T00:00:00Z"},
                         {"labels", {{"kubernetes.io/metadata.name", ns}}}}},
                       {"status", {{"phase", "Active"}}}});
    }
    return out;
}

std::string scalar_text(const Json* v) {
    if (v == nullptr || v->is_null()) {
        return "";
    }
    return v->is_string() ? v->get<std::string>() : v->dump();
}

// Label (`-l`) and field (`--field-selector`) selectors: comma-separated `k=v`, `k==v`, `k!=v`
// and, for labels, a bare `k` (exists).
bool matches(const Json& object, const std::string& selector, bool labels) {
    std::size_t start = 0;
    while (start < selector.size()) {
        auto comma = selector.find(',', start);
        if (comma == std::string::npos) {
            comma = selector.size();
        }
        const std::string term = selector.substr(start, comma - start);
        start = comma + 1;
        const auto ne = term.find("!=");
        const auto eq = term.find('=');
        const std::string key = term.substr(0, ne != std::string::npos ? ne : eq);
        const std::size_t value_at = ne != std::string::npos          ? ne + 2
                                     : eq == std::string::npos        ? term.size()
                                     : term.compare(eq, 2, "==") == 0 ? eq + 2
                                                                      : eq + 1;
        const std::string want = term.substr(value_at);
        const Json* have = nullptr;
        if (labels) {
            const Json* all = field_at(object, "metadata.labels");
            have = all != nullptr && all->contains(key) ? &(*all)[key] : nullptr;
        } else {
            have = field_at(object, key);
        }
        if (eq == std::string::npos) {
            if (have == nullptr) {
                return false;
            }
            continue;
        }
        const bool equal = have != nullptr && scalar_text(have) == want;
        if (equal == (ne != std::string::npos)) {
            return false;
        }
    }
    return true;
}

std::string age(const std::string& iso) {
    std::tm tm{};
    if (strptime(iso.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm) == nullptr) {
        return "<unknown>";
    }
    const long secs = std::max(0L, static_cast<long>(std::time(nullptr) - timegm(&tm)));
    if (secs < 120) {
        return std::to_string(secs) + "s";
    }
    if (secs < 3 * 3600) {
        return std::to_string(secs / 60) + "m";
    }
    if (secs < 48 * 3600) {
        return std::to_string(secs / 3600) + "h";
    }
    return std::to_string(secs / 86400) + "d";
}

std::string format_table(const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> width;
    for (const auto& row : rows) {
        width.resize(std::max(width.size(), row.size()));
        for (std::size_t i = 0; i < row.size(); ++i) {
            width[i] = std::max(width[i], row[i].size());
        }
    }
    std::string out;
    for (const auto& row : rows) {
        for (std::size_t i = 0; i < row.size(); ++i) {
            out += row[i];
            if (i + 1 < row.size()) {
                out += std::string(width[i] - row[i].size() + 3, ' ');
            }
        }
        out += "\n";
    }
    return out;
}

std::vector<std::string> table_row(const std::string& plural, const Json& o) {
    const auto text = [&o](std::string_view path) {
        return scalar_text(field_at(o, path));
    };
    const auto count = [&o](std::string_view path) {
        const Json* v = field_at(o, path);
        return v == nullptr ? std::string("0") : v->dump();
    };
    const std::string name = text("metadata.name");
    if (plural == "deployments") {
        return {name,
                count("status.readyReplicas") + "/" + count("spec.replicas"),
                count("status.updatedReplicas"),
                count("status.availableReplicas"),
                age(text("metadata.creationTimestamp"))};
    }
    if (plural == "replicasets") {
        return {name,
                count("spec.replicas"),
                count("status.replicas"),
                count("status.readyReplicas"),
                age(text("metadata.creationTimestamp"))};
    }
    if (plural == "pods") {
        const Json& cs = o["status"]["containerStatuses"][0];
        std::string status = o["status"].value("phase", "");
        for (const char* state : {"waiting", "terminated"}) {
            if (cs["state"].contains(state)) {
                status = cs["state"][state].value("reason", status);
            }
        }
        const int restarts = cs.value("restartCount", 0);
        return {name,
                std::string(cs.value("ready", false) ? "1" : "0") + "/1",
                status,
                restarts > 0 ? std::to_string(restarts) + " (1m ago)" : "0",
                age(text("metadata.creationTimestamp"))};
    }
    if (plural == "events") {
        return {age(text("lastTimestamp")),
                text("type"),
                text("reason"),
                text("involvedObject.kind") == "Pod" ? "pod/" + text("involvedObject.name")
                                                     : "deployment/" + text("involvedObject.name"),
                text("message")};
    }
    return {name, "Active", age(text("metadata.creationTimestamp"))};
}

std::vector<std::string> table_header(const std::string& plural) {
    if (plural == "deployments") {
        return {"NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"};
    }
    if (plural == "replicasets") {
        return {"NAME", "DESIRED", "CURRENT", "READY", "AGE"};
    }
    if (plural == "pods") {
        return {"NAME", "READY", "STATUS", "RESTARTS", "AGE"};
    }
    if (plural == "events") {
        return {"LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"};
    }
    return {"NAME", "STATUS", "AGE"};
}

void sort_by(std::vector<Json>& objects, std::string path) {
    path.erase(
        std::remove_if(path.begin(), path.end(), [](char c) { return c == '{' || c == '}'; }),
        path.end());
    if (!path.empty() && path[0] == '.') {
        path.erase(0, 1);
    }
    std::stable_sort(objects.begin(), objects.end(), [&path](const Json& a, const Json& b) {
        return scalar_text(field_at(a, path)) < scalar_text(field_at(b, path));
    });
}

Outcome print_objects(const Kind& kind,
                      const std::vector<Json>& objects,
                      bool single,
                      const std::string& output,
                      const std::string& ns) {
    Outcome o;
    if (output == "json") {
        o.out = (single ? objects.at(0) : list_object(objects)).dump(4) + "\n";
    } else if (output == "name") {
        for (const auto& obj : objects) {
            o.out += kind.name_prefix + "/" + obj["metadata"].value("name", "") + "\n";
        }
    } else if (output.rfind("jsonpath=", 0) == 0 || output.rfind("jsonpath-as-json=", 0) == 0) {
        const std::string tmpl = output.substr(output.find('=') + 1);
        auto rendered = render_jsonpath(single ? objects.at(0) : list_object(objects), tmpl);
        if (auto* failed = std::get_if<Outcome>(&rendered)) {
            return *failed;
        }
        o.out = std::get<std::string>(rendered);
    } else if (output.empty() || output == "wide") {
        if (objects.empty()) {
            o.err = "No resources found in " + ns + " namespace.\n";
            return o;
        }
        std::vector<std::vector<std::string>> rows{table_header(kind.plural)};
        for (const auto& obj : objects) {
            rows.push_back(table_row(kind.plural, obj));
        }
        o.out = format_table(rows);
    } else {
        return error("unable to match a printer suitable for the output format \"" + output +
                     "\", allowed formats are: json,jsonpath,jsonpath-as-json,name,wide "
                     "(rollbot's fake kubectl)");
    }
    return o;
}

}  // namespace

Outcome run_get(Invocation& inv) {
    static const std::vector<FlagSpec> kSpecs = {{"output", 'o'},
                                                 {"selector", 'l'},
                                                 {"field-selector"},
                                                 {"sort-by"},
                                                 {"all-namespaces", 'A', FlagKind::kBool},
                                                 {"ignore-not-found", 0, FlagKind::kBool},
                                                 {"show-labels", 0, FlagKind::kBool},
                                                 {"chunk-size"}};
    auto parsed = parse_flags({inv.words.begin() + 1, inv.words.end()}, kSpecs, "get");
    if (auto* failed = std::get_if<Outcome>(&parsed)) {
        return *failed;
    }
    const Args& args = std::get<Args>(parsed);
    if (args.positional.empty()) {
        return fail(
            "You must specify the type of resource to get. Use \"kubectl api-resources\" for a "
            "complete list of supported resources.\n\nerror: Required resource not specified.\n");
    }
    // Either `<type> [name…]` or `<type>/<name>…`.
    std::optional<Kind> kind;
    std::vector<std::string> names;
    for (std::size_t i = 0; i < args.positional.size(); ++i) {
        const std::string& word = args.positional[i];
        const auto slash = word.find('/');
        if (i == 0 || slash != std::string::npos) {
            kind = kind_of(word.substr(0, slash));
            if (!kind) {
                return error("the server doesn't have a resource type \"" + word.substr(0, slash) +
                             "\"");
            }
            if (slash != std::string::npos) {
                names.push_back(word.substr(slash + 1));
            }
        } else {
            names.push_back(word);
        }
    }
    std::vector<Json> objects = all_objects(inv.state, kind->plural);
    std::erase_if(objects, [&args](const Json& o) {
        return !matches(o, args.get("selector"), true) ||
               !matches(o, args.get("field-selector"), false);
    });
    if (args.has("sort-by")) {
        sort_by(objects, args.get("sort-by"));
    }
    std::string missing;
    if (!names.empty()) {
        std::vector<Json> picked;
        for (const auto& name : names) {
            const auto it = std::find_if(objects.begin(), objects.end(), [&name](const Json& o) {
                return o["metadata"].value("name", "") == name;
            });
            if (it != objects.end()) {
                picked.push_back(*it);
            } else if (!args.has("ignore-not-found")) {
                missing += not_found(kind->api_name, name).err;
            }
        }
        objects = std::move(picked);
    }
    Outcome o;
    if (!objects.empty() || names.empty()) {
        o = print_objects(*kind, objects, names.size() == 1, args.get("output"), inv.ns);
    }
    if (!missing.empty()) {
        o.err += missing;
        o.code = 1;
    }
    return o;
}

}  // namespace rollbot::fakes
