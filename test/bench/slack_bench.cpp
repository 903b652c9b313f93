// Slack-side benchmarks of the real daemon: ack latency under bursts, memory, start-up, and
// commands lost across a connection refresh, rollbot's own time in a rollback.
// Usage: slack_bench [burst|refresh|overhead|all]
// Prints a table per scenario and a "BENCH key=value …" line for machines.
#include "test/support/child_process.hpp"
#include "test/support/daemon_config.hpp"
#include "test/support/fake_http_server.hpp"
#include "test/support/fake_slack_server.hpp"
#include "test/support/temp_dir.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using rollbot::test::ChildProcess;
using rollbot::test::DaemonConfig;
using rollbot::test::FakeSlackServer;
using Clock = std::chrono::steady_clock;

constexpr auto kWait = 60s;

// A process's memory from /proc/<pid>/status, in KiB: resident now, the peak, and the resident
// split into private anonymous pages (heap, stacks: rollbot's own) and file pages (the binary
// and the shared libraries, shared with every process that maps them).
struct MemoryKib {
    long rss = -1;
    long hwm = -1;
    long anon = -1;
    long file = -1;
};

MemoryKib memory_kib(pid_t pid) {
    std::ifstream in(fmt::format("/proc/{}/status", pid));
    MemoryKib m;
    for (std::string line; std::getline(in, line);) {
        if (line.starts_with("VmRSS:")) {
            m.rss = std::stol(line.substr(6));
        } else if (line.starts_with("VmHWM:")) {
            m.hwm = std::stol(line.substr(6));
        } else if (line.starts_with("RssAnon:")) {
            m.anon = std::stol(line.substr(8));
        } else if (line.starts_with("RssFile:")) {
            m.file = std::stol(line.substr(8));
        }
    }
    return m;
}

double percentile(std::vector<double> v, double p) {
    if (v.empty()) {
        return 0.0;
    }
    std::sort(v.begin(), v.end());
    const auto index = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(index, v.size() - 1)];
}

struct Daemon {
    rollbot::test::TempDir dir;
    rollbot::test::FakeHttpServer health;
    std::unique_ptr<ChildProcess> process;
    double start_to_hello_ms = 0;

    explicit Daemon(FakeSlackServer& slack) {
        DaemonConfig config;
        config.dir = dir.path().string();
        config.health_url = health.url("/health");
        dir.write("config.yaml", rollbot::test::daemon_config(config));
        const auto t0 = Clock::now();
        process = std::make_unique<ChildProcess>(
            std::vector<std::string>{
                ROLLBOTD_PATH, "--config", dir.file("config.yaml").string(), "--log-level", "warn"},
            slack.daemon_env());
        if (!slack.wait_for_connections(1, kWait)) {
            throw std::runtime_error("the daemon never connected");
        }
        for (const auto& c : slack.connections()) {
            start_to_hello_ms = std::chrono::duration<double, std::milli>(c.opened_at - t0).count();
        }
    }
    ~Daemon() {
        process->send_signal(SIGTERM);
        (void)process->wait_exit(kWait);
    }
};

struct BurstResult {
    std::size_t sent = 0;
    std::size_t acked = 0;
    std::size_t within_3s = 0;
    double p50 = 0, p90 = 0, p99 = 0, max = 0;
    double achieved_rate = 0;
};

// Sends `count` slash commands at `rate` per second, then collects every ack's latency.
BurstResult burst(FakeSlackServer& slack, std::size_t count, double rate) {
    std::vector<std::string> ids;
    ids.reserve(count);
    const auto start = Clock::now();
    const auto interval = std::chrono::duration<double>(1.0 / rate);
    for (std::size_t i = 0; i < count; ++i) {
        std::this_thread::sleep_until(
            start + std::chrono::duration_cast<Clock::duration>(interval * static_cast<double>(i)));
        ids.push_back(slack.send_slash_command("bench", "U0ALICE", "C0INCIDENTS"));
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    (void)slack.wait_for_acks(ids.size(), kWait);
    BurstResult r;
    r.sent = ids.size();
    r.achieved_rate = static_cast<double>(count) / seconds;
    std::vector<double> ms;
    for (const auto& e : slack.envelopes()) {
        if (auto latency = e.ack_latency()) {
            const double v = std::chrono::duration<double, std::milli>(*latency).count();
            ms.push_back(v);
            r.within_3s += v <= 3000.0 ? 1 : 0;
        }
    }
    r.acked = ms.size();
    r.p50 = percentile(ms, 0.50);
    r.p90 = percentile(ms, 0.90);
    r.p99 = percentile(ms, 0.99);
    r.max = ms.empty() ? 0.0 : *std::max_element(ms.begin(), ms.end());
    return r;
}

void run_bursts() {
    std::cout << "\n== ack latency (real rollbotd, fake Slack on loopback) ==\n";
    std::cout << fmt::format("{:>8} {:>8} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10} {:>10}\n",
                             "commands",
                             "rate/s",
                             "achieved",
                             "p50 ms",
                             "p90 ms",
                             "p99 ms",
                             "max ms",
                             "≤3s",
                             "rss KiB",
                             "peak KiB");
    for (const auto& [count, rate] : {std::pair<std::size_t, double>{1000, 500.0},
                                      std::pair<std::size_t, double>{10000, 5000.0}}) {
        FakeSlackServer slack;
        slack.add_user({"U0ALICE", "alice"});
        Daemon daemon(slack);
        const auto idle = memory_kib(daemon.process->pid());
        const auto r = burst(slack, count, rate);
        const auto after = memory_kib(daemon.process->pid());
        std::cout << fmt::format(
            "{:>8} {:>8.0f} {:>9.0f} {:>8.3f} {:>8.3f} {:>8.3f} {:>8.3f} {:>8} {:>10} {:>10}\n",
            r.sent,
            rate,
            r.achieved_rate,
            r.p50,
            r.p90,
            r.p99,
            r.max,
            fmt::format("{}/{}", r.within_3s, r.sent),
            idle.rss,
            after.hwm);
        std::cout << fmt::format(
            "{:>8} memory: idle {} KiB = {} KiB file pages (binary, shared libraries) + {} KiB "
            "anonymous; peak {} KiB; {} KiB anonymous when the last ack arrived\n",
            "",
            idle.rss,
            idle.file,
            idle.anon,
            after.hwm,
            after.anon);
        std::cout << fmt::format(
            "{:>8} start-up: process start to Socket Mode connection {:.1f} ms\n",
            "",
            daemon.start_to_hello_ms);
        std::cout << fmt::format(
            "BENCH scenario=burst commands={} rate={:.0f} achieved_rate={:.0f} acked={} "
            "within_3s={} p50_ms={:.3f} p90_ms={:.3f} p99_ms={:.3f} max_ms={:.3f} "
            "idle_rss_kib={} idle_file_kib={} idle_anon_kib={} peak_rss_kib={} "
            "end_anon_kib={} start_to_hello_ms={:.1f}\n",
            r.sent,
            rate,
            r.achieved_rate,
            r.acked,
            r.within_3s,
            r.p50,
            r.p90,
            r.p99,
            r.max,
            idle.rss,
            idle.file,
            idle.anon,
            after.hwm,
            after.anon,
            daemon.start_to_hello_ms);
    }
}

// Commands every 10 ms across a `disconnect` warning: how many are never acked, and how long
// from the disconnect to the replacement's hello.
void run_refresh() {
    FakeSlackServer slack;
    slack.add_user({"U0ALICE", "alice"});
    Daemon daemon(slack);
    std::vector<std::string> ids;
    std::optional<Clock::time_point> disconnect_at;
    const auto start = Clock::now();
    for (int i = 0; i < 300; ++i) {  // 3 s of traffic, the refresh in the middle
        std::this_thread::sleep_until(start + i * 10ms);
        if (i == 100) {
            disconnect_at = Clock::now();
            slack.send_disconnect("warning");
        }
        ids.push_back(slack.send_slash_command("bench", "U0ALICE", "C0INCIDENTS"));
    }
    (void)slack.wait_for_acks(ids.size(), 10s);
    std::size_t acked = 0;
    for (const auto& e : slack.envelopes()) {
        acked += e.acked_at ? 1U : 0U;
    }
    double gap_ms = -1;
    const auto conns = slack.connections();
    if (conns.size() >= 2 && disconnect_at) {
        gap_ms =
            std::chrono::duration<double, std::milli>(conns[1].opened_at - *disconnect_at).count();
    }
    std::cout << "\n== refresh (disconnect warning, commands every 10 ms) ==\n";
    std::cout << fmt::format("{:>8} {:>8} {:>8} {:>12} {:>14}\n",
                             "sent",
                             "acked",
                             "lost",
                             "connections",
                             "gap to new ms");
    std::cout << fmt::format("{:>8} {:>8} {:>8} {:>12} {:>14.1f}\n",
                             ids.size(),
                             acked,
                             ids.size() - acked,
                             conns.size(),
                             gap_ms);
    std::cout << fmt::format(
        "BENCH scenario=refresh sent={} acked={} lost={} connections={} "
        "disconnect_to_new_connection_ms={:.1f}\n",
        ids.size(),
        acked,
        ids.size() - acked,
        conns.size(),
        gap_ms);
}

// One kubectl invocation as the fake logged it (CLOCK_MONOTONIC, like std::chrono::steady_clock
// on Linux, so comparable with the times taken here).
struct Spawn {
    std::int64_t start_ns = 0;
    std::int64_t end_ns = 0;
};

std::vector<Spawn> read_spawns(const std::filesystem::path& file) {
    std::vector<Spawn> out;
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);) {
        Spawn s;
        if (std::sscanf(line.c_str(),
                        "%lld %lld",
                        reinterpret_cast<long long*>(&s.start_ns),
                        reinterpret_cast<long long*>(&s.end_ns)) == 2) {
            out.push_back(s);
        }
    }
    return out;
}

std::int64_t ns_of(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// How long kubectl ran inside [from, to]: the union of the invocations' intervals.
std::int64_t kubectl_busy_ns(std::vector<Spawn> spawns, std::int64_t from, std::int64_t to) {
    std::sort(spawns.begin(), spawns.end(), [](const Spawn& a, const Spawn& b) {
        return a.start_ns < b.start_ns;
    });
    std::int64_t busy = 0;
    std::int64_t covered = from;
    for (const auto& s : spawns) {
        const std::int64_t begin = std::max(s.start_ns, covered);
        const std::int64_t end = std::min(s.end_ns, to);
        if (end > begin) {
            busy += end - begin;
            covered = end;
        }
    }
    return busy;
}

// rollbot's own cost in a rollback: from the slash command to the first kubectl it starts, and
// the whole run (command to ROLLBACK EXECUTED posted) minus the time kubectl itself was running.
// The fake kubectl logs each invocation's start and end; the cluster is the fake's.
void run_overhead() {
    constexpr int kRuns = 20;
    FakeSlackServer slack;
    slack.add_user({"U0ALICE", "alice"});
    Daemon daemon(slack);
    const auto spawn_file = daemon.dir.file("cluster.json.spawns");
    std::vector<double> first_spawn_ms;
    std::vector<double> run_ms;
    std::vector<double> kubectl_ms;
    std::vector<double> overhead_ms;
    for (int i = 0; i < kRuns; ++i) {
        const std::string reason = fmt::format("bench-run-{}", i);
        // Alternate between an undo (e4d5c6b7 -> abc1234f) and a rollback to e4d5c6b7 by SHA.
        const std::string text =
            fmt::format("backend {}--reason {}", i % 2 == 0 ? "" : "e4d5c6b7 ", reason);
        const auto sent = Clock::now();
        slack.send_slash_command(text, "U0ALICE", "C0INCIDENTS");
        if (!slack.wait_for_post("C0INCIDENTS", "Reason:           " + reason, kWait)) {
            throw std::runtime_error("no ROLLBACK EXECUTED for " + reason);
        }
        const auto reported = Clock::now();
        // The card's last edit comes after the verification, just before the lock is released.
        const std::string card = fmt::format("⏪ *backend rollback to {}* — R{},",
                                             i % 2 == 0 ? "the previous revision" : "e4d5c6b7",
                                             i + 1);
        if (!slack.wait_for_update(card, kWait)) {
            throw std::runtime_error("the card of run " + std::to_string(i + 1) + " never ended");
        }
        // The lock goes once Slack has answered that edit: leave it a moment, outside the
        // measured interval, so the next command is not refused as busy.
        std::this_thread::sleep_for(100ms);
        const auto spawns = read_spawns(spawn_file);
        std::int64_t first = -1;
        for (const auto& s : spawns) {
            if (s.start_ns >= ns_of(sent) && (first < 0 || s.start_ns < first)) {
                first = s.start_ns;
            }
        }
        const double total = std::chrono::duration<double, std::milli>(reported - sent).count();
        const double busy =
            static_cast<double>(kubectl_busy_ns(spawns, ns_of(sent), ns_of(reported))) / 1e6;
        first_spawn_ms.push_back(first < 0 ? -1 : static_cast<double>(first - ns_of(sent)) / 1e6);
        run_ms.push_back(total);
        kubectl_ms.push_back(busy);
        overhead_ms.push_back(total - busy);
    }
    std::cout << "\n== bot overhead (backend rollbacks, fake kubectl, " << kRuns << " runs) ==\n";
    std::cout << fmt::format("{:>28} {:>9} {:>9} {:>9}\n", "", "p50 ms", "p90 ms", "max ms");
    const auto row = [](const char* name, const std::vector<double>& v) {
        std::cout << fmt::format("{:>28} {:>9.2f} {:>9.2f} {:>9.2f}\n",
                                 name,
                                 percentile(v, 0.5),
                                 percentile(v, 0.9),
                                 *std::max_element(v.begin(), v.end()));
    };
    row("command -> first kubectl", first_spawn_ms);
    row("command -> report posted", run_ms);
    row("kubectl running", kubectl_ms);
    row("rollbot's own (run - kubectl)", overhead_ms);
    std::cout << fmt::format(
        "BENCH scenario=overhead runs={} first_spawn_p50_ms={:.2f} first_spawn_max_ms={:.2f} "
        "run_p50_ms={:.2f} kubectl_p50_ms={:.2f} overhead_p50_ms={:.2f} overhead_max_ms={:.2f}\n",
        kRuns,
        percentile(first_spawn_ms, 0.5),
        *std::max_element(first_spawn_ms.begin(), first_spawn_ms.end()),
        percentile(run_ms, 0.5),
        percentile(kubectl_ms, 0.5),
        percentile(overhead_ms, 0.5),
        *std::max_element(overhead_ms.begin(), overhead_ms.end()));
}

}  // namespace

int main(int argc, char** argv) {
    const std::string what = argc > 1 ? argv[1] : "all";
    try {
        if (what == "burst" || what == "all") {
            run_bursts();
        }
        if (what == "refresh" || what == "all") {
            run_refresh();
        }
        if (what == "overhead" || what == "all") {
            run_overhead();
        }
    } catch (const std::exception& e) {
        std::cerr << "slack_bench: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
