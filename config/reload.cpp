#include "config/reload.hpp"

namespace rollbot::config {

namespace {

// Start-up-only keys: read once to build the transport, the store, the HTTP endpoint, the
// renderer and the child environment.
template <class F>
void each_restart_key(const core::Settings& a, const core::Settings& b, F&& changed) {
    if (a.slack.api_url != b.slack.api_url) {
        changed("slack.api_url");
    }
    if (a.slack.ca_file != b.slack.ca_file) {
        changed("slack.ca_file");
    }
    if (a.slack.liveness_timeout != b.slack.liveness_timeout) {
        changed("slack.liveness_timeout");
    }
    if (a.kubernetes.kubeconfig != b.kubernetes.kubeconfig) {
        changed("kubernetes.kubeconfig");
    }
    if (a.state.path != b.state.path) {
        changed("state.path");
    }
    if (a.state.url != b.state.url) {
        changed("state.url (or ROLLBOT_STATE_URL_FILE)");
    }
    if (a.state.lease != b.state.lease) {
        changed("state.lease");
    }
    if (a.http != b.http) {
        changed("http.listen");
    }
    if (a.templates != b.templates) {
        changed("templates.dir");
    }
    if (a.console != b.console) {
        changed("console");
    }
    if (a.tokens != b.tokens) {
        changed("tokens (SLACK_APP_TOKEN / SLACK_BOT_TOKEN)");
    }
}

// The kubernetes section without the start-up-only kubeconfig.
core::KubernetesSettings live_part(core::KubernetesSettings k) {
    k.kubeconfig.clear();
    return k;
}

}  // namespace

SettingsChange diff_settings(const core::Settings& running, const core::Settings& fresh) {
    SettingsChange change;
    const auto live = [&](bool differs, const char* name) {
        if (differs) {
            change.applied.emplace_back(name);
        }
    };
    live(running.slack.incidents_channel != fresh.slack.incidents_channel,
         "slack.incidents_channel");
    live(running.access != fresh.access, "access");
    live(running.approvals != fresh.approvals, "approvals");
    live(live_part(running.kubernetes) != live_part(fresh.kubernetes), "kubernetes");
    live(running.migrations != fresh.migrations, "migrations");
    live(running.script != fresh.script, "script");
    live(running.verify != fresh.verify, "verify");
    live(running.targets != fresh.targets, "targets");
    live(running.shutdown != fresh.shutdown, "shutdown");
    each_restart_key(
        running, fresh, [&](const char* key) { change.need_restart.emplace_back(key); });
    return change;
}

void apply_live(core::Settings& running, const core::Settings& fresh) {
    // Only what differs is assigned: an unchanged section's containers stay where they are.
    if (running.slack.incidents_channel != fresh.slack.incidents_channel) {
        running.slack.incidents_channel = fresh.slack.incidents_channel;
    }
    if (running.access != fresh.access) {
        running.access = fresh.access;
    }
    if (running.approvals != fresh.approvals) {
        running.approvals = fresh.approvals;
    }
    if (live_part(running.kubernetes) != live_part(fresh.kubernetes)) {
        const std::string kubeconfig = running.kubernetes.kubeconfig;
        running.kubernetes = fresh.kubernetes;
        running.kubernetes.kubeconfig = kubeconfig;
    }
    if (running.migrations != fresh.migrations) {
        running.migrations = fresh.migrations;
    }
    if (running.script != fresh.script) {
        running.script = fresh.script;
    }
    if (running.verify != fresh.verify) {
        running.verify = fresh.verify;
    }
    if (running.targets != fresh.targets) {
        running.targets = fresh.targets;
    }
    if (running.shutdown != fresh.shutdown) {
        running.shutdown = fresh.shutdown;
    }
}

}  // namespace rollbot::config
