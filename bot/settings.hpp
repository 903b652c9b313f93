#pragma once

#include "bot/ids.hpp"
#include "bot/secret.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rollbot::core {

using std::chrono_literals::operator""s;
using std::chrono_literals::operator""min;
using Duration = std::chrono::milliseconds;

/// The five runbook rollback types, as approval policies and locks name them.
enum class ActionKind { Full, Backend, Frontend, Db, Sha };

[[nodiscard]] std::string_view to_string(ActionKind kind);

/// People named directly or through Slack usergroups.
struct Principals {
    std::vector<UserId> users;
    std::vector<UsergroupId> usergroups;

    [[nodiscard]] bool empty() const { return users.empty() && usergroups.empty(); }
    bool operator==(const Principals&) const = default;
};

struct SlackSettings {
    std::string api_url = "https://slack.com/api/";
    ChannelId incidents_channel;
    std::string ca_file;
    Duration liveness_timeout = 30s;  // no frame or pong this long: the socket is dead
    bool operator==(const SlackSettings&) const = default;
};

struct AccessSettings {
    Principals operators;  // both lists empty: anyone in the incidents channel
    bool operator==(const AccessSettings&) const = default;
};

struct ApprovalPolicy {
    Principals approvers;
    int required = 1;
    std::vector<UsergroupId> required_groups;
    bool allow_self_approval = false;
    std::string approve_reaction = "white_check_mark";
    std::string reject_reaction = "x";
    Duration timeout = 15min;
    bool operator==(const ApprovalPolicy&) const = default;
};

struct DeploymentSettings {
    std::string container;
    std::string image;  // repository without tag: ghcr.io/your-org/preskool-backend
    Duration rollout_timeout = 120s;
    bool operator==(const DeploymentSettings&) const = default;
};

struct KubernetesSettings {
    std::string kubectl = "kubectl";
    std::string kubeconfig;
    std::string context;
    std::string namespace_name = "preskool";
    std::map<std::string, DeploymentSettings> deployments;  // "backend", "frontend"
    bool operator==(const KubernetesSettings&) const = default;
};

struct MigrationSettings {
    std::string exec_target = "deployment/backend";
    std::string container = "backend";
    std::vector<std::string> alembic{"alembic"};
    bool operator==(const MigrationSettings&) const = default;
};

struct ScriptSettings {
    std::string path = "scripts/rollback.sh";
    std::string workdir = ".";
    Duration timeout = 10min;
    bool operator==(const ScriptSettings&) const = default;
};

struct VerifySettings {
    std::string health_url = "https://erp.preskool.com/api/v1/health";
    std::string prometheus_url = "http://prometheus:9090";
    std::string error_rate_query = "sum(rate(http_req_failed[5m])) / sum(rate(http_reqs[5m]))";
    std::string p95_latency_query =
        "histogram_quantile(0.95, sum by (le) (rate(http_req_duration_seconds_bucket[5m])))";
    double max_error_rate = 0.10;
    Duration max_p95_latency = 2s;
    Duration watch = 10min;  // zero: no follow-up summaries
    bool operator==(const VerifySettings&) const = default;
};

/// The runbook's time-to-rollback targets.
struct TargetSettings {
    Duration decision = 10min;
    Duration script = 2min;
    Duration pods_healthy = 5min;
    Duration health_200 = 8min;
    Duration total = 15min;
    bool operator==(const TargetSettings&) const = default;
};

struct StateSettings {
    std::string path = "/var/lib/rollbot/state.db";  // SQLite, when url is empty
    /// A libpq URI (postgresql://…): shared state for several replicas. Its password, if any,
    /// only from ROLLBOT_STATE_URL_FILE or libpq's own environment and files.
    Secret url;
    /// Replicated mode: a leader that has not renewed for this long is replaced.
    Duration lease = std::chrono::seconds{15};
    bool operator==(const StateSettings&) const = default;
};

struct HttpSettings {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;  // 0: any free port (logged at start)
    bool enabled = true;        // `listen: ""` turns the endpoint off
    bool operator==(const HttpSettings&) const = default;
};

/// SIGTERM/SIGINT: how long running steps may go on, then how long undelivered messages are
/// retried before the process exits (what is left is delivered after the restart).
struct ShutdownSettings {
    Duration grace = 20s;
    Duration outbox_flush = 5s;
    bool operator==(const ShutdownSettings&) const = default;
};

struct TemplateSettings {
    std::string dir;  // empty: the built-in templates
    bool operator==(const TemplateSettings&) const = default;
};

/// Only the console adapter reads this: who is typing, and a small user directory for approvals.
struct ConsoleSettings {
    UserId user{"U0CONSOLE"};
    std::map<UserId, std::string> users;  // id -> display name
    std::map<UsergroupId, std::vector<UserId>> usergroups;
    std::vector<UserId> bots;
    bool operator==(const ConsoleSettings&) const = default;
};

/// Tokens come only from the environment (or files named there), never from the config file.
struct Tokens {
    Secret app_token;  // xapp-…: apps.connections.open
    Secret bot_token;  // xoxb-…: Web API
    bool operator==(const Tokens&) const = default;
};

/// Every configuration key of design §4, typed and validated.
struct Settings {
    std::string source;  // the config file it came from, for messages
    SlackSettings slack;
    AccessSettings access;
    std::map<ActionKind, ApprovalPolicy> approvals;  // kinds without a policy run at once
    KubernetesSettings kubernetes;
    MigrationSettings migrations;
    ScriptSettings script;
    VerifySettings verify;
    TargetSettings targets;
    StateSettings state;
    HttpSettings http;
    ShutdownSettings shutdown;
    TemplateSettings templates;
    ConsoleSettings console;
    Tokens tokens;

    [[nodiscard]] const ApprovalPolicy* approval_for(ActionKind kind) const {
        auto it = approvals.find(kind);
        return it == approvals.end() ? nullptr : &it->second;
    }
    bool operator==(const Settings&) const = default;
};

}  // namespace rollbot::core
