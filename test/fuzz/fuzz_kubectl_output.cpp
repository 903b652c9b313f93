// What kubectl, alembic and rollback.sh print, read by rollbot: the JSON readers (deployment,
// rollout history, pods, events, ReplicaSets), alembic's text, and the step interpreter, with
// any bytes. None may crash; errors are values.
#include "actions/alembic.hpp"
#include "actions/history.hpp"
#include "actions/kubectl.hpp"
#include "actions/pods.hpp"

#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    // The first byte picks the reader, so one corpus covers them all.
    const std::uint8_t pick = data[0] % 8;
    const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    using namespace rollbot;
    switch (pick) {
        case 0:
            (void)actions::parse_deployment(text, "backend");
            break;
        case 1: {
            auto history = actions::parse_rollout_history(text, "backend");
            if (history) {
                (void)actions::revisions_with_sha(*history, "abc1234f", 3);
            }
            break;
        }
        case 2:
            (void)actions::parse_pods("backend", text, "");
            (void)actions::parse_pods("backend", text, "5d4f8c7b9");
            break;
        case 3:
            (void)actions::parse_warning_events(text, "backend-");
            break;
        case 4:
            (void)actions::current_replicaset_hash(text, "backend", 3);
            break;
        case 5:
            (void)actions::parse_alembic_current(text);
            (void)actions::parse_offline_downgrade(text);
            break;
        case 6:
            (void)actions::explain_kubectl_error(text);
            (void)actions::image_tag(text);
            break;
        default: {
            actions::ProcessOutput out;
            out.exit_code = static_cast<int>(data[0] >> 3) - 1;
            out.timed_out = (data[0] & 0x40) != 0;
            out.out = std::string(text.substr(0, text.size() / 2));
            out.err = std::string(text.substr(text.size() / 2));
            for (auto kind : {core::StepKind::Generic,
                              core::StepKind::KubectlUndo,
                              core::StepKind::KubectlSetImage,
                              core::StepKind::KubectlRolloutStatus,
                              core::StepKind::RollbackScript,
                              core::StepKind::AlembicCurrent,
                              core::StepKind::AlembicDowngrade,
                              core::StepKind::AlembicPreview}) {
                core::Step step;
                step.kind = kind;
                (void)actions::interpret(step, out);
            }
            (void)actions::output_tail(out, 20);
            break;
        }
    }
    return 0;
}
