// `rollout undo|status|history|pause|resume`, `set image` and `annotate` against the simulated
// deployments, with the deployment controller's revision bookkeeping (reference §0.4-0.9, §1).

#include "test/fakes/kube_objects.hpp"
#include "test/fakes/kubectl_cli.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <iterator>

namespace rollbot::fakes {
namespace {

constexpr std::size_t kRevisionHistoryLimit = 10;
constexpr std::string_view kChangeCause = "kubernetes.io/change-cause";

std::string resource_name(std::string_view name) {
    return "deployment.apps/" + std::string(name);
}

Json* find_deployment(Json& state, const std::string& name) {
    auto& deps = state["deployments"];
    const auto it = deps.find(name);
    return it == deps.end() ? nullptr : &*it;
}

bool same_template(const Json& a, const Json& b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (a[i].value("name", "") != b[i].value("name", "") ||
            a[i].value("image", "") != b[i].value("image", "")) {
            return false;
        }
    }
    return true;
}

void set_change_cause(Json& object, const Json& cause) {
    if (cause.is_string()) {
        object["change_cause"] = cause;
    } else {
        object.erase("change_cause");
    }
}

// The deployment controller's reaction to a new pod template: the ReplicaSet with the same
// template is reused and its revision moves to max+1 (the old number goes to its
// revision-history), else a new one is created at max+1. It copies the deployment's
// change-cause. Old ReplicaSets beyond revisionHistoryLimit are deleted.
void roll_to(Json& state, Json& dep, const Json& containers) {
    const int next = max_revision(dep) + 1;
    auto& sets = dep["replicasets"];
    auto it = std::find_if(sets.begin(), sets.end(), [&containers](const Json& rs) {
        return same_template(rs["containers"], containers);
    });
    if (it == sets.end()) {
        sets.push_back({{"revision", next},
                        {"containers", containers},
                        {"hash", pod_template_hash(containers)},
                        {"created", now_iso()}});
        it = std::prev(sets.end());
    } else {
        if (!it->contains("revision_history")) {
            (*it)["revision_history"] = Json::array();
        }
        (*it)["revision_history"].push_back((*it)["revision"]);
        (*it)["revision"] = next;
    }
    set_change_cause(*it, dep.value("change_cause", Json()));
    dep["generation"] = dep.value("generation", 1) + 1;
    dep["rollout"] = "started";
    state["resource_version"] = state.value("resource_version", 1) + 1;
    while (sets.size() > kRevisionHistoryLimit + 1) {
        const auto oldest =
            std::min_element(sets.begin(), sets.end(), [](const Json& a, const Json& b) {
                return a.value("revision", 0) < b.value("revision", 0);
            });
        sets.erase(oldest);
    }
}

// Go's time.ParseDuration for the units kubectl users write: "120s", "2m", "1m30s", "500ms", "0".
std::optional<std::chrono::milliseconds> parse_duration(const std::string& text) {
    if (text == "0") {
        return std::chrono::milliseconds(0);
    }
    double total_ms = 0;
    std::size_t i = 0;
    while (i < text.size()) {
        char* end = nullptr;
        const double number = std::strtod(text.c_str() + i, &end);
        const std::size_t unit_at = static_cast<std::size_t>(end - text.c_str());
        if (unit_at == i) {
            return std::nullopt;
        }
        std::size_t unit_end = unit_at;
        while (unit_end < text.size() && std::isalpha(static_cast<unsigned char>(text[unit_end]))) {
            ++unit_end;
        }
        const std::string unit = text.substr(unit_at, unit_end - unit_at);
        const double scale = unit == "ms"  ? 1
                             : unit == "s" ? 1e3
                             : unit == "m" ? 6e4
                             : unit == "h" ? 3.6e6
                                           : -1;
        if (scale < 0) {
            return std::nullopt;
        }
        total_ms += number * scale;
        i = unit_end;
    }
    return std::chrono::milliseconds(static_cast<long long>(total_ms));
}

std::variant<Args, Outcome> parse_rollout(const Invocation& inv,
                                          const std::vector<FlagSpec>& specs,
                                          std::string_view command) {
    return parse_flags({inv.words.begin() + 2, inv.words.end()}, specs, command);
}

Outcome undo_one(Json& state, const std::string& name, int to_revision, const std::string& dry) {
    Json* dep = find_deployment(state, name);
    if (dep == nullptr) {
        return not_found("deployments.apps", name);
    }
    const Json* target = nullptr;
    if (to_revision == 0) {
        target = previous_rs(*dep);
        if (target == nullptr) {
            return error("no rollout history found for deployment \"" + name + "\"");
        }
    } else {
        for (const auto& rs : (*dep)["replicasets"]) {
            if (rs.value("revision", 0) == to_revision) {
                target = &rs;
            }
        }
        if (target == nullptr) {
            return error("unable to find specified revision " + std::to_string(to_revision) +
                         " in history");
        }
    }
    const std::string suffix = dry == "server" ? " (server dry run)" : "";
    if (dry == "client") {
        return printed(resource_name(name) + " " + pod_template_text(name, *target, false) +
                       " (dry run)\n");
    }
    if (dep->value("paused", false)) {
        return error(
            "you cannot rollback a paused deployment; resume it first with 'kubectl rollout "
            "resume' and try again");
    }
    const Json* cur = current_rs(*dep);
    if (cur != nullptr && same_template((*target)["containers"], (*cur)["containers"])) {
        return printed(resource_name(name) +
                       " skipped rollback (current template already matches revision " +
                       std::to_string(to_revision) + ")" + suffix + "\n");
    }
    if (dry.empty()) {
        const Json containers = (*target)["containers"];
        set_change_cause(*dep, target->value("change_cause", Json()));
        roll_to(state, *dep, containers);
    }
    return printed(resource_name(name) + " rolled back" + suffix + "\n");
}

Outcome rollout_undo(Invocation& inv) {
    auto parsed = parse_rollout(
        inv,
        {{"to-revision"}, {"dry-run", 0, FlagKind::kOptionalValue, "unchanged"}, {"output", 'o'}},
        "rollout undo");
    if (auto* failed = std::get_if<Outcome>(&parsed)) {
        return *failed;
    }
    const Args& args = std::get<Args>(parsed);
    std::string warn;
    auto dry = dry_run_mode(args, warn);
    if (auto* failed = std::get_if<Outcome>(&dry)) {
        return *failed;
    }
    const std::string revision_text = args.get("to-revision", "0");
    char* end = nullptr;
    const long to_revision = std::strtol(revision_text.c_str(), &end, 10);
    if (revision_text.empty() || *end != '\0' || to_revision < 0) {
        return fail("Error: invalid argument \"" + revision_text +
                    "\" for \"--to-revision\" flag: strconv.ParseInt: parsing \"" + revision_text +
                    "\": invalid syntax\nSee 'kubectl rollout undo --help' for usage.\n");
    }
    Outcome all = fail(warn, 0);
    std::size_t at = 0;
    while (at < args.positional.size() || at == 0) {
        std::string name;
        if (auto bad = take_deployment_ref(args.positional, at, name)) {
            return *bad;
        }
        const Outcome one =
            undo_one(inv.state, name, static_cast<int>(to_revision), std::get<std::string>(dry));
        all.out += one.out;
        all.err += one.err;
        all.code = std::max(all.code, one.code);
    }
    return all;
}

Outcome finish_status(Json& state, const std::string& name, int revision) {
    Json* dep = find_deployment(state, name);
    if (dep == nullptr) {
        return fail("error: object has been deleted\n");
    }
    if (max_revision(*dep) == revision) {
        (*dep)["rollout"] = "complete";
    }
    return printed(status_line(name, rollout_counts(state, *dep)));
}

Outcome rollout_status(Invocation& inv) {
    auto parsed = parse_rollout(
        inv, {{"timeout"}, {"watch", 'w', FlagKind::kBool}, {"revision"}}, "rollout status");
    if (auto* failed = std::get_if<Outcome>(&parsed)) {
        return *failed;
    }
    const Args& args = std::get<Args>(parsed);
    std::string name;
    std::size_t at = 0;
    if (auto bad = take_deployment_ref(args.positional, at, name)) {
        return *bad;
    }
    const auto timeout = parse_duration(args.get("timeout", "0"));
    if (!timeout) {
        return fail("Error: invalid argument \"" + args.get("timeout") +
                    "\" for \"--timeout\" flag: time: invalid duration \"" + args.get("timeout") +
                    "\"\nSee 'kubectl rollout status --help' for usage.\n");
    }
    Json* dep = find_deployment(inv.state, name);
    if (dep == nullptr) {
        return not_found("deployments.apps", name);
    }
    const int revision = max_revision(*dep);
    if (args.has("revision") && std::atoi(args.get("revision").c_str()) != revision) {
        return error("desired revision (" + args.get("revision") +
                     ") is different from the running revision (" + std::to_string(revision) + ")");
    }
    const std::string timed_out = "error: timed out waiting for the condition\n";
    const std::string deadline_error =
        "error: deployment \"" + name + "\" exceeded its progress deadline\n";
    RolloutCounts counts = rollout_counts(inv.state, *dep);
    const std::string stage = dep->value("rollout", "complete");
    const auto next_stage = [](const std::string& s) {
        return s == "started" ? "finishing" : "complete";
    };
    if (args.get("watch", "true") == "false") {
        if (counts.deadline_exceeded()) {
            return fail(deadline_error);
        }
        if (counts.mode.empty()) {  // each poll moves a healthy rollout one step on
            (*dep)["rollout"] = next_stage(stage);
        }
        return printed(status_line(name, counts));
    }
    const auto delay = std::chrono::milliseconds(inv.state.value("status_delay_ms", 0));
    const bool has_timeout = timeout->count() > 0;
    const auto wait = has_timeout ? std::min(delay, *timeout) : delay;
    Outcome o;
    if (!counts.mode.empty()) {
        // A bad image never becomes available: the watch ends on --timeout, or (with no
        // timeout, after progressDeadlineSeconds) on the deadline. Neither is really awaited.
        o.out = status_line(name, counts);
        o.delay = wait;
        const std::string final_error =
            counts.deadline_exceeded() || !has_timeout ? deadline_error : timed_out;
        o.then = [final_error](Json&) {
            return fail(final_error);
        };
        return o;
    }
    for (int step = 0; step < 3 && !counts.done(); ++step) {
        o.out += status_line(name, counts);
        (*dep)["rollout"] = next_stage((*dep).value("rollout", "complete"));
        counts = rollout_counts(inv.state, *dep);
    }
    if (delay.count() == 0 || o.out.empty()) {
        o.out += status_line(name, counts);
        return o;
    }
    (*dep)["rollout"] = stage;  // completes after the delay, unless --timeout comes first
    o.delay = wait;
    const bool times_out = has_timeout && delay >= *timeout;
    o.then = [name, revision, times_out, timed_out](Json& state) {
        return times_out ? fail(timed_out) : finish_status(state, name, revision);
    };
    return o;
}

Outcome rollout_history(Invocation& inv) {
    auto parsed = parse_rollout(inv, {{"revision"}, {"output", 'o'}}, "rollout history");
    if (auto* failed = std::get_if<Outcome>(&parsed)) {
        return *failed;
    }
    const Args& args = std::get<Args>(parsed);
    std::string name;
    std::size_t at = 0;
    if (auto bad = take_deployment_ref(args.positional, at, name)) {
        return *bad;
    }
    const Json* dep = find_deployment(inv.state, name);
    if (dep == nullptr) {
        return not_found("deployments.apps", name);
    }
    std::vector<const Json*> sets;
    for (const auto& rs : (*dep)["replicasets"]) {
        sets.push_back(&rs);
    }
    std::sort(sets.begin(), sets.end(), [](const Json* a, const Json* b) {
        return a->value("revision", 0) < b->value("revision", 0);
    });
    const int wanted = std::atoi(args.get("revision", "0").c_str());
    const std::string output = args.get("output");
    if (wanted > 0) {
        std::erase_if(sets,
                      [wanted](const Json* rs) { return rs->value("revision", 0) != wanted; });
        if (sets.empty() && !output.empty()) {
            // kubectl 1.32 dereferences the missing template (kubernetes/kubectl#1724).
            return fail(
                "panic: runtime error: invalid memory address or nil pointer dereference\n"
                "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x1d2c4e5]\n\n"
                "goroutine 1 [running]:\n"
                "k8s.io/kubectl/pkg/cmd/rollout.(*RolloutHistoryOptions).Run(...)\n",
                2);
        }
        if (sets.empty()) {
            return error("unable to find the specified revision");
        }
    }
    Outcome o;
    if (output == "json" || output == "name" || output.rfind("jsonpath=", 0) == 0) {
        for (const Json* rs : sets) {
            const Json object = replicaset_object(inv.state, name, *rs);
            if (output == "json") {
                o.out += object.dump(4) + "\n";
            } else if (output == "name") {
                o.out += "replicaset.apps/" + object["metadata"]["name"].get<std::string>() + "\n";
            } else {
                auto text = render_jsonpath(object, output.substr(9));
                if (auto* failed = std::get_if<Outcome>(&text)) {
                    return *failed;
                }
                o.out += std::get<std::string>(text);
            }
        }
        return o;
    }
    if (!output.empty()) {
        return error("unable to match a printer suitable for the output format \"" + output +
                     "\", allowed formats are: json,jsonpath,name (rollbot's fake kubectl)");
    }
    if (wanted > 0) {
        o.out = resource_name(name) + " with revision #" + std::to_string(wanted) + "\n" +
                pod_template_text(name, *sets[0], true) + "\n";
        return o;
    }
    o.out = resource_name(name) + " \n";
    if (sets.empty()) {
        o.out += "No rollout history found.\n";
        return o;
    }
    // A tabwriter with padding 2, as kubectl's history printer uses.
    std::size_t width = std::string_view("REVISION").size();
    for (const Json* rs : sets) {
        width = std::max(width, std::to_string(rs->value("revision", 0)).size());
    }
    const auto pad = [width](const std::string& s) {
        return s + std::string(width + 2 - s.size(), ' ');
    };
    o.out += pad("REVISION") + "CHANGE-CAUSE\n";
    for (const Json* rs : sets) {
        const Json cause = rs->value("change_cause", Json());
        o.out += pad(std::to_string(rs->value("revision", 0))) +
                 (cause.is_string() ? cause.get<std::string>() : "<none>") + "\n";
    }
    o.out += "\n";
    return o;
}

Outcome rollout_pause(Invocation& inv, bool pause) {
    auto parsed = parse_rollout(inv, {}, pause ? "rollout pause" : "rollout resume");
    if (auto* failed = std::get_if<Outcome>(&parsed)) {
        return *failed;
    }
    std::string name;
    std::size_t at = 0;
    if (auto bad = take_deployment_ref(std::get<Args>(parsed).positional, at, name)) {
        return *bad;
    }
    Json* dep = find_deployment(inv.state, name);
    if (dep == nullptr) {
        return not_found("deployments.apps", name);
    }
    if (dep->value("paused", false) == pause) {
        return error("deployments.apps \"" + name + "\" is " + (pause ? "already" : "not") +
                     " paused");
    }
    (*dep)["paused"] = pause;
    return printed(resource_name(name) + (pause ? " paused\n" : " resumed\n"));
}

}  // namespace

Outcome run_rollout(Invocation& inv) {
    const std::string sub = inv.words.size() > 1 ? inv.words[1] : "";
    if (sub == "undo") {
        return rollout_undo(inv);
    }
    if (sub == "status") {
        return rollout_status(inv);
    }
    if (sub == "history") {
        return rollout_history(inv);
    }
    if (sub == "pause" || sub == "resume") {
        return rollout_pause(inv, sub == "pause");
    }
    return fail("error: unknown command \"" + sub +
                "\"\nSee 'kubectl rollout -h' for help and examples\n");
}

Outcome run_set(Invocation& inv) {
    if (inv.words.size() < 2 || inv.words[1] != "image") {
        return fail("error: unknown command \"" + (inv.words.size() > 1 ? inv.words[1] : "") +
                    "\"\nSee 'kubectl set -h' for help and examples\n");
    }
    auto parsed = parse_rollout(inv,
                                {{"dry-run", 0, FlagKind::kOptionalValue, "unchanged"},
                                 {"output", 'o'},
                                 {"record", 0, FlagKind::kBool}},
                                "set image");
    if (auto* failed = std::get_if<Outcome>(&parsed)) {
        return *failed;
    }
    const Args& args = std::get<Args>(parsed);
    std::string warn;
    auto dry = dry_run_mode(args, warn);
    if (auto* failed = std::get_if<Outcome>(&dry)) {
        return *failed;
    }
    std::string name;
    std::size_t at = 0;
    if (auto bad = take_deployment_ref(args.positional, at, name)) {
        return *bad;
    }
    if (at >= args.positional.size()) {
        return error("at least one image update is required");
    }
    Json* dep = find_deployment(inv.state, name);
    if (dep == nullptr) {
        return not_found("deployments.apps", name);
    }
    const Json* cur = current_rs(*dep);
    Json containers = cur != nullptr ? (*cur)["containers"] : Json::array();
    for (; at < args.positional.size(); ++at) {
        const std::string& pair = args.positional[at];
        const auto eq = pair.find('=');
        if (eq == std::string::npos) {
            return error("all resources must be specified before image changes: " + pair);
        }
        const std::string container = pair.substr(0, eq);
        bool found = false;
        for (auto& c : containers) {
            if (container == "*" || c.value("name", "") == container) {
                c["image"] = pair.substr(eq + 1);
                found = true;
            }
        }
        if (!found) {
            return error("unable to find container named \"" + container + "\"");
        }
    }
    Outcome o = fail(warn, 0);
    const std::string mode = std::get<std::string>(dry);
    if (cur != nullptr && same_template(containers, (*cur)["containers"])) {
        return o;  // no patch is sent, nothing is printed
    }
    if (mode.empty()) {
        if (args.get("record") == "true") {
            std::string line = "kubectl";
            for (const auto& w : inv.words) {
                line += " " + w;
            }
            (*dep)["change_cause"] = line;
        }
        roll_to(inv.state, *dep, containers);
    }
    o.out = resource_name(name) + " image updated" +
            (mode == "client"   ? " (dry run)"
             : mode == "server" ? " (server dry run)"
                                : "") +
            "\n";
    return o;
}

Outcome run_annotate(Invocation& inv) {
    auto parsed = parse_flags(
        {inv.words.begin() + 1, inv.words.end()},
        {{"overwrite", 0, FlagKind::kBool}, {"dry-run", 0, FlagKind::kOptionalValue, "unchanged"}},
        "annotate");
    if (auto* failed = std::get_if<Outcome>(&parsed)) {
        return *failed;
    }
    const Args& args = std::get<Args>(parsed);
    std::string warn;
    auto dry = dry_run_mode(args, warn);
    if (auto* failed = std::get_if<Outcome>(&dry)) {
        return *failed;
    }
    std::string name;
    std::size_t at = 0;
    if (auto bad = take_deployment_ref(args.positional, at, name)) {
        return *bad;
    }
    Json* dep = find_deployment(inv.state, name);
    if (dep == nullptr) {
        return not_found("deployments.apps", name);
    }
    Json updated = *dep;
    for (; at < args.positional.size(); ++at) {
        const std::string& item = args.positional[at];
        const auto eq = item.find('=');
        const bool remove = eq == std::string::npos && !item.empty() && item.back() == '-';
        const std::string key = remove ? item.substr(0, item.size() - 1) : item.substr(0, eq);
        if (eq == std::string::npos && !remove) {
            return error("invalid annotation format: " + item);
        }
        Json& target = key == kChangeCause ? updated : updated["annotations"];
        const std::string field = key == kChangeCause ? "change_cause" : key;
        if (remove) {
            if (target.is_object()) {
                target.erase(field);
            }
            continue;
        }
        const std::string value = item.substr(eq + 1);
        if (target.contains(field) && target[field] != value && args.get("overwrite") != "true") {
            return error("--overwrite is false but found the following declared annotation(s): '" +
                         key + "' already has a value (" + target[field].get<std::string>() + ")");
        }
        target[field] = value;
    }
    const std::string mode = std::get<std::string>(dry);
    if (mode.empty()) {
        *dep = std::move(updated);
        // The controller copies the deployment's change-cause onto the current ReplicaSet.
        for (auto& rs : (*dep)["replicasets"]) {
            if (rs.value("revision", 0) == max_revision(*dep)) {
                set_change_cause(rs, dep->value("change_cause", Json()));
            }
        }
        inv.state["resource_version"] = inv.state.value("resource_version", 1) + 1;
    }
    return with_warning(resource_name(name) + " annotated" +
                            (mode == "client"   ? " (dry run)"
                             : mode == "server" ? " (server dry run)"
                                                : "") +
                            "\n",
                        warn);
}

}  // namespace rollbot::fakes
