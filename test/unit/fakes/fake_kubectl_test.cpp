// The simulated cluster (test/fakes): the fake kubectl's transcripts that rollbot relies on,
// rollback.sh driving it, and fake_erp answering from the same state.

#include "test/support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <memory>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <signal.h>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

const std::string kKubectl = ROLLBOT_FAKES_DIR "/kubectl";
const std::string kRollbackSh = ROLLBOT_FAKES_DIR "/rollback.sh";
const std::string kFakeErp = ROLLBOT_FAKES_DIR "/fake_erp";

struct Transcript {
    std::string out;
    std::string err;
    int code = -1;  // -1: killed after the time limit
};

/// A child process with its stdout and stderr on pipes; killed on destruction if still running.
class Child {
public:
    Child(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env) {
        std::vector<std::string> env_strings;
        for (char** e = environ; *e != nullptr; ++e) {
            const std::string entry = *e;
            const std::string key = entry.substr(0, entry.find('='));
            if (!env.contains(key) && key != "FAKE_KUBECTL_SCENARIO" && key != "DRY_RUN" &&
                key != "KUBECTL") {
                env_strings.push_back(entry);
            }
        }
        for (const auto& [key, value] : env) {
            if (!value.empty()) {
                env_strings.push_back(key + "=" + value);
            }
        }
        std::vector<char*> args;
        std::vector<char*> envp;
        for (const auto& a : argv) {
            args.push_back(const_cast<char*>(a.c_str()));
        }
        for (const auto& e : env_strings) {
            envp.push_back(const_cast<char*>(e.c_str()));
        }
        args.push_back(nullptr);
        envp.push_back(nullptr);
        int out[2];
        int err[2];
        if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
            throw std::runtime_error("pipe2 failed");
        }
        pid_ = fork();
        if (pid_ == 0) {
            dup2(out[1], STDOUT_FILENO);
            dup2(err[1], STDERR_FILENO);
            execve(args[0], args.data(), envp.data());
            _exit(127);
        }
        close(out[1]);
        close(err[1]);
        out_fd_ = out[0];
        err_fd_ = err[0];
    }
    ~Child() {
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
        close(out_fd_);
        close(err_fd_);
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    /// Reads both pipes until they close, then reaps the child; kills it after `limit`.
    Transcript finish(std::chrono::milliseconds limit = 20s) {
        Transcript run;
        run.out = std::move(pending_out_);
        const auto deadline = std::chrono::steady_clock::now() + limit;
        bool out_open = true;
        bool err_open = true;
        while ((out_open || err_open) && pump(out_open, err_open, run, deadline)) {
        }
        if (out_open || err_open) {
            kill(pid_, SIGKILL);
        }
        run.code = reap();
        if (out_open || err_open) {
            run.code = -1;
        }
        return run;
    }

    /// The next line on stdout (without the newline), or nullopt after `limit`.
    std::optional<std::string> read_line(std::chrono::milliseconds limit) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (pending_out_.find('\n') == std::string::npos) {
            pollfd p{out_fd_, POLLIN, 0};
            if (poll(&p, 1, remaining_ms(deadline)) <= 0) {
                return std::nullopt;
            }
            char buf[4096];
            const ssize_t n = read(out_fd_, buf, sizeof buf);
            if (n <= 0) {
                return std::nullopt;
            }
            pending_out_.append(buf, static_cast<std::size_t>(n));
        }
        const auto nl = pending_out_.find('\n');
        std::string line = pending_out_.substr(0, nl);
        pending_out_.erase(0, nl + 1);
        return line;
    }

    /// SIGTERM, then the exit code (-1 if it did not exit within `limit`).
    int terminate(std::chrono::milliseconds limit) {
        kill(pid_, SIGTERM);
        return finish(limit).code;
    }

private:
    static int remaining_ms(std::chrono::steady_clock::time_point deadline) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        return static_cast<int>(std::max<long long>(0, left.count()));
    }
    bool pump(bool& out_open,
              bool& err_open,
              Transcript& run,
              std::chrono::steady_clock::time_point deadline) {
        pollfd fds[2] = {{out_open ? out_fd_ : -1, POLLIN, 0},
                         {err_open ? err_fd_ : -1, POLLIN, 0}};
        if (poll(fds, 2, remaining_ms(deadline)) <= 0) {
            return false;
        }
        char buf[4096];
        for (int i = 0; i < 2; ++i) {
            if ((fds[i].revents & (POLLIN | POLLHUP)) == 0) {
                continue;
            }
            const ssize_t n = read(fds[i].fd, buf, sizeof buf);
            if (n <= 0) {
                (i == 0 ? out_open : err_open) = false;
            } else {
                (i == 0 ? run.out : run.err).append(buf, static_cast<std::size_t>(n));
            }
        }
        return true;
    }
    int reap() {
        int status = 0;
        waitpid(pid_, &status, 0);
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }

    pid_t pid_ = -1;
    int out_fd_ = -1;
    int err_fd_ = -1;
    std::string pending_out_;
};

class FakeKubectl : public ::testing::Test {
protected:
    Transcript kubectl(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
        args.insert(args.begin(), kKubectl);
        env.emplace("KUBECONFIG", state_path_);
        return Child(args, env).finish();
    }
    Transcript rollback_sh(std::vector<std::string> args,
                           std::map<std::string, std::string> env = {}) {
        args.insert(args.begin(), kRollbackSh);
        env.emplace("KUBECONFIG", state_path_);
        return Child(args, env).finish();
    }
    Json state() const { return Json::parse(dir_.read("cluster.json")); }
    void write_state(const Json& state) const { dir_.write("cluster.json", state.dump()); }
    std::string image(const std::string& deployment) {
        const Transcript r = kubectl({"get", "deployment", deployment, "-o", "json"});
        return Json::parse(r.out)["spec"]["template"]["spec"]["containers"][0]["image"];
    }
    std::string history(const std::string& deployment) {
        return kubectl({"rollout", "history", "deployment/" + deployment, "-n", "preskool"}).out;
    }

    rollbot::test::TempDir dir_;
    std::string state_path_ = dir_.file("cluster.json").string();
};

class FakeRollbackScript : public FakeKubectl {};
class FakeErp : public FakeKubectl {};

constexpr std::string_view kBackendRepo = "ghcr.io/your-org/preskool-backend:";
constexpr std::string_view kDefaultHistory =
    "deployment.apps/backend \nREVISION  CHANGE-CAUSE\n1         deploy 9f8e7d6c\n"
    "2         deploy abc1234f\n3         deploy e4d5c6b7\n\n";
constexpr std::string_view kAlembicInfo =
    "INFO  [alembic.runtime.migration] Context impl PostgresqlImpl.\n"
    "INFO  [alembic.runtime.migration] Will assume transactional DDL.\n";

TEST_F(FakeKubectl, HistoryIsByteExact) {
    const Transcript r = kubectl({"rollout", "history", "deployment/backend", "-n", "preskool"});
    EXPECT_EQ(r.out, kDefaultHistory);
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(r.code, 0);
    const Transcript one = kubectl({"rollout", "history", "deployment/backend", "--revision=2"});
    EXPECT_EQ(one.out.rfind("deployment.apps/backend with revision #2\nPod Template:\n", 0), 0u);
    EXPECT_NE(one.out.find("    Image:\tghcr.io/your-org/preskool-backend:abc1234f\n"),
              std::string::npos);
}

TEST_F(FakeKubectl, UndoRenumbersRevisionsAndASecondUndoGoesBack) {
    const Transcript r = kubectl({"rollout", "undo", "deployment/backend", "-n", "preskool"});
    EXPECT_EQ(r.out, "deployment.apps/backend rolled back\n");
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(r.code, 0);
    EXPECT_EQ(image("backend"), std::string(kBackendRepo) + "abc1234f");
    EXPECT_EQ(history("backend"),
              "deployment.apps/backend \nREVISION  CHANGE-CAUSE\n1         deploy 9f8e7d6c\n"
              "3         deploy e4d5c6b7\n4         deploy abc1234f\n\n");

    EXPECT_EQ(kubectl({"rollout", "undo", "deployment/backend"}).code, 0);
    EXPECT_EQ(image("backend"), std::string(kBackendRepo) + "e4d5c6b7");
    EXPECT_EQ(history("backend"),
              "deployment.apps/backend \nREVISION  CHANGE-CAUSE\n1         deploy 9f8e7d6c\n"
              "4         deploy abc1234f\n5         deploy e4d5c6b7\n\n");
}

TEST_F(FakeKubectl, UndoToTheCurrentTemplateIsSkipped) {
    const Transcript r = kubectl({"rollout", "undo", "deployment/backend", "--to-revision=3"});
    EXPECT_EQ(r.out,
              "deployment.apps/backend skipped rollback (current template already matches "
              "revision 3)\n");
    EXPECT_EQ(r.code, 0);
    EXPECT_EQ(history("backend"), kDefaultHistory);
}

TEST_F(FakeKubectl, UndoErrors) {
    Json s = {{"deployments",
               {{"worker",
                 {{"replicas", 1},
                  {"replicasets",
                   {{{"revision", 1},
                     {"containers", {{{"name", "worker"}, {"image", "w:1111111"}}}}}}}}}}}};
    write_state(s);
    Transcript r = kubectl({"rollout", "undo", "deployment/worker"});
    EXPECT_EQ(r.err, "error: no rollout history found for deployment \"worker\"\n");
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.code, 1);
    r = kubectl({"rollout", "undo", "deployment/worker", "--to-revision=9"});
    EXPECT_EQ(r.err, "error: unable to find specified revision 9 in history\n");
    EXPECT_EQ(r.code, 1);
    r = kubectl({"rollout", "undo", "deployment/nosuch"});
    EXPECT_EQ(r.err, "Error from server (NotFound): deployments.apps \"nosuch\" not found\n");
    EXPECT_EQ(r.code, 1);
}

TEST_F(FakeKubectl, PausedDeploymentRefusesUndo) {
    ASSERT_EQ(kubectl({"rollout", "pause", "deployment/backend"}).code, 0);
    const Transcript r = kubectl({"rollout", "undo", "deployment/backend"});
    EXPECT_EQ(r.err,
              "error: you cannot rollback a paused deployment; resume it first with 'kubectl "
              "rollout resume' and try again\n");
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(history("backend"), kDefaultHistory);
}

TEST_F(FakeKubectl, UndoDryRunsChangeNothing) {
    Transcript r = kubectl({"rollout", "undo", "deployment/backend", "--dry-run=server"});
    EXPECT_EQ(r.out, "deployment.apps/backend rolled back (server dry run)\n");
    EXPECT_EQ(r.code, 0);
    r = kubectl({"rollout", "undo", "deployment/backend", "--dry-run=client"});
    EXPECT_EQ(r.out.rfind("deployment.apps/backend Pod Template:\n", 0), 0u);
    EXPECT_NE(r.out.find("    Image:\tghcr.io/your-org/preskool-backend:abc1234f\n"),
              std::string::npos);
    EXPECT_TRUE(r.out.ends_with("\n (dry run)\n"));
    EXPECT_EQ(r.code, 0);
    EXPECT_EQ(history("backend"), kDefaultHistory);
    EXPECT_EQ(image("backend"), std::string(kBackendRepo) + "e4d5c6b7");
}

TEST_F(FakeKubectl, SetImageNewSameAndReusedRevision) {
    const std::string deadbeef = std::string("backend=") + std::string(kBackendRepo) + "deadbeef";
    Transcript r = kubectl({"set", "image", "deployment/backend", deadbeef, "-n", "preskool"});
    EXPECT_EQ(r.out, "deployment.apps/backend image updated\n");
    EXPECT_EQ(r.code, 0);
    EXPECT_NE(kubectl({"rollout", "history", "deployment/backend", "--revision=4"})
                  .out.find("Image:\tghcr.io/your-org/preskool-backend:deadbeef\n"),
              std::string::npos);

    const int generation = state()["deployments"]["backend"]["generation"];
    r = kubectl({"set", "image", "deployment/backend", deadbeef});
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(r.code, 0);
    EXPECT_EQ(state()["deployments"]["backend"]["generation"], generation);

    r = kubectl({"set",
                 "image",
                 "deployment/backend",
                 std::string("backend=") + std::string(kBackendRepo) + "9f8e7d6c"});
    EXPECT_EQ(r.code, 0);
    // Revision 1's ReplicaSet is reused: it becomes 5 and 1 disappears.
    const Transcript rs = kubectl({"rollout", "history", "deployment/backend", "-o", "json"});
    std::vector<std::string> revisions;
    std::string reused_history;
    const std::string docs = rs.out;
    for (std::size_t at = docs.find("{\n"); at != std::string::npos;) {
        const std::size_t next = docs.find("\n{\n", at);
        const Json doc = Json::parse(docs.substr(at, next == std::string::npos ? next : next - at));
        const auto& ann = doc["metadata"]["annotations"];
        revisions.push_back(ann["deployment.kubernetes.io/revision"]);
        if (doc["spec"]["template"]["spec"]["containers"][0]["image"].get<std::string>().ends_with(
                "9f8e7d6c")) {
            reused_history = ann.value("deployment.kubernetes.io/revision-history", "");
        }
        EXPECT_EQ(doc["metadata"]["ownerReferences"][0]["kind"], "Deployment");
        at = next == std::string::npos ? next : next + 1;
    }
    EXPECT_EQ(revisions, (std::vector<std::string>{"2", "3", "4", "5"}));
    EXPECT_EQ(reused_history, "1");

    r = kubectl({"set", "image", "deployment/backend", "nosuch=x:1"});
    EXPECT_EQ(r.err, "error: unable to find container named \"nosuch\"\n");
    EXPECT_EQ(r.code, 1);
}

TEST_F(FakeKubectl, RolloutStatusHealthyCompletesTheRollout) {
    ASSERT_EQ(kubectl({"rollout", "undo", "deployment/backend"}).code, 0);
    Json dep = Json::parse(kubectl({"get", "deployment", "backend", "-o", "json"}).out);
    EXPECT_EQ(dep["status"]["updatedReplicas"], 1);
    const Transcript r = kubectl({"rollout", "status", "deployment/backend", "--timeout=120s"});
    EXPECT_EQ(r.out.rfind("Waiting for deployment \"backend\" rollout to finish: ", 0), 0u);
    EXPECT_TRUE(r.out.ends_with("\ndeployment \"backend\" successfully rolled out\n"));
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(r.code, 0);
    dep = Json::parse(kubectl({"get", "deployment", "backend", "-o", "json"}).out);
    for (const char* key : {"replicas", "updatedReplicas", "readyReplicas", "availableReplicas"}) {
        EXPECT_EQ(dep["status"][key], 2) << key;
    }
}

TEST_F(FakeKubectl, RolloutStatusOfABadImageTimesOutWithoutWaiting) {
    write_state({{"bad_images", {{"e4d5c6b7", "crashloop"}}}});
    const auto started = std::chrono::steady_clock::now();
    Transcript r = kubectl({"rollout", "status", "deployment/backend", "--timeout=120s"});
    EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
    EXPECT_EQ(r.out,
              "Waiting for deployment \"backend\" rollout to finish: 1 out of 2 new replicas have "
              "been updated...\n");
    EXPECT_EQ(r.err, "error: timed out waiting for the condition\n");
    EXPECT_EQ(r.code, 1);
    const Json dep = Json::parse(kubectl({"get", "deployment", "backend", "-o", "json"}).out);
    EXPECT_EQ(dep["status"]["updatedReplicas"], 1);
    EXPECT_EQ(dep["status"]["replicas"], 3);

    write_state({{"bad_images", {{"e4d5c6b7", "deadline"}}}});
    r = kubectl({"rollout", "status", "deployment/backend", "--timeout=120s"});
    EXPECT_EQ(r.err, "error: deployment \"backend\" exceeded its progress deadline\n");
    EXPECT_EQ(r.code, 1);
}

TEST_F(FakeKubectl, StatusDelayIsBoundedByTheTimeout) {
    write_state({{"status_delay_ms", 60000}});
    ASSERT_EQ(kubectl({"rollout", "undo", "deployment/backend"}).code, 0);
    Transcript r = kubectl({"rollout", "status", "deployment/backend", "--timeout=300ms"});
    EXPECT_EQ(r.err, "error: timed out waiting for the condition\n");
    EXPECT_EQ(r.code, 1);
    Json s = state();
    s["status_delay_ms"] = 50;
    write_state(s);
    r = kubectl({"rollout", "status", "deployment/backend", "--timeout=30s"});
    EXPECT_TRUE(r.out.ends_with("deployment \"backend\" successfully rolled out\n"));
    EXPECT_EQ(r.code, 0);
}

TEST_F(FakeKubectl, GetDeploymentJson) {
    const Transcript r = kubectl({"get", "deployment", "backend", "-n", "preskool", "-o", "json"});
    ASSERT_EQ(r.code, 0) << r.err;
    const Json d = Json::parse(r.out);
    EXPECT_EQ(d["kind"], "Deployment");
    EXPECT_EQ(d["metadata"]["name"], "backend");
    EXPECT_EQ(d["metadata"]["namespace"], "preskool");
    EXPECT_FALSE(d["metadata"]["uid"].get<std::string>().empty());
    EXPECT_EQ(d["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "3");
    EXPECT_EQ(d["metadata"]["annotations"]["kubernetes.io/change-cause"], "deploy e4d5c6b7");
    EXPECT_EQ(d["spec"]["replicas"], 2);
    EXPECT_EQ(d["spec"]["selector"]["matchLabels"]["app"], "backend");
    EXPECT_EQ(d["spec"]["template"]["spec"]["containers"][0]["name"], "backend");
    EXPECT_EQ(d["status"]["observedGeneration"], d["metadata"]["generation"]);
    EXPECT_EQ(d["status"]["availableReplicas"], 2);
    std::vector<std::string> types;
    for (const auto& c : d["status"]["conditions"]) {
        types.push_back(c["type"]);
    }
    EXPECT_EQ(types, (std::vector<std::string>{"Available", "Progressing"}));
    for (const char* form : {"deployment/backend", "deploy/backend"}) {
        EXPECT_EQ(Json::parse(kubectl({"get", form, "-o", "json"}).out)["metadata"]["name"],
                  "backend");
    }
}

TEST_F(FakeKubectl, PodsAndEventsShowTheFailureMode) {
    for (const std::string mode : {"crashloop", "oomkilled", "imagepull"}) {
        write_state({{"bad_images", {{"e4d5c6b7", mode}}}});
        const Json rs = Json::parse(kubectl({"get", "rs", "-l", "app=backend", "-o", "json"}).out);
        std::string hash;
        for (const auto& item : rs["items"]) {
            if (item["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3") {
                hash = item["metadata"]["labels"]["pod-template-hash"];
            }
        }
        ASSERT_FALSE(hash.empty());
        const Json pods = Json::parse(
            kubectl({"get", "pods", "-l", "app=backend,pod-template-hash=" + hash, "-o", "json"})
                .out);
        ASSERT_EQ(pods["items"].size(), 1u) << mode;
        const Json& pod = pods["items"][0];
        EXPECT_EQ(pod["metadata"]["ownerReferences"][0]["name"], "backend-" + hash);
        const Json& cs = pod["status"]["containerStatuses"][0];
        EXPECT_FALSE(cs["ready"].get<bool>());
        if (mode == "imagepull") {
            EXPECT_EQ(cs["state"]["waiting"]["reason"], "ImagePullBackOff");
        } else {
            EXPECT_EQ(cs["state"]["waiting"]["reason"], "CrashLoopBackOff");
            EXPECT_GE(cs["restartCount"].get<int>(), 3);
            EXPECT_EQ(cs["lastState"]["terminated"]["reason"],
                      mode == "oomkilled" ? "OOMKilled" : "Error");
            if (mode == "oomkilled") {
                EXPECT_EQ(cs["lastState"]["terminated"]["exitCode"], 137);
            }
        }
        const Json events = Json::parse(kubectl({"get",
                                                 "events",
                                                 "--field-selector",
                                                 "involvedObject.kind=Pod,type=Warning",
                                                 "--sort-by=.lastTimestamp",
                                                 "-o",
                                                 "json"})
                                            .out);
        ASSERT_FALSE(events["items"].empty()) << mode;
        EXPECT_EQ(events["items"][0]["involvedObject"]["name"], pod["metadata"]["name"]);
    }
    write_state(Json::object());
    const Json events = Json::parse(
        kubectl({"get", "events", "--field-selector", "type=Warning", "-o", "json"}).out);
    EXPECT_TRUE(events["items"].empty());
}

TEST_F(FakeKubectl, AlembicCurrentAndDowngrade) {
    Transcript r = kubectl({"exec",
                            "-n",
                            "preskool",
                            "deployment/backend",
                            "-c",
                            "backend",
                            "--",
                            "alembic",
                            "current"});
    EXPECT_EQ(r.out, "3f2a1b4c5d6e (head)\n");
    EXPECT_EQ(r.err, kAlembicInfo);
    EXPECT_EQ(r.code, 0);
    r = kubectl({"exec",
                 "deploy/backend",
                 "--",
                 "/usr/local/bin/alembic",
                 "-c",
                 "alembic.ini",
                 "downgrade",
                 "-1"});
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err,
              std::string(kAlembicInfo) +
                  "INFO  [alembic.runtime.migration] Running downgrade 3f2a1b4c5d6e -> "
                  "ae1027a6acf, create fee_payments table\n");
    EXPECT_EQ(r.code, 0);
    EXPECT_EQ(kubectl({"exec", "deploy/backend", "--", "alembic", "current"}).out, "ae1027a6acf\n");
    r = kubectl({"exec", "deploy/backend", "--", "alembic", "history"});
    EXPECT_EQ(r.out,
              "ae1027a6acf -> 3f2a1b4c5d6e (head), create fee_payments table\n"
              "1975ea83b712 -> ae1027a6acf, add fees column\n"
              "<base> -> 1975ea83b712, create students table\n");
}

TEST_F(FakeKubectl, AlembicErrorsExit255ThroughExec) {
    Transcript r = kubectl({"exec", "deploy/backend", "--", "alembic", "downgrade", "nosuchrev"});
    EXPECT_EQ(r.out, "FAILED: Can't locate revision identified by 'nosuchrev'\n");
    EXPECT_TRUE(r.err.ends_with(
        "ERROR [alembic.util.messaging] Can't locate revision identified by 'nosuchrev'\n"
        "command terminated with exit code 255\n"));
    EXPECT_EQ(r.code, 255);
    r = kubectl({"exec", "deploy/backend", "--", "alembic", "downgrade", "-5"});
    EXPECT_EQ(r.out, "FAILED: Relative revision -5 didn't produce 5 migrations\n");
    EXPECT_EQ(r.code, 255);
    r = kubectl({"exec", "deploy/backend", "--", "alembic", "downgrade", "-1", "--sql"});
    EXPECT_EQ(r.out, "FAILED: downgrade with --sql requires <fromrev>:<torev>\n");
    EXPECT_EQ(r.code, 255);
    EXPECT_EQ(state()["alembic"]["current"], "3f2a1b4c5d6e");
}

TEST_F(FakeKubectl, AlembicOfflineSqlChangesNothing) {
    const Transcript r = kubectl(
        {"exec", "deploy/backend", "--", "alembic", "downgrade", "head:1975ea83b712", "--sql"});
    EXPECT_EQ(r.out,
              "BEGIN;\n\n-- Running downgrade 3f2a1b4c5d6e -> ae1027a6acf\n\n"
              "DROP TABLE fee_payments;\n\n"
              "UPDATE alembic_version SET version_num='ae1027a6acf' WHERE "
              "alembic_version.version_num = '3f2a1b4c5d6e';\n\n"
              "-- Running downgrade ae1027a6acf -> 1975ea83b712\n\n"
              "ALTER TABLE students DROP COLUMN fees_due;\n\n"
              "UPDATE alembic_version SET version_num='1975ea83b712' WHERE "
              "alembic_version.version_num = 'ae1027a6acf';\n\nCOMMIT;\n\n");
    EXPECT_EQ(r.code, 0);
    EXPECT_EQ(state()["alembic"]["current"], "3f2a1b4c5d6e");
}

TEST_F(FakeKubectl, ExecPassesTheRemoteExitCodeThrough) {
    Transcript r = kubectl({"exec", "deploy/backend", "--", "sh", "-c", "exit 3"});
    EXPECT_EQ(r.err, "command terminated with exit code 3\n");
    EXPECT_EQ(r.code, 3);
    r = kubectl({"exec", "deploy/backend", "-c", "sidecar", "--", "alembic", "current"});
    EXPECT_EQ(r.err, "error: unable to upgrade connection: container not found (\"sidecar\")\n");
    EXPECT_EQ(r.code, 1);
}

TEST_F(FakeKubectl, FaultReplacesTheCommandForItsTimes) {
    const std::string forbidden =
        "error: failed restoring revision 0: deployments.apps \"backend\" is forbidden: User "
        "\"system:serviceaccount:preskool:rollback-bot\" cannot patch resource \"deployments\"\n";
    write_state({{"faults",
                  {{{"match", "rollout undo deployment/backend"},
                    {"stderr", forbidden},
                    {"exit", 1},
                    {"sleep_ms", 200},
                    {"times", 1}}}}});
    const auto started = std::chrono::steady_clock::now();
    Transcript r = kubectl({"rollout", "undo", "deployment/backend", "-n", "preskool"});
    EXPECT_GE(std::chrono::steady_clock::now() - started, 200ms);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, forbidden);
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(history("backend"), kDefaultHistory);
    r = kubectl({"rollout", "undo", "deployment/backend", "-n", "preskool"});
    EXPECT_EQ(r.out, "deployment.apps/backend rolled back\n");
}

TEST_F(FakeKubectl, RecordsEveryCallAndHonoursKubeconfigFlag) {
    ASSERT_EQ(kubectl({"get", "deployment", "backend", "-o", "json"}).code, 0);
    Transcript r = kubectl({"--kubeconfig=" + state_path_,
                            "--context",
                            "prod",
                            "rollout",
                            "history",
                            "deploy/frontend"},
                           {{"KUBECONFIG", dir_.file("elsewhere.json").string()}});
    EXPECT_EQ(r.code, 0);
    const Json s = state();
    EXPECT_EQ(s["calls"],
              Json::parse(R"([["get","deployment","backend","-o","json"],
                 ["--kubeconfig=)" +
                          state_path_ +
                          R"(","--context","prod","rollout","history","deploy/frontend"]])"));
    EXPECT_EQ(s["last_context"], "prod");
    EXPECT_FALSE(std::filesystem::exists(dir_.file("elsewhere.json")));
}

TEST_F(FakeKubectl, ConcurrentCallsAreAllRecorded) {
    std::vector<std::unique_ptr<Child>> children;
    for (int i = 0; i < 8; ++i) {
        children.push_back(std::make_unique<Child>(
            std::vector<std::string>{kKubectl, "get", "pods", "-o", "json"},
            std::map<std::string, std::string>{{"KUBECONFIG", state_path_}}));
    }
    for (auto& child : children) {
        EXPECT_EQ(child->finish().code, 0);
    }
    EXPECT_EQ(state()["calls"].size(), 8u);
}

TEST_F(FakeKubectl, NamespaceAndConnectionErrors) {
    Transcript r = kubectl({"get", "deployment", "backend", "-n", "nosuch", "-o", "json"});
    EXPECT_EQ(r.err, "Error from server (NotFound): namespaces \"nosuch\" not found\n");
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(kubectl({"--namespace=preskool", "get", "deploy", "backend", "-o", "name"}).out,
              "deployment.apps/backend\n");
    r = Child({kKubectl, "get", "pods"}, {{"KUBECONFIG", ""}}).finish();
    EXPECT_EQ(r.err,
              "The connection to the server localhost:8080 was refused - did you specify the "
              "right host or port?\n");
    EXPECT_EQ(r.code, 1);
    r = kubectl({"frobnicate"});
    EXPECT_EQ(r.err.rfind("Error: unknown command \"frobnicate\" for \"kubectl\"\n", 0), 0u);
    EXPECT_EQ(r.code, 1);
}

TEST_F(FakeRollbackScript, DryRunChangesNothing) {
    const Transcript r = rollback_sh({}, {{"DRY_RUN", "true"}});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(
        r.out.find("[dry run] would run: kubectl rollout undo deployment/backend -n preskool\n"),
        std::string::npos);
    EXPECT_EQ(history("backend"), kDefaultHistory);
    EXPECT_EQ(image("frontend"), "ghcr.io/your-org/preskool-frontend:5e6f7a8b");
    const Json after = state();  // a range-for over state()["calls"] would outlive state()
    ASSERT_FALSE(after["calls"].empty()) << "the dry run still reads the history";
    for (const auto& call : after["calls"]) {
        const bool undo = call.at(0) == "rollout" && call.at(1) == "undo";
        const bool set = call.at(0) == "set";
        EXPECT_FALSE(undo || set) << "a dry run changed something: " << call.dump();
    }
    EXPECT_NE(dir_.read("cluster.json.rollback.log").find("DRY_RUN=true"), std::string::npos);
}

TEST_F(FakeRollbackScript, RollsBothDeploymentsBackAndStopsOnFailure) {
    Transcript r = rollback_sh({});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("==> rolling back backend\n"), std::string::npos);
    EXPECT_EQ(image("backend"), std::string(kBackendRepo) + "abc1234f");
    EXPECT_EQ(image("frontend"), "ghcr.io/your-org/preskool-frontend:1a2b3c4d");
    const Json dep = Json::parse(kubectl({"get", "deployment", "frontend", "-o", "json"}).out);
    EXPECT_EQ(dep["status"]["updatedReplicas"], 2);

    r = rollback_sh({"not-a-sha"});
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("usage: rollback.sh"), std::string::npos);
    write_state({{"faults",
                  {{{"match", "rollout undo deployment/frontend"},
                    {"stderr", "error: boom\n"},
                    {"exit", 1}}}}});
    r = rollback_sh({"--frontend-only"});
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(r.err.rfind("error: boom\n", 0), 0u);
}

/// One HTTP/1.1 exchange with fake_erp on loopback; returns the raw response.
std::string http_exchange(int port, const std::string& request) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval limit{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    std::string response;
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
        char buf[4096];
        for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) {
            response.append(buf, static_cast<std::size_t>(n));
        }
    }
    close(fd);
    return response;
}

TEST_F(FakeErp, HealthAndMetricsFollowTheCluster) {
    Child erp({kFakeErp, "--port", "0", "--cluster", state_path_}, {});
    const auto line = erp.read_line(10s);
    ASSERT_TRUE(line && line->rfind("listening 127.0.0.1:", 0) == 0) << line.value_or("");
    const int port = std::stoi(line->substr(line->rfind(':') + 1));
    const auto get = [port](const std::string& target) {
        return http_exchange(port,
                             "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    };
    std::string res = get("/api/v1/health");
    EXPECT_EQ(res.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << res;
    EXPECT_TRUE(res.ends_with("\r\n\r\n{\"status\":\"ok\"}")) << res;

    write_state({{"bad_images", {{"e4d5c6b7", "crashloop"}}}});
    res = get("/api/v1/health");
    EXPECT_EQ(res.rfind("HTTP/1.1 503 ", 0), 0u) << res;
    const std::string form = "query=sum%28rate%28http_req_failed%5B5m%5D%29%29";
    res = http_exchange(port,
                        "POST /api/v1/query HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
                            std::to_string(form.size()) + "\r\n\r\n" + form);
    const Json body = Json::parse(res.substr(res.find("\r\n\r\n") + 4));
    EXPECT_EQ(body["status"], "success");
    EXPECT_EQ(body["data"]["result"][0]["value"][1], "0.27");
    res = get("/api/v1/query?query=histogram_quantile%280.95%2C+x%29");
    EXPECT_EQ(Json::parse(res.substr(res.find("\r\n\r\n") + 4))["data"]["result"][0]["value"][1],
              "2.8");
    EXPECT_EQ(get("/nope").rfind("HTTP/1.1 404 ", 0), 0u);
    EXPECT_EQ(erp.terminate(10s), 0);
}

}  // namespace
