#pragma once

#include "actions/process.hpp"
#include "bot/plan.hpp"
#include "bot/result.hpp"
#include "bot/settings.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace rollbot::actions {

/// `kubectl [--kubeconfig=…] [--context=…] <args…>`: the global flags from the config first, so
/// the rest reads exactly like the runbook's command.
[[nodiscard]] std::vector<std::string> kubectl_argv(const core::KubernetesSettings& k8s,
                                                    std::vector<std::string> args);

/// Reads `kubectl get deployment <d> -o json`: image of `container`, revision, replica counts.
[[nodiscard]] core::Result<core::DeploymentState> parse_deployment(std::string_view text,
                                                                   std::string_view container);

/// The tag of an image reference (`repo:tag` → `tag`; `repo@sha256:…` → the digest; none → "").
[[nodiscard]] std::string image_tag(std::string_view image);

/// Explains a kubectl error the way an on-call engineer needs it. kubectl wraps API errors, so
/// this matches substrings anywhere in stderr, never line prefixes (reference §0.2).
[[nodiscard]] std::string explain_kubectl_error(std::string_view stderr_text);

/// Interprets a finished step: exit code plus the output quirks of each kubectl subcommand,
/// alembic and the rollback script (`skipped rollback` is not a rollback, an empty `set image`
/// changed nothing, `timed out waiting for the condition` is a failed rollout).
[[nodiscard]] core::StepResult interpret(const core::Step& step, const actions::ProcessOutput& out);

/// The last `max_lines` non-empty lines of the step's output, stdout then stderr.
[[nodiscard]] std::string output_tail(const actions::ProcessOutput& out, std::size_t max_lines);

}  // namespace rollbot::actions
