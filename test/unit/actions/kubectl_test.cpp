#include "actions/kubectl.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace rollbot::actions {
namespace {

using core::StepKind;
using core::StepOutcome;
using ::testing::HasSubstr;

constexpr std::string_view kDeployment = R"({
  "apiVersion": "apps/v1", "kind": "Deployment",
  "metadata": {"name": "backend", "namespace": "preskool", "generation": 7,
               "annotations": {"deployment.kubernetes.io/revision": "3"}},
  "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "backend"}},
           "template": {"spec": {"containers": [
               {"name": "sidecar", "image": "envoy:v1.30"},
               {"name": "backend", "image": "ghcr.io/your-org/preskool-backend:e4d5c6b7"}]}}},
  "status": {"observedGeneration": 7, "replicas": 2, "updatedReplicas": 2,
             "readyReplicas": 1, "availableReplicas": 1}
})";

core::Step step_of(StepKind kind, std::chrono::seconds timeout = std::chrono::seconds(60)) {
    core::Step s;
    s.kind = kind;
    s.timeout = timeout;
    s.deployment = "backend";
    s.argv = {"kubectl", "x"};
    return s;
}

actions::ProcessOutput exited(int code, std::string out, std::string err = {}) {
    actions::ProcessOutput o;
    o.exit_code = code;
    o.out = std::move(out);
    o.err = std::move(err);
    o.digest = "abc";
    o.duration = std::chrono::milliseconds(420);
    return o;
}

TEST(ParseDeployment, ReadsTheNamedContainersImageAndCounts) {
    auto d = parse_deployment(kDeployment, "backend");
    ASSERT_TRUE(d.has_value()) << d.error().message;
    EXPECT_EQ(d->name, "backend");
    EXPECT_EQ(d->image, "ghcr.io/your-org/preskool-backend:e4d5c6b7");
    EXPECT_EQ(d->tag, "e4d5c6b7");
    EXPECT_EQ(d->revision, 3);
    EXPECT_EQ(d->desired, 2);
    EXPECT_EQ(d->updated, 2);
    EXPECT_EQ(d->ready, 1);
    EXPECT_EQ(d->available, 1);
    EXPECT_FALSE(d->paused);
}

TEST(ParseDeployment, RejectsGarbageAndMissingContainers) {
    EXPECT_FALSE(parse_deployment("not json", "backend").has_value());
    EXPECT_FALSE(parse_deployment("[1,2]", "backend").has_value());
    auto missing = parse_deployment(kDeployment, "frontend");
    ASSERT_FALSE(missing.has_value());
    EXPECT_THAT(missing.error().message, HasSubstr("no container named frontend"));
    auto odd =
        parse_deployment(R"({"metadata":{"annotations":{"deployment.kubernetes.io/revision":"x"}},
        "spec":{"template":{"spec":{"containers":[{"name":"backend","image":"r:t"}]}}}})",
                         "backend");
    ASSERT_TRUE(odd.has_value());
    EXPECT_EQ(odd->revision, 0) << "a non-numeric revision is unknown, never a crash";
}

TEST(ImageTag, HandlesRegistriesWithPortsAndDigests) {
    EXPECT_EQ(image_tag("ghcr.io/your-org/preskool-backend:abc1234f"), "abc1234f");
    EXPECT_EQ(image_tag("registry:5000/app"), "");
    EXPECT_EQ(image_tag("registry:5000/app:v2"), "v2");
    EXPECT_EQ(image_tag("app@sha256:0123"), "sha256:0123");
}

TEST(Interpret, UndoSuccessAndSkippedRollback) {
    auto ok = interpret(step_of(StepKind::KubectlUndo),
                        exited(0, "deployment.apps/backend rolled back\n"));
    EXPECT_EQ(ok.outcome, StepOutcome::Succeeded);
    EXPECT_EQ(ok.summary, "deployment.apps/backend rolled back");
    EXPECT_EQ(ok.duration, std::chrono::milliseconds(420));
    EXPECT_EQ(ok.output_digest, "abc");

    auto skipped = interpret(
        step_of(StepKind::KubectlUndo),
        exited(0,
               "deployment.apps/backend skipped rollback (current template already matches "
               "revision 0)\n"));
    EXPECT_EQ(skipped.outcome, StepOutcome::NoChange) << "skipped rollback is not a rollback";
    EXPECT_THAT(skipped.summary, HasSubstr("nothing changed"));
}

TEST(Interpret, UndoWithoutHistory) {
    auto r =
        interpret(step_of(StepKind::KubectlUndo),
                  exited(1, "", "error: no rollout history found for deployment \"backend\"\n"));
    EXPECT_EQ(r.outcome, StepOutcome::Failed);
    EXPECT_THAT(r.summary, HasSubstr("no previous revision"));
    EXPECT_EQ(r.exit_code, 1);
}

TEST(Interpret, SetImageThatPrintsNothingChangedNothing) {
    auto same = interpret(step_of(StepKind::KubectlSetImage), exited(0, ""));
    EXPECT_EQ(same.outcome, StepOutcome::NoChange);
    auto updated = interpret(step_of(StepKind::KubectlSetImage),
                             exited(0, "deployment.apps/backend image updated\n"));
    EXPECT_EQ(updated.outcome, StepOutcome::Succeeded);
    auto container = interpret(step_of(StepKind::KubectlSetImage),
                               exited(1, "", "error: unable to find container named \"api\"\n"));
    EXPECT_THAT(container.summary, HasSubstr("kubernetes.deployments.backend.container"));
}

TEST(Interpret, RolloutStatusTimeoutAndDeadline) {
    auto status_step = step_of(StepKind::KubectlRolloutStatus, std::chrono::seconds(150));
    status_step.argv = {"kubectl", "rollout", "status", "deployment/backend", "--timeout=120s"};
    auto timeout = interpret(
        status_step,
        exited(1,
               "Waiting for deployment \"backend\" rollout to finish: 1 out of 2 new replicas "
               "have been updated...\n",
               "error: timed out waiting for the condition\n"));
    EXPECT_EQ(timeout.outcome, StepOutcome::Failed);
    EXPECT_THAT(timeout.summary, HasSubstr("did not finish within 120s"));
    EXPECT_THAT(timeout.output, HasSubstr("1 out of 2 new replicas"));
    EXPECT_THAT(timeout.output, HasSubstr("timed out waiting"));

    auto deadline = interpret(step_of(StepKind::KubectlRolloutStatus),
                              exited(1,
                                     "",
                                     "error: deployment \"backend\" exceeded its progress "
                                     "deadline\n"));
    EXPECT_THAT(deadline.summary, HasSubstr("progress deadline"));

    auto done = interpret(step_of(StepKind::KubectlRolloutStatus),
                          exited(0,
                                 "Waiting for deployment...\ndeployment \"backend\" "
                                 "successfully rolled out\n"));
    EXPECT_EQ(done.outcome, StepOutcome::Succeeded);
    EXPECT_EQ(done.summary, "deployment \"backend\" successfully rolled out");

    auto unfinished =
        interpret(step_of(StepKind::KubectlRolloutStatus),
                  exited(0, "Waiting for deployment \"backend\" rollout to finish\n"));
    EXPECT_EQ(unfinished.outcome, StepOutcome::Failed) << "--watch=false exits 0 unfinished";
}

TEST(Interpret, ErrorsAreMatchedAnywhereNotByLinePrefix) {
    auto forbidden = interpret(
        step_of(StepKind::KubectlUndo),
        exited(1,
               "",
               "error: failed restoring revision 0: deployments.apps \"backend\" is forbidden: "
               "User \"system:serviceaccount:preskool:rollback-bot\" cannot patch resource\n"));
    EXPECT_THAT(forbidden.summary, HasSubstr("RBAC"));
    auto conflict = interpret(
        step_of(StepKind::KubectlSetImage),
        exited(1,
               "",
               "error: failed to patch image update to pod template: Operation cannot be "
               "fulfilled on deployments.apps \"backend\": the object has been modified; please "
               "apply your changes to the latest version and try again\n"));
    EXPECT_THAT(conflict.summary, HasSubstr("somebody changed the deployment"));
    auto refused = interpret(
        step_of(StepKind::Generic),
        exited(1,
               "",
               "E1123 memcache.go:265] couldn't get current server API group list\n"
               "The connection to the server 127.0.0.1:1 was refused - did you specify the "
               "right host or port?\n"));
    EXPECT_THAT(refused.summary, HasSubstr("cannot reach the Kubernetes API server"));
}

TEST(Interpret, AlembicOutputs) {
    auto current = interpret(step_of(StepKind::AlembicCurrent),
                             exited(0,
                                    "3f2a1b4c5d6e (head)\n",
                                    "INFO  [alembic.runtime.migration] Context impl "
                                    "PostgresqlImpl.\n"));
    EXPECT_EQ(current.summary, "current revision 3f2a1b4c5d6e (head)");
    auto down =
        interpret(step_of(StepKind::AlembicDowngrade),
                  exited(0,
                         "",
                         "INFO  [alembic.runtime.migration] Running downgrade 3f2a1b4c5d6e -> "
                         "ae1027a6acf, create fee_payments table\n"));
    EXPECT_EQ(down.outcome, StepOutcome::Succeeded);
    EXPECT_EQ(down.summary, "downgraded 3f2a1b4c5d6e -> ae1027a6acf");
    auto unknown = interpret(step_of(StepKind::AlembicDowngrade),
                             exited(255,
                                    "FAILED: Can't locate revision identified by 'zz'\n",
                                    "ERROR [alembic.util.messaging] Can't locate revision\n"));
    EXPECT_EQ(unknown.outcome, StepOutcome::Failed);
    EXPECT_THAT(unknown.summary, HasSubstr("Can't locate revision identified by 'zz'"));
    auto crashloop = interpret(
        step_of(StepKind::AlembicCurrent),
        exited(1, "", "error: unable to upgrade connection: container not found (\"backend\")\n"));
    EXPECT_THAT(crashloop.summary, HasSubstr("not running"));
}

TEST(Interpret, TimeoutsSignalsAndCancellation) {
    actions::ProcessOutput hung;
    hung.timed_out = true;
    hung.term_signal = 15;
    auto t = interpret(step_of(StepKind::KubectlUndo, std::chrono::seconds(60)), hung);
    EXPECT_EQ(t.outcome, StepOutcome::TimedOut);
    EXPECT_THAT(t.summary, HasSubstr("did not finish within 60s"));

    actions::ProcessOutput killed;
    killed.term_signal = 9;
    EXPECT_THAT(interpret(step_of(StepKind::Generic), killed).summary, HasSubstr("signal 9"));

    actions::ProcessOutput cancelled;
    cancelled.cancelled = true;
    EXPECT_EQ(interpret(step_of(StepKind::Generic), cancelled).outcome, StepOutcome::Cancelled);
}

TEST(Interpret, ScriptFailureNamesTheScriptAndItsError) {
    auto step = step_of(StepKind::RollbackScript);
    step.argv = {"bash", "scripts/rollback.sh"};
    auto r = interpret(step, exited(3, "==> rolling back backend\n", "kubectl: forbidden\n"));
    EXPECT_EQ(r.outcome, StepOutcome::Failed);
    EXPECT_EQ(r.summary, "scripts/rollback.sh exited with 3: kubectl: forbidden");
}

TEST(OutputTail, KeepsTheLastLines) {
    std::string many;
    for (int i = 1; i <= 30; ++i) {
        many += "line " + std::to_string(i) + "\n";
    }
    auto tail = output_tail(exited(1, many, "boom\n"), 3);
    EXPECT_EQ(tail, "line 29\nline 30\nboom");
}

TEST(KubectlArgv, GlobalFlagsBeforeTheSubcommand) {
    core::KubernetesSettings k;
    k.kubectl = "kubectl";
    EXPECT_EQ(kubectl_argv(k, {"get", "pods"}),
              (std::vector<std::string>{"kubectl", "get", "pods"}));
    k.context = "prod";
    EXPECT_EQ(kubectl_argv(k, {"get"}),
              (std::vector<std::string>{"kubectl", "--context=prod", "get"}));
}

}  // namespace
}  // namespace rollbot::actions

#include "actions/kubectl_runbook.hpp"

namespace rollbot::actions {
namespace {

using ::testing::Contains;
using ::testing::Not;
using ::testing::Pair;

TEST(ChildEnvironment, PassesWhatKubectlNeedsInAPodAndNoSecrets) {
    std::string path = "PATH=/usr/bin";
    std::string home = "HOME=/tmp";
    std::string host = "KUBERNETES_SERVICE_HOST=10.96.0.1";
    std::string port = "KUBERNETES_SERVICE_PORT=443";
    std::string token = "SLACK_BOT_TOKEN=xoxb-secret";
    std::string app = "SLACK_APP_TOKEN_FILE=/run/secrets/app";
    std::string kubeconfig = "KUBECONFIG=/home/me/.kube/config";
    std::vector<char*> daemon_env{path.data(),
                                  home.data(),
                                  host.data(),
                                  port.data(),
                                  token.data(),
                                  app.data(),
                                  kubeconfig.data(),
                                  nullptr};
    core::Settings settings;
    const auto env = child_environment(settings, daemon_env.data());
    EXPECT_THAT(env, Contains(Pair("KUBERNETES_SERVICE_HOST", "10.96.0.1")));
    EXPECT_THAT(env, Contains(Pair("KUBERNETES_SERVICE_PORT", "443")));
    EXPECT_THAT(env, Contains(Pair("HOME", "/tmp")));
    EXPECT_THAT(env, Contains(Pair("KUBECONFIG", "/home/me/.kube/config")));
    EXPECT_THAT(env, Not(Contains(Pair("SLACK_BOT_TOKEN", ::testing::_))));
    EXPECT_THAT(env, Not(Contains(Pair("SLACK_APP_TOKEN_FILE", ::testing::_))));
    settings.kubernetes.kubeconfig = "/etc/rollbot/kubeconfig";
    const auto configured = child_environment(settings, daemon_env.data());
    EXPECT_THAT(configured, Contains(Pair("KUBECONFIG", "/etc/rollbot/kubeconfig")));
    EXPECT_THAT(configured, Not(Contains(Pair("KUBECONFIG", "/home/me/.kube/config"))));
}

}  // namespace
}  // namespace rollbot::actions
