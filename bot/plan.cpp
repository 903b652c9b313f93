#include "bot/plan.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

namespace rollbot::core {
namespace {

bool needs_quotes(std::string_view arg) {
    if (arg.empty()) {
        return true;
    }
    return std::any_of(arg.begin(), arg.end(), [](char c) {
        const bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                           (c >= '0' && c <= '9') ||
                           std::string_view("_-./:=@%+,").find(c) != std::string_view::npos;
        return !plain;
    });
}

std::string shell_quote(std::string_view arg) {
    if (!needs_quotes(arg)) {
        return std::string(arg);
    }
    std::string out = "'";
    for (char c : arg) {
        if (c == '\'') {
            out += "'\\''";
        } else {
            out += c;
        }
    }
    out += '\'';
    return out;
}

class Fnv1a {
public:
    void add(std::string_view s) {
        for (const char ch : s) {
            hash_ ^= static_cast<unsigned char>(ch);
            hash_ *= kPrime;
        }
        hash_ ^= 0xffU;  // field separator, so ("ab","c") != ("a","bc")
        hash_ *= kPrime;
    }
    [[nodiscard]] std::uint64_t value() const { return hash_; }

private:
    static constexpr std::uint64_t kPrime = 1099511628211ULL;
    std::uint64_t hash_ = 14695981039346656037ULL;
};

}  // namespace

std::string_view to_string(Phase phase) {
    switch (phase) {
        case Phase::Observe:
            return "observe";
        case Phase::Migration:
            return "migration";
        case Phase::Script:
            return "script";
        case Phase::Rollout:
            return "rollout";
    }
    return "unknown";
}

std::string_view to_string(StepOutcome outcome) {
    switch (outcome) {
        case StepOutcome::Succeeded:
            return "succeeded";
        case StepOutcome::NoChange:
            return "no change";
        case StepOutcome::Failed:
            return "failed";
        case StepOutcome::TimedOut:
            return "timed out";
        case StepOutcome::Cancelled:
            return "cancelled";
    }
    return "unknown";
}

std::optional<StepOutcome> step_outcome_from_string(std::string_view text) {
    for (auto outcome : {StepOutcome::Succeeded,
                         StepOutcome::NoChange,
                         StepOutcome::Failed,
                         StepOutcome::TimedOut,
                         StepOutcome::Cancelled}) {
        if (to_string(outcome) == text) {
            return outcome;
        }
    }
    return std::nullopt;
}

std::string display_command(const Step& step) {
    std::string out;
    for (const auto& [name, value] : step.env) {
        out += name + "=" + shell_quote(value) + " ";
    }
    for (std::size_t i = 0; i < step.argv.size(); ++i) {
        std::string_view arg = step.argv[i];
        if (i == 0 && arg.starts_with('/')) {
            arg = arg.substr(arg.rfind('/') + 1);  // "kubectl", as people type it
        }
        out += (i > 0 ? " " : "") + shell_quote(arg);
    }
    return out;
}

std::string plan_digest(const RollbackRequest& request,
                        const ClusterSnapshot& before,
                        const std::vector<Step>& steps) {
    Fnv1a h;
    h.add(to_string(request.action));
    h.add(request.sha.value_or(""));
    h.add(request.db ? request.db->alembic_argument() : "");
    h.add(request.dry_run ? "dry-run" : "live");
    for (const auto& [name, state] : before.deployments) {
        h.add(name);
        h.add(state.image);
        h.add(std::to_string(state.revision));
    }
    if (before.database) {  // the approval binds to the revision it showed and the SQL it runs
        h.add(before.database->revision);
        h.add(before.database->target.value_or("?"));
        h.add(before.database->sql);
    }
    for (const auto& step : steps) {
        h.add(display_command(step));
        h.add(step.workdir);
    }
    return fmt::format("{:08x}", static_cast<std::uint32_t>(h.value() ^ (h.value() >> 32U)));
}

std::vector<std::string> affected_deployments(ActionKind kind) {
    switch (kind) {
        case ActionKind::Backend:
            return {"backend"};
        case ActionKind::Frontend:
            return {"frontend"};
        case ActionKind::Full:
        case ActionKind::Sha:
            return {"backend", "frontend"};
        case ActionKind::Db:
            return {};
    }
    return {};
}

}  // namespace rollbot::core
