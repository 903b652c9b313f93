#include "bot/reporter.hpp"

#include "bot/text.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <array>

namespace rollbot::core {
namespace {

using templates::Data;

std::string_view step_icon(StepOutcome outcome) {
    switch (outcome) {
        case StepOutcome::Succeeded:
            return "✅";
        case StepOutcome::NoChange:
            return "⚪";
        case StepOutcome::Cancelled:
            return "⏹";
        case StepOutcome::Failed:
        case StepOutcome::TimedOut:
            return "🔴";
    }
    return "•";
}

// The report's "Next Step" after every step succeeded: the verdict decides.
std::string executed_next_step(const Run& run) {
    if (run.restored()) {
        return "Root cause investigation";
    }
    std::string why;
    if (run.verdict) {
        for (const auto& reason : run.verdict->reasons) {
            why += (why.empty() ? "" : "; ") + reason;
        }
    }
    return fmt::format(
        "Still investigating ({}): see the verification in the thread, /rollback verify, "
        "/rollback advise",
        why.empty() ? "not verified" : why);
}

// The report's "Next Step" after a step failed, timed out or was stopped.
std::string failed_next_step(const Run& run) {
    if (!run.rollout_failure.empty()) {
        return "The revision rolled back to fails as well: pick an older known-good SHA from "
               "/rollback history and run /rollback <deployment> <sha>";
    }
    if (run.stopped_by_shutdown) {
        return "rollbot was stopping and ended this step when its grace period ran out. Check "
               "/rollback status (the steps that ran are above) and run the command again once "
               "rollbot is back";
    }
    return run.state == RunState::Cancelled
               ? "Check /rollback status before trying again"
               : "Follow the runbook by hand (Option 2: manual K8s) and check /rollback status";
}

// What a dry run would have run, step by step.
Data dry_run_steps(const Run& run) {
    Data steps = Data::list();
    for (std::size_t i = 0; i < run.results.size(); ++i) {
        Data s = Data::object();
        s.set("number", std::to_string(i + 1));
        s.set("command", display_command(run.plan.steps.at(i)));
        s.set("summary", run.results[i].summary);
        steps.push_back(s);
    }
    return steps;
}

Duration since(const PhaseMarks& marks) {
    const auto end = marks.finished.value_or(marks.received);
    return std::chrono::duration_cast<Duration>(end - marks.received);
}

}  // namespace

std::string mention(const UserId& user) {
    return is_user_id(user.value) ? fmt::format("<@{}>", user.value)
                                  : templates::escape_mrkdwn(user.value);
}

std::string format_elapsed(Duration elapsed) {
    const double minutes = std::chrono::duration<double, std::ratio<60>>(elapsed).count();
    return minutes < 10.0 ? fmt::format("{:.1f} minutes", minutes)
                          : fmt::format("{:.0f} minutes", minutes);
}

std::string format_duration(Duration d) {
    const double secs = std::chrono::duration<double>(d).count();
    if (secs < 60.0) {
        return fmt::format("{:.1f} s", secs);
    }
    const auto whole = std::chrono::duration_cast<std::chrono::seconds>(d).count();
    return fmt::format("{}m {:02}s", whole / 60, whole % 60);
}

std::string Reporter::tags(const ClusterSnapshot& snapshot, const std::vector<std::string>& names) {
    std::vector<std::pair<std::string, std::string>> found;
    for (const auto& name : names) {
        auto it = snapshot.deployments.find(name);
        found.emplace_back(name, it == snapshot.deployments.end() ? "unknown" : it->second.tag);
    }
    if (found.empty()) {
        return "n/a";
    }
    const bool same = std::all_of(found.begin(), found.end(), [&](const auto& f) {
        return f.second == found.front().second;
    });
    if (same && found.front().second != "unknown") {
        return found.front().second;
    }
    std::string out;
    for (const auto& [name, tag] : found) {
        out += out.empty() ? "" : ", ";
        out += name;
        out += ' ';
        out += tag;
    }
    return out;
}

Reporter::Reporter(const templates::Renderer& renderer, const Settings& settings)
    : renderer_(renderer), settings_(settings) {}

Data Reporter::common(const Run& run) {
    Data d = Data::object();
    const auto affected = affected_deployments(run.plan.request.action);
    d.set("id", run.id.value);
    d.set("plan_id", run.plan.id);
    d.set("request", describe(run.plan.request));
    d.set("reason", run.reason.value_or("not given"));
    d.set("on_call", mention(run.requester));
    d.set("requester", mention(run.requester));
    d.set("from", tags(run.plan.before, affected));
    d.set("to", tags(run.after, affected));
    d.set("current", affected.empty() ? std::string("n/a") : tags(run.after, affected));
    if (const auto& db = run.plan.before.database) {  // a DB downgrade: alembic revisions
        d.set("from", "revision " + db->revision);
        d.set("to", "revision " + db->target.value_or("unknown"));
        d.set("current", "database at revision " + db->revision);
    }
    d.set("elapsed", format_elapsed(since(run.marks)));
    d.set("dry_run", run.plan.request.dry_run);
    return d;
}

std::string Reporter::request_card(const Run& run, std::string_view status) const {
    Data d = common(run);
    if (run.plan.before.database) {
        d.set("current", "database at revision " + run.plan.before.database->revision);
    } else {
        d.set("current", tags(run.plan.before, affected_deployments(run.plan.request.action)));
    }
    Data steps = Data::list();
    for (std::size_t i = 0; i < run.plan.steps.size(); ++i) {
        Data s = Data::object();
        s.set("number", std::to_string(i + 1));
        s.set("command", display_command(run.plan.steps[i]));
        steps.push_back(s);
    }
    d.set("steps", steps);
    d.set("status", std::string(status));
    d.set("status_icon",
          run.state == RunState::Running     ? "⏳"
          : run.state == RunState::Succeeded ? "⏪"
          : run.state == RunState::DryRun    ? "🧪"
          : run.state == RunState::NoChange  ? "⚪"
                                             : "🔴");
    return renderer_.render("request", d);
}

std::string Reporter::step_line(const Run& run, std::size_t index) const {
    const auto& result = run.results.at(index);
    Data d = Data::object();
    d.set("icon", std::string(step_icon(result.outcome)));
    d.set("number", std::to_string(index + 1));
    d.set("count", std::to_string(run.plan.steps.size()));
    d.set("command", display_command(run.plan.steps.at(index)));
    d.set("summary", result.summary);
    d.set("duration", format_duration(result.duration));
    return renderer_.render("step", d);
}

std::string Reporter::final_status(const Run& run) {
    const auto elapsed = format_duration(since(run.marks));
    switch (run.state) {
        case RunState::Succeeded:
            return fmt::format(
                "{} in {}", run.restored() ? "✅ done" : "⚠️ done, not healthy", elapsed);
        case RunState::DryRun:
            return "🧪 dry run finished: nothing changed";
        case RunState::NoChange:
            return "⚪ nothing changed";
        case RunState::Failed:
            return fmt::format("🔴 failed at step {}/{}", run.results.size(), run.plan.steps.size());
        case RunState::Cancelled:
            return "⏹ cancelled";
        case RunState::Interrupted:
            return "⚠️ interrupted";
        case RunState::Running:
            break;
    }
    return "running";
}

std::string Reporter::final_report(const Run& run) const {
    Data d = common(run);
    if (run.state == RunState::Succeeded) {
        d.set("restored", run.restored());
        d.set("next_step", executed_next_step(run));
        return renderer_.render("executed", d);
    }
    if (run.state == RunState::DryRun) {
        // Nothing changed, so "after" is "before": say where it would have gone instead.
        d.set("to",
              run.plan.request.sha ? *run.plan.request.sha : std::string("the previous revision"));
        d.set("steps", dry_run_steps(run));
        std::string skipped;
        for (const auto& note : run.plan.notes) {
            skipped += (skipped.empty() ? "" : "; ") + note;
        }
        if (!skipped.empty()) {
            d.set("skipped", skipped);
        }
        return renderer_.render("dry_run", d);
    }
    ROLLBOT_CHECK(!run.results.empty(), "a finished run that is not a dry run has a last step");
    const auto& last = run.results.back();
    const std::size_t index = run.results.size() - 1;
    d.set("step_number", std::to_string(index + 1));
    d.set("step_count", std::to_string(run.plan.steps.size()));
    d.set("command", display_command(run.plan.steps.at(index)));
    d.set("summary", last.summary);
    if (run.state == RunState::NoChange) {
        d.set("next_step", "Check /rollback status; pick a target with /rollback <d> <sha>");
        return renderer_.render("no_change", d);
    }
    d.set("exit_code", last.exit_code ? std::to_string(*last.exit_code) : std::string("none"));
    d.set("duration", format_duration(last.duration));
    if (!last.output.empty()) {
        d.set("output", defuse_code_fences(last.output));
    }
    d.set("next_step", failed_next_step(run));
    return renderer_.render("failed", d);
}

std::string Reporter::usage_error(std::string_view message) const {
    Data d = Data::object();
    d.set("message", std::string(message));
    d.set("usage", std::string(command_usage()));
    return renderer_.render("usage_error", d);
}

std::string Reporter::refused(std::string_view message,
                              const std::optional<ChannelId>& channel,
                              std::string_view detail) const {
    Data d = Data::object();
    d.set("message", std::string(message));
    if (channel) {
        d.set("channel", channel->value);
    }
    if (!detail.empty()) {
        d.set("detail", std::string(detail));
    }
    return renderer_.render("refused", d);
}

std::string Reporter::busy(const std::string& target,
                           const RequestId& id,
                           const std::string& what,
                           const UserId& holder,
                           Duration age) const {
    Data d = Data::object();
    d.set("target", target);
    d.set("id", id.value);
    d.set("what", what);
    d.set("holder", mention(holder));
    d.set("age", format_duration(age));
    return renderer_.render("busy", d);
}

std::string Reporter::shutdown_notice(std::string_view why,
                                      const std::vector<std::string>& approvals,
                                      const std::vector<std::string>& runs,
                                      Duration grace) const {
    Data d = Data::object();
    d.set("why", std::string(why));
    Data approval_list = Data::list();
    for (const auto& a : approvals) {
        approval_list.push_back(Data{a});
    }
    Data run_list = Data::list();
    for (const auto& r : runs) {
        run_list.push_back(Data{r});
    }
    d.set("has_approvals", !approvals.empty());
    d.set("approvals", approval_list);
    d.set("has_runs", !runs.empty());
    d.set("runs", run_list);
    d.set("grace", format_duration(grace));
    return renderer_.render("shutdown", d);
}

std::string Reporter::state_not_saved(const Run& run, std::string_view error) const {
    Data d = Data::object();
    d.set("id", run.id.value);
    d.set("error", std::string(error));
    d.set("running", run.state == RunState::Running);
    return renderer_.render("state_not_saved", d);
}

std::string Reporter::help() const {
    Data d = Data::object();
    d.set("usage", std::string(command_usage()));
    Data examples = Data::list();
    for (const char* e : {"/rollback backend --reason error rate spike",
                          "/rollback backend abc1234f --dry-run",
                          "/rollback full --reason P0 after deploy",
                          "/rollback db -1 --reason migration broke fees"}) {
        examples.push_back(Data{std::string(e)});
    }
    d.set("examples", examples);
    return renderer_.render("help", d);
}

}  // namespace rollbot::core
