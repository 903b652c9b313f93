#include "test/support/daemon_config.hpp"

#include "test/support/child_process.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>

namespace rollbot::test {

std::string daemon_config(const DaemonConfig& c) {
    const std::string fakes = ROLLBOT_FAKES_DIR;
    return fmt::format(R"(
slack:
  incidents_channel: C0INCIDENTS
  liveness_timeout: {liveness}
{ca}
access:
  operators: {{users: [U0ALICE, U0BOB]}}
approvals:
  db:
    approvers: {{usergroups: [S0DBA]}}
kubernetes:
  kubectl: {fakes}/kubectl
  kubeconfig: {dir}/cluster.json
  namespace: preskool
  deployments:
    backend:  {{container: backend,  image: ghcr.io/your-org/preskool-backend,  rollout_timeout: 120s}}
    frontend: {{container: frontend, image: ghcr.io/your-org/preskool-frontend, rollout_timeout: 60s}}
script:
  path: {fakes}/rollback.sh
  workdir: {dir}
  timeout: 2m
verify:
  health_url: {health}
  prometheus_url: {prometheus}
  watch: {watch}
state:
  path: {dir}/state.db
{http}
console:
  user: U0ALICE
  users: {{U0ALICE: alice, U0BOB: bob, U0DAVE: dave}}
  usergroups: {{S0DBA: [U0BOB]}}
{extra}
)",
                       fmt::arg("fakes", fakes),
                       fmt::arg("dir", c.dir),
                       fmt::arg("health", c.health_url),
                       fmt::arg("liveness", c.liveness_timeout),
                       fmt::arg("prometheus", c.prometheus_url),
                       fmt::arg("watch", c.watch),
                       fmt::arg("ca", c.ca_file.empty() ? "" : "  ca_file: " + c.ca_file),
                       fmt::arg("http",
                                c.http_listen.empty() ? std::string("http:\n  listen: \"\"")
                                                      : "http:\n  listen: " + c.http_listen),
                       fmt::arg("extra", c.extra));
}

bool slow_rollout(const std::string& dir, int ms) {
    const std::string cluster = dir + "/cluster.json";
    ChildProcess seed({std::string(ROLLBOT_FAKES_DIR) + "/kubectl",
                       "--kubeconfig=" + cluster,
                       "get",
                       "deployment",
                       "backend",
                       "-n",
                       "preskool"});
    if (seed.wait_exit(std::chrono::seconds(20)) != 0) {
        return false;
    }
    std::ifstream in(cluster);
    auto state = nlohmann::json::parse(in, nullptr, false);
    if (state.is_discarded()) {
        return false;
    }
    state["status_delay_ms"] = ms;
    std::ofstream(cluster) << state.dump();
    return true;
}

}  // namespace rollbot::test
