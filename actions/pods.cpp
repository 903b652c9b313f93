#include "actions/pods.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace rollbot::actions {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxWarnings = 10;
// "Failed to pull image …" repeats the image three times; the start says what failed.
constexpr std::size_t kMaxMessage = 300;

const json* member(const json& object, const char* key) {
    if (!object.is_object()) {
        return nullptr;
    }
    const auto it = object.find(key);
    return it == object.end() ? nullptr : &*it;
}

const json& object_at(const json& object, const char* key) {
    static const json kEmpty = json::object();
    const json* value = member(object, key);
    return value != nullptr && value->is_object() ? *value : kEmpty;
}

const json& array_at(const json& object, const char* key) {
    static const json kEmpty = json::array();
    const json* value = member(object, key);
    return value != nullptr && value->is_array() ? *value : kEmpty;
}

std::string string_at(const json& object, const char* key) {
    const json* value = member(object, key);
    return value != nullptr && value->is_string() ? value->get<std::string>() : std::string{};
}

std::int64_t integer_at(const json& object, const char* key) {
    const json* value = member(object, key);
    return value != nullptr && value->is_number_integer() ? value->get<std::int64_t>() : 0;
}

// A List's items, or a single object of `kind` (`kubectl get pod <name> -o json`).
const json* items_of(const json& document, std::string_view kind) {
    if (document.is_discarded() || !document.is_object()) {
        return nullptr;
    }
    if (string_at(document, "kind") == kind) {
        return &document;
    }
    const json* items = member(document, "items");
    return items != nullptr && items->is_array() ? items : nullptr;
}

// Reasons a container waits in while it starts normally; a failure in another container of the
// same pod says more.
bool benign_waiting(std::string_view reason) {
    return reason == "ContainerCreating" || reason == "PodInitializing";
}

void read_container(const json& status, core::PodState& pod) {
    const auto restarts = pod.restarts + integer_at(status, "restartCount");
    pod.restarts =
        static_cast<int>(std::clamp<std::int64_t>(restarts, 0, std::numeric_limits<int>::max()));
    const std::string waiting =
        string_at(object_at(object_at(status, "state"), "waiting"), "reason");
    if (!waiting.empty() && (pod.waiting_reason.empty() ||
                             (benign_waiting(pod.waiting_reason) && !benign_waiting(waiting)))) {
        pod.waiting_reason = waiting;
    }
    // lastState: why the previous run died. state.terminated: it died this moment (a finished
    // init container also sits there, as Completed, which is no news).
    for (const char* which : {"lastState", "state"}) {
        const std::string reason =
            string_at(object_at(object_at(status, which), "terminated"), "reason");
        if (reason.empty() || reason == "Completed") {
            continue;
        }
        if (pod.last_terminated_reason.empty() || reason == "OOMKilled") {
            pod.last_terminated_reason = reason;
        }
    }
}

// The Ready condition; without conditions, every (regular) container ready.
bool pod_ready(const json& status) {
    for (const auto& condition : array_at(status, "conditions")) {
        if (string_at(condition, "type") == "Ready") {
            return string_at(condition, "status") == "True";
        }
    }
    const json& containers = array_at(status, "containerStatuses");
    return !containers.empty() &&
           std::all_of(containers.begin(), containers.end(), [](const json& c) {
               const json* ready = member(c, "ready");
               return ready != nullptr && ready->is_boolean() && ready->get<bool>();
           });
}

core::PodState read_pod(const json& item) {
    core::PodState pod;
    pod.name = string_at(object_at(item, "metadata"), "name");
    const json& status = object_at(item, "status");
    pod.phase = string_at(status, "phase");
    pod.ready = pod_ready(status);
    for (const char* list : {"initContainerStatuses", "containerStatuses"}) {
        for (const auto& container : array_at(status, list)) {
            read_container(container, pod);
        }
    }
    return pod;
}

struct Warning {
    std::string text;  // "Reason: message"
    std::int64_t count = 0;
    std::string when;  // RFC 3339 to the second: sorts as text
};

std::string event_time(const json& event) {
    std::string when = string_at(event, "lastTimestamp");
    if (when.empty()) {
        when = string_at(event, "eventTime");  // events.k8s.io/v1 writers leave lastTimestamp null
    }
    if (when.empty()) {
        when = string_at(object_at(event, "series"), "lastObservedTime");
    }
    if (when.empty()) {
        when = string_at(object_at(event, "metadata"), "creationTimestamp");
    }
    // eventTime has microseconds: "…:05.123456Z" would sort before "…:05Z".
    return when.substr(0, std::min<std::size_t>(when.size(), 19));
}

std::string one_line(std::string text) {
    std::replace(text.begin(), text.end(), '\n', ' ');
    while (!text.empty() && text.back() == ' ') {
        text.pop_back();
    }
    if (text.size() <= kMaxMessage) {
        return text;
    }
    std::size_t cut = kMaxMessage;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0U) == 0x80U) {
        --cut;
    }
    return text.substr(0, cut) + "…";
}

std::optional<Warning> read_warning(const json& event, std::string_view name_prefix) {
    if (string_at(event, "type") != "Warning" ||
        !string_at(object_at(event, "involvedObject"), "name").starts_with(name_prefix)) {
        return std::nullopt;
    }
    Warning warning;
    warning.text =
        fmt::format("{}: {}", string_at(event, "reason"), one_line(string_at(event, "message")));
    warning.count = integer_at(event, "count");
    if (warning.count <= 0) {
        warning.count = integer_at(object_at(event, "series"), "count");
    }
    warning.count = std::max<std::int64_t>(warning.count, 1);
    warning.when = event_time(event);
    return warning;
}

bool owned_by(const json& metadata, std::string_view deployment) {
    const json& owners = array_at(metadata, "ownerReferences");
    if (owners.empty()) {
        return string_at(metadata, "name").starts_with(std::string(deployment) + "-");
    }
    return std::any_of(owners.begin(), owners.end(), [&](const json& owner) {
        return string_at(owner, "kind") == "Deployment" && string_at(owner, "name") == deployment;
    });
}

}  // namespace

core::PodsCheck parse_pods(std::string_view deployment,
                           std::string_view pods_json,
                           std::string_view replicaset_hash) {
    core::PodsCheck check;
    check.deployment = std::string(deployment);
    const json document = json::parse(pods_json, nullptr, false);
    const json* items = items_of(document, "Pod");
    if (items == nullptr) {
        check.error = "kubectl get pods: the output is not a JSON list of pods";
        return check;
    }
    const auto read = [&](const json& item) {
        const json& labels = object_at(object_at(item, "metadata"), "labels");
        if (replicaset_hash.empty() || string_at(labels, "pod-template-hash") == replicaset_hash) {
            check.pods.push_back(read_pod(item));
        }
    };
    if (items->is_array()) {
        std::for_each(items->begin(), items->end(), read);
    } else {
        read(*items);
    }
    return check;
}

std::vector<std::string> parse_warning_events(std::string_view events_json,
                                              std::string_view name_prefix) {
    const json document = json::parse(events_json, nullptr, false);
    const json* items = items_of(document, "Event");
    if (items == nullptr || !items->is_array()) {
        return {};
    }
    std::vector<Warning> warnings;
    std::map<std::string, std::size_t> index;  // text → position in `warnings`
    for (const auto& event : *items) {
        auto warning = read_warning(event, name_prefix);
        if (!warning) {
            continue;
        }
        const auto [at, added] = index.emplace(warning->text, warnings.size());
        if (added) {
            warnings.push_back(std::move(*warning));
            continue;
        }
        // The same complaint about several pods (readiness probes): one line, counts summed.
        auto& seen = warnings[at->second];
        seen.count += warning->count;
        seen.when = std::max(seen.when, warning->when);
    }
    std::stable_sort(warnings.begin(), warnings.end(), [](const Warning& a, const Warning& b) {
        return a.when > b.when;
    });
    std::vector<std::string> out;
    for (auto& w : warnings) {
        if (out.size() == kMaxWarnings) {
            break;
        }
        out.push_back(w.count > 1 ? fmt::format("{} (x{})", w.text, w.count) : std::move(w.text));
    }
    return out;
}

std::string current_replicaset_hash(std::string_view replicasets_json,
                                    std::string_view deployment,
                                    std::int64_t revision) {
    const json document = json::parse(replicasets_json, nullptr, false);
    const json* items = items_of(document, "ReplicaSet");
    if (items == nullptr || !items->is_array()) {
        return {};
    }
    const std::string wanted = std::to_string(revision);
    for (const auto& rs : *items) {
        const json& metadata = object_at(rs, "metadata");
        const json& annotations = object_at(metadata, "annotations");
        if (!owned_by(metadata, deployment) ||
            string_at(annotations, "deployment.kubernetes.io/revision") != wanted) {
            continue;
        }
        std::string hash = string_at(object_at(metadata, "labels"), "pod-template-hash");
        const std::string name = string_at(metadata, "name");
        const std::string prefix = std::string(deployment) + "-";
        if (hash.empty() && name.starts_with(prefix)) {
            hash = name.substr(prefix.size());  // the ReplicaSet is named <deployment>-<hash>
        }
        return hash;
    }
    return {};
}

}  // namespace rollbot::actions
