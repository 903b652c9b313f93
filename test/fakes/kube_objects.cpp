#include "test/fakes/kube_objects.hpp"

#include <algorithm>
#include <map>

namespace rollbot::fakes {
namespace {

std::string ns_of(const Json& state) {
    return state.value("namespace", "preskool");
}

std::string in_quotes(std::string_view s) {
    return "\"" + std::string(s) + "\"";
}

// Kubernetes omits zero counters (omitempty) and readers must cope: so does the fake.
void set_count(Json& object, const char* key, int value) {
    if (value != 0) {
        object[key] = value;
    }
}

Json owner_reference(std::string_view kind, std::string_view name, std::string_view uid) {
    return Json{{"apiVersion", "apps/v1"},
                {"kind", kind},
                {"name", name},
                {"uid", uid},
                {"controller", true},
                {"blockOwnerDeletion", true}};
}

Json container_specs(const Json& rs) {
    Json out = Json::array();
    for (const auto& c : rs.at("containers")) {
        out.push_back({{"name", c.value("name", "")},
                       {"image", c.value("image", "")},
                       {"imagePullPolicy", "IfNotPresent"},
                       {"resources", Json::object()},
                       {"terminationMessagePath", "/dev/termination-log"},
                       {"terminationMessagePolicy", "File"}});
    }
    return out;
}

Json pod_template(std::string_view deployment, const Json& rs, bool with_hash) {
    Json labels{{"app", deployment}};
    if (with_hash) {
        labels["pod-template-hash"] = rs.value("hash", "");
    }
    return Json{{"metadata", {{"labels", labels}}},
                {"spec",
                 {{"containers", container_specs(rs)},
                  {"restartPolicy", "Always"},
                  {"terminationGracePeriodSeconds", 30},
                  {"dnsPolicy", "ClusterFirst"}}}};
}

Json condition(std::string_view type,
               bool status,
               std::string_view reason,
               const std::string& message,
               const std::string& when) {
    return Json{{"type", type},
                {"status", status ? "True" : "False"},
                {"reason", reason},
                {"message", message},
                {"lastUpdateTime", when},
                {"lastTransitionTime", when}};
}

struct ContainerLook {
    std::string phase = "Running";
    bool ready = true;
    bool started = true;
    int restarts = 0;
    Json state;
    Json last_state = Json::object();
};

ContainerLook container_look(const std::string& mode,
                             const std::string& pod,
                             const std::string& ns,
                             const std::string& container,
                             const std::string& image,
                             const std::string& since) {
    ContainerLook look;
    look.state = {{"running", {{"startedAt", since}}}};
    const Json terminated_at{{"startedAt", since}, {"finishedAt", now_iso()}};
    if (mode == "crashloop" || mode == "oomkilled") {
        const bool oom = mode == "oomkilled";
        look.ready = false;
        look.started = false;
        look.restarts = oom ? 3 : 4;
        look.state = {{"waiting",
                       {{"reason", "CrashLoopBackOff"},
                        {"message",
                         "back-off 1m20s restarting failed container=" + container + " pod=" + pod +
                             "_" + ns + "(" + stable_uid(pod) + ")"}}}};
        Json terminated = terminated_at;
        terminated["reason"] = oom ? "OOMKilled" : "Error";
        terminated["exitCode"] = oom ? 137 : 1;
        terminated["containerID"] = "containerd://" + safe_token(pod + "last", 24);
        look.last_state = {{"terminated", terminated}};
    } else if (mode == "imagepull") {
        look.phase = "Pending";
        look.ready = false;
        look.started = false;
        look.state = {{"waiting",
                       {{"reason", "ImagePullBackOff"},
                        {"message", "Back-off pulling image " + in_quotes(image)}}}};
    } else if (mode == "deadline") {
        look.ready = false;  // running, but the readiness probe keeps failing
    }
    return look;
}

Json pod_object(const Json& state, const std::string& deployment, const Json& rs, int index) {
    const std::string ns = ns_of(state);
    const std::string rs_name = replicaset_name(deployment, rs);
    const std::string name = rs_name + "-" + safe_token(rs_name + std::to_string(index), 5);
    const std::string since = rs.value("created", "2025-01-01T00:00:00Z");
    const std::string mode = bad_mode(state, rs);
    Json statuses = Json::array();
    ContainerLook look;
    for (const auto& c : rs.at("containers")) {
        const std::string cname = c.value("name", "");
        const std::string image = c.value("image", "");
        look = container_look(mode, name, ns, cname, image, since);
        Json status{
            {"name", cname},
            {"image", image},
            {"imageID", mode == "imagepull" ? "" : image + "@sha256:" + safe_token(image, 64)},
            {"ready", look.ready},
            {"started", look.started},
            {"restartCount", look.restarts},
            {"state", look.state},
            {"lastState", look.last_state}};
        if (mode != "imagepull") {
            status["containerID"] = "containerd://" + safe_token(name + cname, 24);
        }
        statuses.push_back(status);
    }
    const bool ready = look.ready;
    Json conditions = Json::array(
        {{{"type", "Initialized"}, {"status", "True"}, {"lastTransitionTime", since}},
         {{"type", "Ready"}, {"status", ready ? "True" : "False"}, {"lastTransitionTime", since}},
         {{"type", "ContainersReady"},
          {"status", ready ? "True" : "False"},
          {"lastTransitionTime", since}},
         {{"type", "PodScheduled"}, {"status", "True"}, {"lastTransitionTime", since}}});
    if (!ready) {
        for (auto& c : conditions) {
            if (c["status"] == "False") {
                c["reason"] = "ContainersNotReady";
                c["message"] = "containers with unready status: [" +
                               rs.at("containers").at(0).value("name", "") + "]";
            }
        }
    }
    return Json{
        {"apiVersion", "v1"},
        {"kind", "Pod"},
        {"metadata",
         {{"name", name},
          {"generateName", rs_name + "-"},
          {"namespace", ns},
          {"uid", stable_uid(name)},
          {"creationTimestamp", since},
          {"labels", {{"app", deployment}, {"pod-template-hash", rs.value("hash", "")}}},
          {"ownerReferences",
           Json::array({owner_reference("ReplicaSet", rs_name, stable_uid(rs_name))})}}},
        {"spec",
         {{"containers", container_specs(rs)},
          {"nodeName", index % 2 == 0 ? "node-1" : "node-2"},
          {"restartPolicy", "Always"}}},
        {"status",
         {{"phase", look.phase},
          {"conditions", conditions},
          {"containerStatuses", statuses},
          {"hostIP", index % 2 == 0 ? "10.0.0.11" : "10.0.0.12"},
          {"podIP", "10.244." + std::to_string(index % 2 + 1) + "." + std::to_string(10 + index)},
          {"qosClass", "BestEffort"},
          {"startTime", since}}}};
}

Json event(const Json& state,
           const Json& pod,
           std::string_view type,
           std::string_view reason,
           const std::string& message,
           int count,
           std::string_view component) {
    const std::string ns = ns_of(state);
    const std::string pod_name = pod["metadata"]["name"];
    const std::string container = pod["spec"]["containers"][0]["name"];
    const std::string first = pod["metadata"]["creationTimestamp"];
    return Json{{"apiVersion", "v1"},
                {"kind", "Event"},
                {"metadata",
                 {{"name", pod_name + "." + safe_token(pod_name + std::string(reason), 16)},
                  {"namespace", ns},
                  {"creationTimestamp", first}}},
                {"type", type},
                {"reason", reason},
                {"message", message},
                {"involvedObject",
                 {{"apiVersion", "v1"},
                  {"kind", "Pod"},
                  {"name", pod_name},
                  {"namespace", ns},
                  {"uid", pod["metadata"]["uid"]},
                  {"fieldPath", "spec.containers{" + container + "}"}}},
                {"source", {{"component", component}, {"host", pod["spec"]["nodeName"]}}},
                {"reportingComponent", component},
                {"reportingInstance", pod["spec"]["nodeName"]},
                {"count", count},
                {"firstTimestamp", first},
                {"lastTimestamp", now_iso()},
                {"eventTime", nullptr}};
}

void pod_events(const Json& state, const Json& pod, std::vector<Json>& out) {
    const auto& status = pod["status"]["containerStatuses"][0];
    const std::string container = status["name"];
    const std::string image = status["image"];
    const std::string pod_name = pod["metadata"]["name"];
    const std::string where =
        pod_name + "_" + ns_of(state) + "(" + pod["metadata"]["uid"].get<std::string>() + ")";
    const auto& waiting = status["state"].value("waiting", Json::object());
    const std::string reason = waiting.value("reason", "");
    if (reason == "CrashLoopBackOff") {
        out.push_back(
            event(state,
                  pod,
                  "Warning",
                  "BackOff",
                  "Back-off restarting failed container " + container + " in pod " + where,
                  12,
                  "kubelet"));
    } else if (reason == "ImagePullBackOff") {
        out.push_back(event(state,
                            pod,
                            "Warning",
                            "Failed",
                            "Failed to pull image " + in_quotes(image) +
                                ": rpc error: code = NotFound desc = failed to pull and unpack "
                                "image " +
                                in_quotes(image) + ": failed to resolve reference " +
                                in_quotes(image) + ": " + image + ": not found",
                            4,
                            "kubelet"));
        out.push_back(event(state, pod, "Warning", "Failed", "Error: ErrImagePull", 4, "kubelet"));
        out.push_back(event(state,
                            pod,
                            "Warning",
                            "BackOff",
                            "Back-off pulling image " + in_quotes(image),
                            9,
                            "kubelet"));
        out.push_back(
            event(state, pod, "Warning", "Failed", "Error: ImagePullBackOff", 9, "kubelet"));
    } else if (!status["ready"].get<bool>() && status["state"].contains("running")) {
        out.push_back(event(state,
                            pod,
                            "Warning",
                            "Unhealthy",
                            "Readiness probe failed: HTTP probe failed with statuscode: 503",
                            40,
                            "kubelet"));
    }
}

}  // namespace

RolloutCounts rollout_counts(const Json& state, const Json& deployment) {
    RolloutCounts c;
    c.desired = deployment.value("replicas", 1);
    const Json* cur = current_rs(deployment);
    const Json* prev = previous_rs(deployment);
    if (cur == nullptr || c.desired <= 0) {
        c.desired = std::max(c.desired, 0);
        return c;
    }
    c.mode = bad_mode(state, *cur);
    const std::string stage = deployment.value("rollout", "complete");
    const bool rolling = prev != nullptr;
    if (!c.mode.empty()) {
        // maxSurge 25% starts one new pod; it never becomes available, so the old ones stay.
        c.current_rs_replicas = rolling ? 1 : c.desired;
        c.previous_rs_replicas = rolling ? c.desired : 0;
    } else if (stage == "started" && rolling) {
        c.current_rs_replicas = 1;
        c.previous_rs_replicas = c.desired;
    } else if (stage == "finishing" && rolling) {
        c.current_rs_replicas = c.desired;
        c.previous_rs_replicas = 1;
    } else {
        c.current_rs_replicas = c.desired;
    }
    const bool prev_ok = prev != nullptr && bad_mode(state, *prev).empty();
    c.replicas = c.current_rs_replicas + c.previous_rs_replicas;
    c.updated = c.current_rs_replicas;
    c.ready = (c.mode.empty() ? c.current_rs_replicas : 0) + (prev_ok ? c.previous_rs_replicas : 0);
    c.available = c.ready;
    c.unavailable = std::max(0, c.desired - c.available);
    return c;
}

std::string status_line(std::string_view name, const RolloutCounts& c) {
    const std::string waiting =
        "Waiting for deployment " + in_quotes(name) + " rollout to finish: ";
    if (c.updated < c.desired) {
        return waiting + std::to_string(c.updated) + " out of " + std::to_string(c.desired) +
               " new replicas have been updated...\n";
    }
    if (c.replicas > c.updated) {
        return waiting + std::to_string(c.replicas - c.updated) +
               " old replicas are pending termination...\n";
    }
    if (c.available < c.updated) {
        return waiting + std::to_string(c.available) + " of " + std::to_string(c.updated) +
               " updated replicas are available...\n";
    }
    return "deployment " + in_quotes(name) + " successfully rolled out\n";
}

std::string deployment_uid(const Json& state, std::string_view name) {
    return stable_uid("deployment/" + ns_of(state) + "/" + std::string(name));
}

std::string replicaset_name(std::string_view deployment, const Json& rs) {
    return std::string(deployment) + "-" + rs.value("hash", "");
}

Json deployment_object(const Json& state, const std::string& name) {
    const Json& dep = state.at("deployments").at(name);
    const Json* cur = current_rs(dep);
    const RolloutCounts c = rollout_counts(state, dep);
    const std::string now = now_iso();
    const std::string created = dep.at("replicasets").empty()
                                    ? "2025-01-01T00:00:00Z"
                                    : dep.at("replicasets")[0].value("created", "");
    Json annotations = dep.value("annotations", Json::object());
    annotations["deployment.kubernetes.io/revision"] = std::to_string(max_revision(dep));
    if (dep.contains("change_cause") && dep["change_cause"].is_string()) {
        annotations["kubernetes.io/change-cause"] = dep["change_cause"];
    }
    Json spec{{"replicas", dep.value("replicas", 1)},
              {"selector", {{"matchLabels", {{"app", name}}}}},
              {"template", cur != nullptr ? pod_template(name, *cur, false) : Json::object()},
              {"strategy",
               {{"type", "RollingUpdate"},
                {"rollingUpdate", {{"maxSurge", "25%"}, {"maxUnavailable", "25%"}}}}},
              {"revisionHistoryLimit", 10},
              {"progressDeadlineSeconds", 600}};
    if (dep.value("paused", false)) {
        spec["paused"] = true;
    }
    const std::string rs_name = cur != nullptr ? replicaset_name(name, *cur) : name;
    const int max_unavailable = c.desired / 4;
    Json conditions = Json::array();
    conditions.push_back(c.available >= c.desired - max_unavailable
                             ? condition("Available",
                                         true,
                                         "MinimumReplicasAvailable",
                                         "Deployment has minimum availability.",
                                         now)
                             : condition("Available",
                                         false,
                                         "MinimumReplicasUnavailable",
                                         "Deployment does not have minimum availability.",
                                         now));
    if (c.deadline_exceeded()) {
        conditions.push_back(
            condition("Progressing",
                      false,
                      "ProgressDeadlineExceeded",
                      "ReplicaSet " + in_quotes(rs_name) + " has timed out progressing.",
                      now));
    } else if (c.done()) {
        conditions.push_back(
            condition("Progressing",
                      true,
                      "NewReplicaSetAvailable",
                      "ReplicaSet " + in_quotes(rs_name) + " has successfully progressed.",
                      now));
    } else {
        conditions.push_back(condition("Progressing",
                                       true,
                                       "ReplicaSetUpdated",
                                       "ReplicaSet " + in_quotes(rs_name) + " is progressing.",
                                       now));
    }
    Json status{{"observedGeneration", dep.value("generation", 1)}, {"conditions", conditions}};
    set_count(status, "replicas", c.replicas);
    set_count(status, "updatedReplicas", c.updated);
    set_count(status, "readyReplicas", c.ready);
    set_count(status, "availableReplicas", c.available);
    set_count(status, "unavailableReplicas", c.unavailable);
    return Json{{"apiVersion", "apps/v1"},
                {"kind", "Deployment"},
                {"metadata",
                 {{"name", name},
                  {"namespace", ns_of(state)},
                  {"uid", deployment_uid(state, name)},
                  {"generation", dep.value("generation", 1)},
                  {"resourceVersion", std::to_string(state.value("resource_version", 1))},
                  {"creationTimestamp", created},
                  {"labels", {{"app", name}}},
                  {"annotations", annotations}}},
                {"spec", spec},
                {"status", status}};
}

Json replicaset_object(const Json& state, const std::string& deployment, const Json& rs) {
    const Json& dep = state.at("deployments").at(deployment);
    const RolloutCounts c = rollout_counts(state, dep);
    const Json* cur = current_rs(dep);
    const Json* prev = previous_rs(dep);
    const int revision = rs.value("revision", 0);
    int replicas = 0;
    if (cur != nullptr && cur->value("revision", 0) == revision) {
        replicas = c.current_rs_replicas;
    } else if (prev != nullptr && prev->value("revision", 0) == revision) {
        replicas = c.previous_rs_replicas;
    }
    const bool healthy = bad_mode(state, rs).empty();
    const std::string name = replicaset_name(deployment, rs);
    Json annotations{
        {"deployment.kubernetes.io/desired-replicas", std::to_string(c.desired)},
        {"deployment.kubernetes.io/max-replicas", std::to_string(c.desired + 1)},
        {"deployment.kubernetes.io/revision", std::to_string(rs.value("revision", 0))}};
    if (rs.contains("revision_history") && !rs["revision_history"].empty()) {
        std::string history;
        for (const auto& r : rs["revision_history"]) {
            history += (history.empty() ? "" : ",") + std::to_string(r.get<int>());
        }
        annotations["deployment.kubernetes.io/revision-history"] = history;
    }
    if (rs.contains("change_cause") && rs["change_cause"].is_string()) {
        annotations["kubernetes.io/change-cause"] = rs["change_cause"];
    }
    const Json labels{{"app", deployment}, {"pod-template-hash", rs.value("hash", "")}};
    Json status{{"observedGeneration", 1}, {"replicas", replicas}};
    set_count(status, "fullyLabeledReplicas", replicas);
    set_count(status, "readyReplicas", healthy ? replicas : 0);
    set_count(status, "availableReplicas", healthy ? replicas : 0);
    return Json{{"apiVersion", "apps/v1"},
                {"kind", "ReplicaSet"},
                {"metadata",
                 {{"name", name},
                  {"namespace", ns_of(state)},
                  {"uid", stable_uid(name)},
                  {"generation", 1},
                  {"creationTimestamp", rs.value("created", "")},
                  {"labels", labels},
                  {"annotations", annotations},
                  {"ownerReferences",
                   Json::array({owner_reference(
                       "Deployment", deployment, deployment_uid(state, deployment))})}}},
                {"spec",
                 {{"replicas", replicas},
                  {"selector", {{"matchLabels", labels}}},
                  {"template", pod_template(deployment, rs, true)}}},
                {"status", status}};
}

std::vector<Json> pod_objects(const Json& state) {
    std::vector<Json> pods;
    for (const auto& [name, dep] : state.at("deployments").items()) {
        const RolloutCounts c = rollout_counts(state, dep);
        const Json* cur = current_rs(dep);
        const Json* prev = previous_rs(dep);
        for (int i = 0; cur != nullptr && i < c.current_rs_replicas; ++i) {
            pods.push_back(pod_object(state, name, *cur, i));
        }
        for (int i = 0; prev != nullptr && i < c.previous_rs_replicas; ++i) {
            pods.push_back(pod_object(state, name, *prev, i));
        }
    }
    return pods;
}

std::vector<Json> event_objects(const Json& state) {
    std::vector<Json> events;
    for (const auto& pod : pod_objects(state)) {
        pod_events(state, pod, events);
    }
    for (const auto& [name, dep] : state.at("deployments").items()) {
        const Json* cur = current_rs(dep);
        if (cur == nullptr) {
            continue;
        }
        const std::string rs_name = replicaset_name(name, *cur);
        const std::string when = cur->value("created", "");
        events.push_back({{"apiVersion", "v1"},
                          {"kind", "Event"},
                          {"metadata",
                           {{"name", name + "." + safe_token(rs_name, 16)},
                            {"namespace", ns_of(state)},
                            {"creationTimestamp", when}}},
                          {"type", "Normal"},
                          {"reason", "ScalingReplicaSet"},
                          {"message",
                           "Scaled up replica set " + rs_name + " to " +
                               std::to_string(dep.value("replicas", 1))},
                          {"involvedObject",
                           {{"apiVersion", "apps/v1"},
                            {"kind", "Deployment"},
                            {"name", name},
                            {"namespace", ns_of(state)},
                            {"uid", deployment_uid(state, name)}}},
                          {"source", {{"component", "deployment-controller"}}},
                          {"reportingComponent", "deployment-controller"},
                          {"count", 1},
                          {"firstTimestamp", when},
                          {"lastTimestamp", when},
                          {"eventTime", nullptr}});
    }
    return events;
}

std::string pod_template_text(std::string_view deployment, const Json& rs, bool with_change_cause) {
    std::string out = "Pod Template:\n";
    out += "  Labels:\tapp=" + std::string(deployment) + "\n";
    out += "\tpod-template-hash=" + rs.value("hash", "") + "\n";
    if (with_change_cause && rs.contains("change_cause") && rs["change_cause"].is_string()) {
        out +=
            "  Annotations:\tkubernetes.io/change-cause: " + rs["change_cause"].get<std::string>() +
            "\n";
    }
    out += "  Containers:\n";
    for (const auto& c : rs.at("containers")) {
        out += "   " + c.value("name", "") + ":\n";
        out += "    Image:\t" + c.value("image", "") + "\n";
        out += "    Port:\t<none>\n    Host Port:\t<none>\n";
        out += "    Environment:\t<none>\n    Mounts:\t<none>\n";
    }
    out += "  Volumes:\t<none>\n  Node-Selectors:\t<none>\n  Tolerations:\t<none>\n";
    return out;
}

Json list_object(std::vector<Json> items) {
    return Json{{"apiVersion", "v1"},
                {"kind", "List"},
                {"items", std::move(items)},
                {"metadata", {{"resourceVersion", ""}}}};
}

const Json* field_at(const Json& object, std::string_view dotted_path) {
    const Json* at = &object;
    std::size_t start = 0;
    while (start <= dotted_path.size()) {
        const auto dot = dotted_path.find('.', start);
        const std::string key(dotted_path.substr(
            start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
        if (!at->is_object() || !at->contains(key)) {
            return nullptr;
        }
        at = &(*at)[key];
        if (dot == std::string_view::npos) {
            break;
        }
        start = dot + 1;
    }
    return at;
}

}  // namespace rollbot::fakes
