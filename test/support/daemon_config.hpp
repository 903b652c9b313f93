#pragma once

#include <string>

namespace rollbot::test {

/// The parts of a rollbotd test configuration that differ between tests.
struct DaemonConfig {
    std::string dir{};         // temp dir: cluster.json, state.db, workdir
    std::string health_url{};  // a FakeHttpServer or FakeSlack-independent endpoint
    std::string ca_file{};     // slack.ca_file, for TLS tests
    std::string liveness_timeout = "30s";
    std::string prometheus_url = "http://127.0.0.1:9";  // discard port: "no data" at once
    std::string watch = "0";                            // verify.watch
    std::string http_listen = "127.0.0.1:0";            // http.listen; "" turns the endpoint off
    std::string extra{};                                // more YAML appended at the end
};

/// A complete config: fake kubectl and rollback.sh from ROLLBOT_FAKES_DIR, operators alice and
/// bob, DB approvals by S0DBA, the console directory (alice, bob, dave), channel C0INCIDENTS.
[[nodiscard]] std::string daemon_config(const DaemonConfig& config);

/// Seeds the fake cluster in `dir` (cluster.json, default scenario) and makes its
/// `rollout status` take `ms` milliseconds. False when the fake kubectl or the file failed.
[[nodiscard]] bool slow_rollout(const std::string& dir, int ms);

}  // namespace rollbot::test
