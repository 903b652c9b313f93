#pragma once

// Shared by the console integration tests: the real rollbotd in console mode against the fake
// kubectl / rollback.sh, with a fake health endpoint on 127.0.0.1.
#include "test/support/child_process.hpp"
#include "test/support/daemon_config.hpp"
#include "test/support/fake_http_server.hpp"
#include "test/support/fake_prometheus.hpp"
#include "test/support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

namespace rollbot::test {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr auto kWait = 20s;

/// The real daemon in console mode with a temp dir, the fake cluster and a fake health endpoint.
class ConsoleDaemonTest : public ::testing::Test {
protected:
    ConsoleDaemonTest()
        : health_([this](const FakeRequest& request) {
              std::lock_guard lock(mutex_);
              if (is_prometheus_request(request)) {
                  return prometheus_answer(request, metrics_);
              }
              return FakeResponse{healthy_ ? 200 : 503, {}, healthy_ ? "ok" : "down"};
          }) {}

    void SetUp() override { write_config(); }

    void write_config() {
        DaemonConfig config{.dir = dir_.path().string(),
                            .health_url = health_.url("/api/v1/health")};
        config.prometheus_url = health_.base_url();
        config.watch = watch_;
        dir_.write("config.yaml", daemon_config(config));
    }

    // What the fake Prometheus answers from now on.
    void set_metrics(const FakeMetrics& metrics) {
        std::lock_guard lock(mutex_);
        metrics_ = metrics;
    }

    void set_healthy(bool healthy) {
        std::lock_guard lock(mutex_);
        healthy_ = healthy;
    }

    // Seeds the fake cluster (default scenario) and then edits it.
    void edit_cluster(const std::function<void(json&)>& edit) {
        run_kubectl("get deployment backend -n preskool -o json");
        json state = cluster();
        edit(state);
        std::ofstream(dir_.file("cluster.json")) << state.dump(2);
    }

    // The fake cluster's state; empty when no kubectl has run yet.
    json cluster() const {
        std::ifstream in(dir_.file("cluster.json"));
        json state = json::parse(in, nullptr, false);
        return state.is_discarded() ? json::object() : state;
    }

    void run_kubectl(const std::string& args) {
        std::istringstream words(args);
        std::vector<std::string> argv{std::string(ROLLBOT_FAKES_DIR) + "/kubectl",
                                      "--kubeconfig=" + dir_.file("cluster.json").string()};
        for (std::string w; words >> w;) {
            argv.push_back(w);
        }
        ChildProcess real(argv);
        ASSERT_EQ(real.wait_exit(kWait), 0) << real.err();
    }

    std::string image_of(const std::string& deployment) {
        ChildProcess k({std::string(ROLLBOT_FAKES_DIR) + "/kubectl",
                        "--kubeconfig=" + dir_.file("cluster.json").string(),
                        "get",
                        "deployment",
                        deployment,
                        "-n",
                        "preskool",
                        "-o",
                        "json"});
        EXPECT_EQ(k.wait_exit(kWait), 0) << k.err();
        const json d = json::parse(k.out(), nullptr, false);
        return d["spec"]["template"]["spec"]["containers"][0].value("image", "");
    }

    // Every kubectl call recorded by the fake, one string each.
    std::vector<std::string> calls() const {
        std::vector<std::string> out;
        for (const auto& call : cluster().value("calls", json::array())) {
            std::string joined;
            for (const auto& a : call) {
                joined += (joined.empty() ? "" : " ") + a.get<std::string>();
            }
            out.push_back(joined);
        }
        return out;
    }

    std::unique_ptr<ChildProcess> start(std::vector<std::string> extra_args = {}) {
        std::vector<std::string> argv{
            ROLLBOTD_PATH, "--config", dir_.file("config.yaml").string(), "--console"};
        argv.insert(argv.end(), extra_args.begin(), extra_args.end());
        auto bot = std::make_unique<ChildProcess>(argv);
        EXPECT_TRUE(bot->wait_for_stdout("rollbot console", kWait));
        return bot;
    }

    static bool any_call_contains(const std::vector<std::string>& calls, std::string_view what) {
        return std::any_of(calls.begin(), calls.end(), [&](const auto& c) {
            return c.find(what) != std::string::npos;
        });
    }

    TempDir dir_;
    std::mutex mutex_;  // the fake server's thread reads what the test sets
    bool healthy_ = true;
    FakeMetrics metrics_;
    std::string watch_ = "0";  // verify.watch in the config
    FakeHttpServer health_;    // the ERP's health endpoint and its Prometheus
};

}  // namespace rollbot::test
