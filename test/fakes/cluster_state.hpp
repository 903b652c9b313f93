#pragma once

// The simulated cluster shared by the fake kubectl and fake_erp: one JSON state file.
//
// Schema (every key optional; a missing top-level key is taken from the default scenario, so a
// test can write just {"bad_images": {"e4d5c6b7": "crashloop"}} to get the default cluster with
// a broken backend):
//
// {
//   "namespace": "preskool",               the only namespace that exists
//   "contexts": ["prod"],                  if present, --context must name one of these
//   "deployments": {
//     "backend": {
//       "replicas": 2, "paused": false, "generation": 3,
//       "change_cause": "deploy e4d5c6b7",   annotation kubernetes.io/change-cause (optional)
//       "annotations": {"k": "v"},           other annotations (kubectl annotate)
//       "rollout": "complete",               "started" | "finishing" | "complete"
//       "replicasets": [                     the deployment's history; highest revision = current
//         {"revision": 1, "containers": [{"name": "backend", "image": "repo:9f8e7d6c"}],
//          "change_cause": "deploy 9f8e7d6c", "created": "2025-01-01T00:00:00Z",
//          "hash": "<pod-template-hash, derived when absent>",
//          "revision_history": [1]}        former revision numbers of a reused ReplicaSet
//       ]}},
//   "bad_images": {"<tag or full image>": "crashloop|oomkilled|imagepull|deadline"},
//   "status_delay_ms": 0,                  rollout status sleeps this long (bounded by --timeout)
//   "alembic": {"dialect": "postgresql", "current": "3f2a1b4c5d6e" | null,
//               "migrations": [           oldest first, a linear chain
//                 {"revision": "...", "down_revision": null, "doc": "...",
//                  "downgrade_sql": ["DROP TABLE x;"], "upgrade_sql": [...],
//                  "added_in": "<image tag>",        optional: images older than this tag's
//                                                    ReplicaSet do not know the migration
//                  "downgrade_error": "<exception>"} optional: the online downgrade fails (rc 1);
//                                                    "upgrade_error" likewise
//               ]},
//   "faults": [{"match": "rollout undo", "stdout": "", "stderr": "...", "exit": 1,
//               "sleep_ms": 0, "times": 1,    the first whose match is a substring of the
//               "repeat": 1}],                (repeat: stdout printed this many times)
//                                             space-joined argv (and has times left; absent =
//                                             unlimited) replaces the command: sleep, print, exit
//                                             (exit defaults to 1)
//   "erp": {"health_code": 200, "error_rate": "0.004", "p95": "0.35"}, fake_erp overrides
//                                             (a null metric answers an empty vector)
//   "calls": [["rollout", "undo", ...]],     argv of every kubectl invocation, appended
//   "last_context": "prod",                  the last --context seen
//   "resource_version": 7                    bumped on every change
// }

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace rollbot::fakes {

using Json = nlohmann::json;

/// The cluster as first written: backend and frontend healthy, alembic at head.
/// `variant` "incident" makes the backend's current image crash-loop.
[[nodiscard]] Json default_scenario(std::string_view variant);

/// Fills missing top-level keys from the default scenario and derived per-object fields.
void normalize_state(Json& state);

/// flock() on "<state>.lock", held for the object's lifetime.
class StateLock {
public:
    StateLock(const std::filesystem::path& state_path, bool exclusive);
    ~StateLock();
    StateLock(const StateLock&) = delete;
    StateLock& operator=(const StateLock&) = delete;

private:
    int fd_ = -1;
};

/// Reads and normalizes the state (caller holds a lock). A missing or empty file gives the
/// default scenario (variant from $FAKE_KUBECTL_SCENARIO). Throws std::runtime_error.
[[nodiscard]] Json load_state(const std::filesystem::path& path);
/// Writes atomically: a temporary file beside it, then rename(). Throws std::runtime_error.
void save_state(const std::filesystem::path& path, const Json& state);

[[nodiscard]] std::string iso_time(std::chrono::system_clock::time_point t);
[[nodiscard]] std::string now_iso();

/// The pod-template-hash label of a template with these containers (stable, 10 characters).
[[nodiscard]] std::string pod_template_hash(const Json& containers);

/// "ghcr.io/org/app:abc" -> "abc"; "" when the image has no tag.
[[nodiscard]] std::string image_tag(std::string_view image);
/// A stable pseudo-random token of `length` characters from Kubernetes' safe alphabet.
[[nodiscard]] std::string safe_token(std::string_view seed, std::size_t length);
/// A stable UUID-shaped id derived from `seed`.
[[nodiscard]] std::string stable_uid(std::string_view seed);

/// The deployment's ReplicaSet with the highest revision (nullptr when it has none).
[[nodiscard]] const Json* current_rs(const Json& deployment);
/// The ReplicaSet with the second-highest revision (nullptr when there is none).
[[nodiscard]] const Json* previous_rs(const Json& deployment);
[[nodiscard]] int max_revision(const Json& deployment);

/// The failure mode of a ReplicaSet's images per state["bad_images"] ("" when healthy).
[[nodiscard]] std::string bad_mode(const Json& state, const Json& replicaset);
/// True when the named deployment's current image is listed in bad_images.
[[nodiscard]] bool deployment_is_bad(const Json& state, std::string_view deployment);

}  // namespace rollbot::fakes
