#include "bot/reporter.hpp"
#include "bot/text.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>

namespace rollbot::core {
namespace {

using templates::Data;

// The SQL preview goes inside a ``` block, without the blank lines alembic ends it with.
std::string unfenced(std::string text) {
    text = defuse_code_fences(std::move(text));
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
        text.pop_back();
    }
    return text;
}

// Long SQL stays readable on the card; the whole text is in the step output and the audit.
constexpr std::size_t kMaxSqlChars = 2500;

std::string principals(const Principals& p) {
    std::string out;
    for (const auto& u : p.users) {
        out += (out.empty() ? "" : ", ") + mention(u);
    }
    for (const auto& g : p.usergroups) {
        out += (out.empty() ? "" : ", ") + fmt::format("<!subteam^{}>", g.value);
    }
    return out.empty() ? std::string("nobody is configured") : out;
}

std::string_view state_icon(ApprovalState state) {
    switch (state) {
        case ApprovalState::Pending:
            return "⏳";
        case ApprovalState::Approved:
        case ApprovalState::Executing:
            return "✅";
        case ApprovalState::Rejected:
            return "❌";
        case ApprovalState::Expired:
            return "⌛";
        case ApprovalState::Cancelled:
            return "🚫";
        case ApprovalState::Superseded:
            return "♻️";
    }
    return "•";
}

std::string utc_time(std::chrono::system_clock::time_point t) {
    return fmt::format("{:%H:%M:%S} UTC", std::chrono::floor<std::chrono::seconds>(t));
}

}  // namespace

std::string Reporter::approval_body(const RequestId& id,
                                    const UserId& requester,
                                    const std::optional<std::string>& reason,
                                    const Plan& plan,
                                    const ApprovalPolicy& policy) const {
    Data d = Data::object();
    d.set("id", id.value);
    d.set("request", describe(plan.request));
    d.set("requester", mention(requester));
    d.set("reason", reason.value_or("not given"));
    d.set("plan_id", plan.id);
    Data steps = Data::list();
    for (std::size_t i = 0; i < plan.steps.size(); ++i) {
        Data step = Data::object();
        step.set("number", std::to_string(i + 1));
        step.set("command", display_command(plan.steps[i]));
        steps.push_back(step);
    }
    d.set("steps", steps);
    if (const auto& db = plan.before.database) {
        Data database = Data::object();
        database.set("revision", db->revision.empty() ? std::string("none") : db->revision);
        database.set("target", db->target.value_or("unknown"));
        if (!db->downgrades.empty()) {
            database.set("count", std::to_string(db->downgrades.size()));
            std::string moves;
            for (const auto& m : db->downgrades) {
                moves += (moves.empty() ? "" : "; ") + m;
            }
            database.set("moves", moves);
        }
        d.set("database", database);
        if (db->preview_error.empty() && !db->sql.empty()) {
            std::string sql = unfenced(db->sql);
            if (sql.size() > kMaxSqlChars) {
                sql = sql.substr(0, kMaxSqlChars) + "\n… (cut here; the full SQL is " +
                      std::to_string(db->sql.size()) + " characters)";
            }
            d.set("sql", sql);
        } else if (!db->preview_error.empty()) {
            d.set("preview_error", db->preview_error);
        }
        if (!db->destructive.empty()) {
            Data statements = Data::list();
            for (const auto& s : db->destructive) {
                statements.push_back(Data{s});
            }
            Data destructive = Data::object();
            destructive.set("statements", statements);
            d.set("destructive", destructive);
        }
    }
    d.set("approvers", principals(policy.approvers));
    if (!policy.required_groups.empty()) {
        d.set("required_groups", principals(Principals{{}, policy.required_groups}));
    }
    d.set("required", std::to_string(policy.required));
    d.set("self", policy.allow_self_approval);
    d.set("approve", policy.approve_reaction);
    d.set("reject", policy.reject_reaction);
    return renderer_.render("approval", d);
}

std::string Reporter::approval_status(const Approval& approval, std::string_view note) const {
    const auto& s = approval.snapshot();
    Data d = Data::object();
    d.set("icon", std::string(state_icon(s.state)));
    std::string state{to_string(s.state)};
    state[0] = static_cast<char>(state[0] - 'a' + 'A');
    d.set("state", state);
    if (s.decided_by) {
        d.set("by", mention(*s.decided_by));
    }
    std::string approved;
    for (const auto& u : approval.approvers()) {
        approved += (approved.empty() ? "" : ", ") + mention(u);
    }
    if (!approved.empty()) {
        d.set("approved_by", approved);
    }
    if (approval.is_open()) {
        std::string needed;
        for (const auto& n : approval.still_needed()) {
            needed += (needed.empty() ? "" : "; ") + n;
        }
        if (!needed.empty()) {
            d.set("needed", needed);
        }
        if (approval.can_expire()) {
            d.set("expires", utc_time(s.expires_at));
        }
    }
    if (!note.empty()) {  // rendered raw: mentions in it must work; callers escape what they add
        d.set("note", std::string(note));
    }
    return renderer_.render("approval_status", d);
}

namespace {

std::string age_text(std::string_view created, std::chrono::system_clock::time_point now) {
    const auto at = parse_utc(created);
    return at ? format_age(*at, now) : std::string("age unknown");
}

}  // namespace

std::string Reporter::history(const std::vector<DeploymentStatus>& deployments,
                              std::chrono::system_clock::time_point now) const {
    Data d = Data::object();
    Data list = Data::list();
    for (const auto& dep : deployments) {
        Data item = Data::object();
        item.set("name", dep.name);
        if (!dep.state) {
            item.set("error", dep.error);
        } else if (!dep.state->history_known) {
            item.set("error", std::string("kubectl rollout history failed"));
        }
        Data revisions = Data::list();
        if (dep.state) {
            for (auto it = dep.state->history.rbegin(); it != dep.state->history.rend(); ++it) {
                Data rev = Data::object();
                const bool current = it->revision == dep.state->revision;
                rev.set("marker", std::string(current ? "▶ now" : "•"));
                rev.set("revision", fmt::format("revision {}", it->revision));
                rev.set("tag", it->tag.empty() ? std::string("?") : it->tag);
                rev.set("age", age_text(it->created, now));
                rev.set(
                    "cause",
                    it->change_cause.empty() ? std::string("no change-cause") : it->change_cause);
                revisions.push_back(rev);
            }
        }
        item.set("revisions", revisions);
        list.push_back(item);
    }
    d.set("deployments", list);
    return renderer_.render("history", d);
}

std::string Reporter::timeline(const RequestId& id,
                               std::string_view what,
                               const std::vector<AuditRecord>& records) const {
    Data d = Data::object();
    d.set("id", id.value);
    if (!what.empty()) {
        d.set("what", std::string(what));
    }
    d.set("count", std::to_string(records.size()));
    Data list = Data::list();
    for (const auto& r : records) {
        Data item = Data::object();
        item.set("time", utc_time(r.at));
        item.set("kind", r.kind);
        if (!r.actor.empty() && r.actor != "rollbot") {
            item.set("actor", mention(UserId{r.actor}));
        }
        item.set("detail", r.detail);
        list.push_back(item);
    }
    d.set("records", list);
    return renderer_.render("log", d);
}

}  // namespace rollbot::core
