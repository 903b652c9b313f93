#include "actions/kubectl.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <sstream>

namespace rollbot::actions {
namespace {

using core::StepKind;
using core::StepOutcome;
using core::StepResult;
using nlohmann::json;

bool contains(std::string_view haystack, std::string_view needle) {
    return haystack.find(needle) != std::string_view::npos;
}

std::vector<std::string> lines_of(std::string_view text) {
    std::vector<std::string> out;
    std::istringstream in{std::string(text)};
    for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r') {
            line.pop_back();
        }
        if (line.find_first_not_of(" \t") != std::string::npos) {
            out.push_back(line);
        }
    }
    return out;
}

std::string first_line(std::string_view text) {
    auto lines = lines_of(text);
    return lines.empty() ? std::string{} : lines.front();
}

// The line of stderr that says what went wrong; kubectl puts it last after any klog noise.
std::string error_line(std::string_view text) {
    auto lines = lines_of(text);
    // Not std::views::reverse: clang 14 (clang-tidy) cannot parse libstdc++ 12's ranges.
    for (auto it = lines.rbegin(); it != lines.rend(); ++it) {  // NOLINT(modernize-loop-convert)
        if (contains(*it, "error") || contains(*it, "Error") || contains(*it, "FAILED")) {
            return *it;
        }
    }
    return lines.empty() ? std::string{} : lines.back();
}

std::string seconds_text(core::Duration d) {
    return fmt::format("{}s", std::chrono::duration_cast<std::chrono::seconds>(d).count());
}

template <class T>
T number_or(const json& j, const char* key, T fallback) {
    auto it = j.find(key);
    return it != j.end() && it->is_number_integer() ? it->get<T>() : fallback;
}

// The --timeout=… kubectl itself was given (the step's process timeout is only a backstop).
std::string kubectl_timeout(const core::Step& step) {
    for (const auto& arg : step.argv) {
        if (arg.starts_with("--timeout=")) {
            return arg.substr(10);
        }
    }
    return seconds_text(step.timeout);
}

std::string failure_summary(const core::Step& step, const actions::ProcessOutput& out) {
    const std::string& err = out.err;
    switch (step.kind) {
        case StepKind::KubectlRolloutStatus:
            if (contains(err, "timed out waiting for the condition")) {
                return fmt::format(
                    "the rollout did not finish within {}: new pods are not becoming ready "
                    "(crash-looping, or the image cannot be pulled?)",
                    kubectl_timeout(step));
            }
            if (contains(err, "exceeded its progress deadline")) {
                return "the rollout exceeded its progress deadline: new pods never became ready";
            }
            break;
        case StepKind::KubectlUndo:
            if (contains(err, "no rollout history found")) {
                return "there is no previous revision to roll back to (no rollout history)";
            }
            if (contains(err, "unable to find specified revision")) {
                return "that revision is no longer in the rollout history";
            }
            if (contains(err, "paused deployment")) {
                return "the deployment is paused: resume it first (kubectl rollout resume)";
            }
            break;
        case StepKind::KubectlSetImage:
            if (contains(err, "unable to find container named")) {
                return fmt::format("{} (check kubernetes.deployments.{}.container)",
                                   error_line(err),
                                   step.deployment);
            }
            break;
        case StepKind::AlembicCurrent:
        case StepKind::AlembicDowngrade:
        case StepKind::AlembicPreview:
            if (contains(err, "container not found")) {
                return "the migration container is not running (crash-looping?): " +
                       error_line(err);
            }
            if (contains(out.out, "FAILED:")) {
                return "alembic: " + error_line(out.out);
            }
            break;
        case StepKind::RollbackScript:
            return fmt::format("{} exited with {}: {}",
                               step.argv.size() > 1 ? step.argv[1] : "the rollback script",
                               out.exit_code.value_or(-1),
                               error_line(err.empty() ? out.out : err));
        case StepKind::Generic:
            break;
    }
    return explain_kubectl_error(err.empty() ? out.out : err);
}

std::string alembic_downgrades(std::string_view err) {
    std::vector<std::string> moves;
    for (const auto& line : lines_of(err)) {
        auto pos = line.find("Running downgrade ");
        if (pos != std::string::npos) {
            auto move = line.substr(pos + 18);
            moves.push_back(move.substr(0, move.find(',')));
        }
    }
    std::string out;
    for (const auto& m : moves) {
        out += (out.empty() ? "" : "; ") + m;
    }
    return out;
}

StepResult success_summary(const core::Step& step, const actions::ProcessOutput& out) {
    StepResult r;
    r.outcome = StepOutcome::Succeeded;
    const std::string line = first_line(out.out);
    switch (step.kind) {
        case StepKind::KubectlUndo:
            if (contains(out.out, "skipped rollback")) {
                r.outcome = StepOutcome::NoChange;
                r.summary =
                    "kubectl skipped the rollback: the current template already matches the "
                    "previous revision, so nothing changed";
                return r;
            }
            r.summary = line.empty() ? "rolled back" : line;
            return r;
        case StepKind::KubectlSetImage:
            if (line.empty()) {
                r.outcome = StepOutcome::NoChange;
                r.summary = "the deployment already runs this image: nothing changed";
                return r;
            }
            r.summary = line;
            return r;
        case StepKind::KubectlRolloutStatus:
            if (!contains(out.out, "successfully rolled out")) {
                r.outcome = StepOutcome::Failed;
                r.summary = "kubectl returned before the rollout finished: " + line;
                return r;
            }
            r.summary = lines_of(out.out).back();
            return r;
        case StepKind::AlembicCurrent:
            r.summary =
                line.empty() ? "the database has no alembic revision" : "current revision " + line;
            return r;
        case StepKind::AlembicDowngrade: {
            auto moves = alembic_downgrades(out.err);
            if (moves.empty()) {
                r.outcome = StepOutcome::NoChange;
                r.summary = "alembic ran no downgrade";
                return r;
            }
            r.summary = "downgraded " + moves;
            return r;
        }
        case StepKind::AlembicPreview: {
            const auto lines = lines_of(out.out);
            const auto steps = std::count_if(lines.begin(), lines.end(), [](const std::string& l) {
                return l.starts_with("-- Running downgrade ");
            });
            r.summary = fmt::format("rendered the SQL of {} downgrade step(s); nothing ran", steps);
            return r;
        }
        case StepKind::RollbackScript: {
            auto lines = lines_of(out.out);
            r.summary = lines.empty() ? "finished" : "finished: " + lines.back();
            return r;
        }
        case StepKind::Generic:
            r.summary = line.empty() ? "done" : line;
            return r;
    }
    return r;
}

}  // namespace

std::vector<std::string> kubectl_argv(const core::KubernetesSettings& k8s,
                                      std::vector<std::string> args) {
    std::vector<std::string> argv{k8s.kubectl};
    if (!k8s.kubeconfig.empty()) {
        argv.push_back("--kubeconfig=" + k8s.kubeconfig);
    }
    if (!k8s.context.empty()) {
        argv.push_back("--context=" + k8s.context);
    }
    argv.insert(
        argv.end(), std::make_move_iterator(args.begin()), std::make_move_iterator(args.end()));
    return argv;
}

std::string image_tag(std::string_view image) {
    if (auto at = image.find('@'); at != std::string_view::npos) {
        return std::string(image.substr(at + 1));
    }
    const auto slash = image.rfind('/');
    const auto colon = image.rfind(':');
    if (colon == std::string_view::npos || (slash != std::string_view::npos && colon < slash)) {
        return {};
    }
    return std::string(image.substr(colon + 1));
}

core::Result<core::DeploymentState> parse_deployment(std::string_view text,
                                                     std::string_view container) {
    const json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        return core::Error{core::ErrorKind::Protocol, "kubectl get deployment: not JSON"};
    }
    core::DeploymentState s;
    const json& meta = j.value("metadata", json::object());
    s.name = meta.value("name", "");
    const json& annotations = meta.value("annotations", json::object());
    const std::string revision = annotations.value("deployment.kubernetes.io/revision", "0");
    s.revision = std::all_of(revision.begin(), revision.end(), ::isdigit) && !revision.empty() &&
                         revision.size() < 18
                     ? std::stoll(revision)
                     : 0;
    const json& spec = j.value("spec", json::object());
    s.desired = number_or<std::int32_t>(spec, "replicas", 1);
    s.paused = spec.value("paused", false);
    const json containers = spec.value("template", json::object())
                                .value("spec", json::object())
                                .value("containers", json::array());
    for (const auto& c : containers) {
        if (c.is_object() && c.value("name", "") == container) {
            s.image = c.value("image", "");
        }
    }
    if (s.image.empty()) {
        return core::Error{
            core::ErrorKind::NotFound,
            fmt::format("kubectl get deployment {}: no container named {}", s.name, container)};
    }
    s.tag = image_tag(s.image);
    const json& status = j.value("status", json::object());
    s.updated = number_or<std::int32_t>(status, "updatedReplicas", 0);
    s.ready = number_or<std::int32_t>(status, "readyReplicas", 0);
    s.available = number_or<std::int32_t>(status, "availableReplicas", 0);
    return s;
}

std::string explain_kubectl_error(std::string_view stderr_text) {
    const std::string_view err = stderr_text;
    struct Rule {
        std::string_view needle;
        std::string_view meaning;
    };
    static constexpr std::array<Rule, 8> kRules{{
        {"is forbidden", "kubectl is not allowed to do this: check the bot's RBAC Role"},
        {"You must be logged in", "kubectl's credentials were rejected (Unauthorized)"},
        {"the object has been modified",
         "somebody changed the deployment at the same moment: check it and try again"},
        {"was refused", "cannot reach the Kubernetes API server"},
        {"Unable to connect to the server", "cannot reach the Kubernetes API server"},
        {"no such host", "cannot resolve the Kubernetes API server's name"},
        {"i/o timeout", "the Kubernetes API server did not answer in time"},
        {"not found", "not found"},
    }};
    const std::string line = error_line(err);
    for (const auto& rule : kRules) {
        if (contains(err, rule.needle)) {
            return line.empty() ? std::string(rule.meaning)
                                : fmt::format("{} ({})", rule.meaning, line);
        }
    }
    return line.empty() ? "failed without an error message" : line;
}

std::string output_tail(const actions::ProcessOutput& out, std::size_t max_lines) {
    auto lines = lines_of(out.out);
    auto err = lines_of(out.err);
    lines.insert(lines.end(), err.begin(), err.end());
    const std::size_t from = lines.size() > max_lines ? lines.size() - max_lines : 0;
    std::string text;
    for (std::size_t i = from; i < lines.size(); ++i) {
        text += (text.empty() ? "" : "\n") + lines[i];
    }
    return text;
}

StepResult interpret(const core::Step& step, const actions::ProcessOutput& out) {
    StepResult r;
    r.duration = out.duration;
    r.exit_code = out.exit_code;
    r.output = output_tail(out, 20);
    r.output_digest = out.digest;
    if (out.cancelled) {
        r.outcome = StepOutcome::Cancelled;
        r.summary = "cancelled: its process group was killed";
    } else if (out.timed_out) {
        r.outcome = StepOutcome::TimedOut;
        r.summary = fmt::format("did not finish within {}: its process group was killed",
                                seconds_text(step.timeout));
    } else if (out.term_signal) {
        r.outcome = StepOutcome::Failed;
        r.summary = fmt::format("killed by signal {}", *out.term_signal);
    } else if (!out.exit_code || *out.exit_code != 0) {
        r.outcome = StepOutcome::Failed;
        r.summary = failure_summary(step, out);
    } else {
        auto s = success_summary(step, out);
        r.outcome = s.outcome;
        r.summary = std::move(s.summary);
    }
    return r;
}

}  // namespace rollbot::actions
