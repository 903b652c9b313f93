// The configuration schema of design §4 (plus `console`), as tables of fields, and the rules that
// tie several keys together.
#include "config/sections.hpp"

#include "config/checks.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace rollbot::config::detail {
namespace {

using core::Duration;
using core::Principals;
// clang-tidy 14 does not see uses of a literal operator (misc-unused-using-decls).
using std::chrono_literals::operator""s;  // NOLINT(misc-unused-using-decls)

template <class T, class V>
Field<T> text_field(std::string_view name, V T::*member, Check check) {
    return field(name, member, text(std::move(check)));
}

// https:// (or http:// on loopback), stored with a trailing `/` so method names can be appended.
ValueParser<std::string> slack_api_url() {
    return [](Context& ctx, const Value& v) -> std::optional<std::string> {
        auto s = text(check_slack_api_url)(ctx, v);
        return s ? std::optional(with_trailing_slash(std::move(*s))) : std::nullopt;
    };
}

const Schema<Principals>& principals_schema() {
    static const Schema<Principals> kSchema{
        field("users", &Principals::users, list_of(user_id())),
        field("usergroups", &Principals::usergroups, list_of(usergroup_id())),
    };
    return kSchema;
}

const Schema<core::SlackSettings>& slack_schema() {
    using S = core::SlackSettings;
    static const Schema<S> kSchema{
        field("api_url", &S::api_url, slack_api_url()),
        required(field("incidents_channel", &S::incidents_channel, channel_id()),
                 "commands are accepted only in this channel (its C… id)"),
        field("ca_file", &S::ca_file, path(PathRule::ReadableFile)),
        field("liveness_timeout", &S::liveness_timeout, duration(false)),
    };
    return kSchema;
}

const Schema<core::AccessSettings>& access_schema() {
    static const Schema<core::AccessSettings> kSchema{
        section("operators", &core::AccessSettings::operators, principals_schema()),
    };
    return kSchema;
}

const Schema<core::ApprovalPolicy>& policy_schema() {
    using P = core::ApprovalPolicy;
    static const Schema<P> kSchema{
        section("approvers", &P::approvers, principals_schema()),
        field("required", &P::required, integer_at_least(1)),
        field("required_groups", &P::required_groups, list_of(usergroup_id())),
        field("allow_self_approval", &P::allow_self_approval, boolean()),
        text_field("approve_reaction", &P::approve_reaction, check_emoji_name),
        text_field("reject_reaction", &P::reject_reaction, check_emoji_name),
        field("timeout", &P::timeout, duration(false)),
    };
    return kSchema;
}

const Schema<core::DeploymentSettings>& deployment_schema() {
    using D = core::DeploymentSettings;
    static const Schema<D> kSchema{
        text_field("container", &D::container, check_dns_label),
        text_field("image", &D::image, check_image_repository),
        field("rollout_timeout", &D::rollout_timeout, duration(false)),
    };
    return kSchema;
}

// The one rule a policy's keys cannot check alone: that somebody can actually approve.
void check_policy(Context& ctx, const Value& v, const core::ApprovalPolicy& policy) {
    if (policy.approvers.empty()) {
        ctx.report(line_of_key(v, "approvers"),
                   join(v.path, "approvers"),
                   "no approvers: nobody could ever approve (list users or usergroups)");
    }
    const auto groups_entry = find_entry(v, "required_groups");
    const auto& listed = policy.approvers.usergroups;
    for (std::size_t i = 0; i < policy.required_groups.size(); ++i) {
        const auto& group = policy.required_groups[i];
        if (std::find(listed.begin(), listed.end(), group) == listed.end()) {
            const int line =
                groups_entry ? line_of(groups_entry->node[i], groups_entry->line) : v.line;
            ctx.report(
                line,
                join(v.path, "required_groups") + "[" + std::to_string(i) + "]",
                quote_value(group.str()) + " is not in " + join(v.path, "approvers.usergroups"));
        }
    }
    const auto required = static_cast<std::size_t>(policy.required);
    if (required < policy.required_groups.size()) {
        ctx.report(line_of_key(v, "required"),
                   join(v.path, "required"),
                   "is " + std::to_string(required) + " but " +
                       std::to_string(policy.required_groups.size()) +
                       " required_groups each need their own approver: raise it to " +
                       std::to_string(policy.required_groups.size()));
    }
    if (policy.approvers.usergroups.empty() && !policy.approvers.users.empty() &&
        required > policy.approvers.users.size()) {
        const std::size_t users = policy.approvers.users.size();
        ctx.report(line_of_key(v, "required"),
                   join(v.path, "required"),
                   "needs " + std::to_string(required) + " distinct approvers but approvers " +
                       "lists only " + std::to_string(users) + (users == 1 ? " user" : " users"));
    }
    if (policy.approve_reaction == policy.reject_reaction) {
        const bool reject_set = find_entry(v, "reject_reaction").has_value();
        const std::string_view key = reject_set ? "reject_reaction" : "approve_reaction";
        ctx.report(line_of_key(v, key),
                   join(v.path, key),
                   "approve_reaction and reject_reaction must differ");
    }
}

constexpr std::array kKinds{core::ActionKind::Full,
                            core::ActionKind::Backend,
                            core::ActionKind::Frontend,
                            core::ActionKind::Db,
                            core::ActionKind::Sha};

// One policy per kind, named as commands name them (core::to_string).
void read_approvals(Context& ctx, const Value& v, core::Settings& out) {
    static const std::vector<std::string_view> kNames = [] {
        std::vector<std::string_view> n;
        n.reserve(kKinds.size());
        for (auto kind : kKinds) {
            n.push_back(core::to_string(kind));
        }
        return n;
    }();
    for_each_entry(ctx, v, &kNames, [&](std::string_view key, const Value& entry) {
        core::ApprovalPolicy policy;
        read_map(ctx, entry, policy_schema(), policy);
        if (entry.node.IsNull() || entry.node.IsMap()) {  // else reported: the rest is noise
            check_policy(ctx, entry, policy);
        }
        const auto* kind = std::find_if(
            kKinds.begin(), kKinds.end(), [&](auto k) { return core::to_string(k) == key; });
        out.approvals[*kind] = std::move(policy);
    });
    if (!out.approvals.contains(core::ActionKind::Db)) {
        ctx.report(v.line,
                   join(v.path, "db"),
                   "missing: DB downgrades need DBA or Engineering Lead approval (runbook)");
    }
}

// Design §4's defaults: both deployments, named like their containers.
core::DeploymentSettings default_deployment(std::string_view name) {
    return {std::string(name),
            "ghcr.io/your-org/preskool-" + std::string(name),
            name == "frontend" ? Duration{60s} : Duration{120s}};
}

void read_deployments(Context& ctx, const Value& v, core::KubernetesSettings& out) {
    static const std::vector<std::string_view> kNames{"backend", "frontend"};
    out.deployments.clear();
    for_each_entry(ctx, v, &kNames, [&](std::string_view key, const Value& entry) {
        auto deployment = default_deployment(key);
        read_map(ctx, entry, deployment_schema(), deployment);
        out.deployments[std::string(key)] = std::move(deployment);
    });
    for (std::string_view name : kNames) {
        if (!out.deployments.contains(std::string(name))) {
            ctx.report(v.line,
                       join(v.path, name),
                       "missing: the runbook rolls back both backend and frontend");
        }
    }
}

const Schema<core::KubernetesSettings>& kubernetes_schema() {
    using K = core::KubernetesSettings;
    static const Schema<K> kSchema{
        field("kubectl", &K::kubectl, path(PathRule::Program)),
        field("kubeconfig", &K::kubeconfig, path(PathRule::Optional)),
        field("context", &K::context, text()),
        text_field("namespace", &K::namespace_name, check_dns_label),
        {"deployments", read_deployments},
    };
    return kSchema;
}

const Schema<core::MigrationSettings>& migrations_schema() {
    using M = core::MigrationSettings;
    static const Schema<M> kSchema{
        text_field("exec_target", &M::exec_target, check_exec_target),
        text_field("container", &M::container, check_dns_label),
        field("alembic", &M::alembic, list_of(non_empty_text(), true)),
    };
    return kSchema;
}

const Schema<core::ScriptSettings>& script_schema() {
    using S = core::ScriptSettings;
    static const Schema<S> kSchema{
        field("path", &S::path, path(PathRule::Required)),
        field("workdir", &S::workdir, path(PathRule::Required)),
        field("timeout", &S::timeout, duration(false)),
    };
    return kSchema;
}

const Schema<core::VerifySettings>& verify_schema() {
    using V = core::VerifySettings;
    static const Schema<V> kSchema{
        text_field("health_url", &V::health_url, check_http_url),
        text_field("prometheus_url", &V::prometheus_url, check_http_url),
        field("error_rate_query", &V::error_rate_query, non_empty_text()),
        field("p95_latency_query", &V::p95_latency_query, non_empty_text()),
        field("max_error_rate", &V::max_error_rate, fraction()),
        field("max_p95_latency", &V::max_p95_latency, duration(false)),
        field("watch", &V::watch, duration(true)),
    };
    return kSchema;
}

const Schema<core::TargetSettings>& targets_schema() {
    using T = core::TargetSettings;
    static const Schema<T> kSchema{
        field("decision", &T::decision, duration(false)),
        field("script", &T::script, duration(false)),
        field("pods_healthy", &T::pods_healthy, duration(false)),
        field("health_200", &T::health_200, duration(false)),
        field("total", &T::total, duration(false)),
    };
    return kSchema;
}

// state.url: a Secret; a complaint never quotes the value, which may hold a password.
ValueParser<core::Secret> state_url() {
    return [](Context& ctx, const Value& v) -> std::optional<core::Secret> {
        auto s = text()(ctx, v);
        if (!s) {
            return std::nullopt;
        }
        if (s->empty()) {
            return core::Secret{};
        }
        if (auto complaint = check_state_url(*s, false)) {
            ctx.report(v.line, v.path, "the URL " + *complaint);
            return std::nullopt;
        }
        return core::Secret{std::move(*s)};
    };
}

// state.lease: renewed every third of it, with a margin for the round trip and the clocks, so
// a few seconds at least; more than a few minutes would leave the bot leaderless that long.
ValueParser<Duration> lease_duration() {
    return [](Context& ctx, const Value& v) -> std::optional<Duration> {
        auto d = duration(false)(ctx, v);
        if (d && (*d < 3s || *d > 300s)) {
            ctx.report(v.line, v.path, "must be between 3s and 5m (the default is 15s)");
            return std::nullopt;
        }
        return d;
    };
}

const Schema<core::StateSettings>& state_schema() {
    using S = core::StateSettings;
    static const Schema<S> kSchema{
        field("path", &S::path, path(PathRule::Required)),
        field("url", &S::url, state_url()),
        field("lease", &S::lease, lease_duration()),
    };
    return kSchema;
}

const Schema<core::ShutdownSettings>& shutdown_schema() {
    using T = core::ShutdownSettings;
    static const Schema<T> kSchema{
        field("grace", &T::grace, duration(true)),
        field("outbox_flush", &T::outbox_flush, duration(true)),
    };
    return kSchema;
}

void read_listen(Context& ctx, const Value& v, core::HttpSettings& out) {
    auto s = text()(ctx, v);
    if (!s) {
        return;
    }
    if (s->empty()) {
        out.enabled = false;  // no endpoint at all
        return;
    }
    if (auto address = parse_listen_address(*s)) {
        out = *address;
        return;
    }
    ctx.report(v.line,
               v.path,
               quote_value(*s) +
                   " is not host:port (IPv4, [IPv6] or localhost, port 0-65535; e.g. "
                   "127.0.0.1:8080), or \"\" for no endpoint");
}

const Schema<core::ConsoleSettings>& console_schema() {
    using C = core::ConsoleSettings;
    static const Schema<C> kSchema{
        field("user", &C::user, user_id()),
        field("users", &C::users, map_of(user_id(), non_empty_text())),
        field("usergroups", &C::usergroups, map_of(usergroup_id(), list_of(user_id()))),
        field("bots", &C::bots, list_of(user_id())),
    };
    return kSchema;
}

template <class T>
Schema<T> one_key(Field<T> f) {
    return Schema<T>{std::move(f)};
}

const Schema<core::Settings>& settings_schema() {
    using S = core::Settings;
    static const auto kHttp = one_key(Field<core::HttpSettings>{"listen", read_listen});
    static const auto kTemplates =
        one_key(field("dir", &core::TemplateSettings::dir, path(PathRule::Directory)));
    static const Schema<S> kSchema{
        section("slack", &S::slack, slack_schema()),
        section("access", &S::access, access_schema()),
        {"approvals", read_approvals, Field<S>::WhenAbsent::Visit},
        section("kubernetes", &S::kubernetes, kubernetes_schema()),
        section("migrations", &S::migrations, migrations_schema()),
        section("script", &S::script, script_schema()),
        section("verify", &S::verify, verify_schema()),
        section("targets", &S::targets, targets_schema()),
        section("state", &S::state, state_schema()),
        section("http", &S::http, kHttp),
        section("shutdown", &S::shutdown, shutdown_schema()),
        section("templates", &S::templates, kTemplates),
        section("console", &S::console, console_schema()),
    };
    return kSchema;
}

}  // namespace

core::Settings default_settings(const std::filesystem::path& base_dir) {
    core::Settings settings;
    // Omitting a key means the same as writing its default: relative to the config file too.
    settings.script.path = resolve_path(base_dir, settings.script.path);
    settings.script.workdir = resolve_path(base_dir, settings.script.workdir);
    for (std::string_view name : {"backend", "frontend"}) {
        settings.kubernetes.deployments[std::string(name)] = default_deployment(name);
    }
    return settings;
}

void read_settings(Context& ctx, const Value& root, core::Settings& out) {
    if (!root.node.IsNull() && !root.node.IsMap()) {
        report_kind(ctx,
                    Value{root.node, root.path, line_of(root.node, root.line)},
                    "a map of sections (slack, approvals, kubernetes, …)");
    } else {
        read_map(ctx, root, settings_schema(), out);
    }
    report_token_keys(ctx, root);
}

}  // namespace rollbot::config::detail
