// The message templates with hostile values: whatever a user typed (reason), whatever kubectl
// printed (step output, summary, image tags) goes through the reporter. Rendering must not
// crash, and user or tool text must never become a Slack broadcast or a forged link: the
// reports may contain `<@U…>` mentions the bot makes, but never `<!` (here/channel/everyone,
// usergroup pings) or a `<http` link.
#include "bot/reporter.hpp"
#include "templates/renderer.hpp"

#include <cstdint>
#include <cstdlib>
#include <fuzzer/FuzzedDataProvider.h>
#include <string>

namespace {

using namespace rollbot::core;

void check(const std::string& text) {
    if (text.find("<!") != std::string::npos || text.find("<http") != std::string::npos) {
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const Settings settings;
    static const auto renderer = rollbot::templates::Renderer::builtin();
    static const Reporter reporter(renderer, settings);
    FuzzedDataProvider in(data, size);

    Run run;
    run.id = RequestId{"R1"};
    run.requester = UserId{"U0ALICE"};
    run.channel = ChannelId{"C0INCIDENTS"};
    run.reason = in.ConsumeRandomLengthString(300);
    run.plan.id = "1a2b3c4d";
    run.plan.request = RollbackRequest{ActionKind::Backend, std::string("abc1234f"), {}, false};
    DeploymentState before;
    before.name = "backend";
    before.tag = in.ConsumeRandomLengthString(60);
    before.image = "ghcr.io/x/backend:" + before.tag;
    before.revision = in.ConsumeIntegral<std::int64_t>();
    run.plan.before.deployments["backend"] = before;
    DeploymentState after = before;
    after.tag = in.ConsumeRandomLengthString(60);
    run.after.deployments["backend"] = after;
    Step step;
    step.argv = {"kubectl", "rollout", "undo", in.ConsumeRandomLengthString(40)};
    run.plan.steps = {step};
    StepResult result;
    result.outcome = in.ConsumeBool() ? StepOutcome::Failed : StepOutcome::Succeeded;
    result.summary = in.ConsumeRandomLengthString(200);
    result.output = in.ConsumeRandomLengthString(2000);
    result.exit_code = in.ConsumeIntegral<int>();
    run.results = {result};
    run.state = result.outcome == StepOutcome::Failed ? RunState::Failed : RunState::Succeeded;
    run.rollout_failure = in.ConsumeBool() ? in.ConsumeRandomLengthString(100) : "";
    const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::seconds(1000);
    run.marks.received = t0;
    run.marks.finished = t0 + std::chrono::milliseconds(in.ConsumeIntegralInRange(0, 10000000));

    check(reporter.final_report(run));
    check(reporter.request_card(run, in.ConsumeRandomLengthString(100)));
    check(reporter.step_line(run, 0));
    check(reporter.usage_error(in.ConsumeRandomLengthString(200)));
    check(reporter.refused(in.ConsumeRandomLengthString(200)));
    const auto escaped = rollbot::templates::escape_mrkdwn(in.ConsumeRemainingBytesAsString());
    if (escaped.find_first_of("<>") != std::string::npos) {
        std::abort();
    }
    return 0;
}
