#pragma once

// Renders the simulated cluster (test/fakes/cluster_state.hpp) as the Kubernetes objects kubectl
// prints: Deployments, ReplicaSets, Pods and Events, plus the text forms kubectl derives from them.

#include "test/fakes/cluster_state.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace rollbot::fakes {

/// A deployment's replica counts as the deployment controller would report them right now.
struct RolloutCounts {
    int desired = 0;
    int replicas = 0;
    int updated = 0;
    int ready = 0;
    int available = 0;
    int unavailable = 0;
    int current_rs_replicas = 0;   // pods of the ReplicaSet with the highest revision
    int previous_rs_replicas = 0;  // pods of the second-highest (still serving mid-rollout)
    std::string mode;              // bad_images mode of the current image, "" when healthy
    [[nodiscard]] bool deadline_exceeded() const { return mode == "deadline"; }
    [[nodiscard]] bool done() const {
        return updated >= desired && replicas <= updated && available >= updated;
    }
};

[[nodiscard]] RolloutCounts rollout_counts(const Json& state, const Json& deployment);

/// One `rollout status` line for the counts (rules 4-7 of reference §1.4), newline-terminated.
[[nodiscard]] std::string status_line(std::string_view name, const RolloutCounts& counts);

[[nodiscard]] std::string deployment_uid(const Json& state, std::string_view name);
[[nodiscard]] std::string replicaset_name(std::string_view deployment, const Json& rs);

[[nodiscard]] Json deployment_object(const Json& state, const std::string& name);
[[nodiscard]] Json replicaset_object(const Json& state,
                                     const std::string& deployment,
                                     const Json& rs);
/// Every pod of every deployment, current ReplicaSet first.
[[nodiscard]] std::vector<Json> pod_objects(const Json& state);
/// Warning events for unhealthy pods and a ScalingReplicaSet event per deployment.
[[nodiscard]] std::vector<Json> event_objects(const Json& state);

/// kubectl's "Pod Template:" description block (DescribePodTemplate), ending in a newline.
[[nodiscard]] std::string pod_template_text(std::string_view deployment,
                                            const Json& rs,
                                            bool with_change_cause);

/// A JSON List as `kubectl get -o json` prints one.
[[nodiscard]] Json list_object(std::vector<Json> items);

/// Value at a dotted path ("involvedObject.kind"); nullptr when absent.
[[nodiscard]] const Json* field_at(const Json& object, std::string_view dotted_path);

}  // namespace rollbot::fakes
