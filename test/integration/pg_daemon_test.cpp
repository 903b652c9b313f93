// rollbotd with state.url: `--verify-audit` reads the chain from PostgreSQL (the URL from
// ROLLBOT_STATE_URL_FILE, as a Kubernetes Secret provides it), two replicas elect one leader,
// and nothing of the URL's password reaches the output, whatever fails.

#include "bot/store/pg_store.hpp"
#include "test/support/async.hpp"
#include "test/support/child_process.hpp"
#include "test/support/daemon_config.hpp"
#include "test/support/fake_http_server.hpp"
#include "test/support/fake_prometheus.hpp"
#include "test/support/fake_slack_server.hpp"
#include "test/support/http_get.hpp"
#include "test/support/pg_server.hpp"
#include "test/support/temp_dir.hpp"

#include <boost/asio/io_context.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>

namespace rollbot::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::chrono::seconds kWait{30};
constexpr std::string_view kPassword = "pw-never-shown-7731";

class PgDaemonTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string why;
        server_ = shared_pg_server(why);
        ASSERT_NE(server_, nullptr) << why;
        db_ = server_->fresh_database(why);
        ASSERT_FALSE(db_.empty()) << why;
        DaemonConfig config;
        config.dir = dir_.path().string();
        config.health_url = "http://127.0.0.1:9/api/v1/health";  // never asked: nothing runs
        dir_.write("config.yaml", daemon_config(config));
        // Trust authentication ignores the password: it is there to be kept out of the output.
        url_file_ = dir_.write("state-url", server_->uri_with_password(db_, std::string(kPassword)))
                        .string();
    }

    struct Outcome {
        int code = -1;
        std::string output;
    };

    Outcome rollbotd(std::vector<std::string> args, const std::string& url_file) {
        std::vector<std::string> argv{ROLLBOTD_PATH, "--config", dir_.file("config.yaml").string()};
        argv.insert(argv.end(), args.begin(), args.end());
        ChildProcess child(argv, {{"ROLLBOT_STATE_URL_FILE", url_file}});
        const auto code = child.wait_exit(kWait);
        return {code.value_or(-1), child.out() + child.err()};
    }

    void append_audit(int n) {
        boost::asio::io_context io;
        auto store = run_task(io, store::PgStore::open(io.get_executor(), server_->uri(db_), {}));
        ASSERT_TRUE(store) << store.error().message;
        for (int i = 1; i <= n; ++i) {
            core::AuditEntry entry{core::AuditKind::Request,
                                   core::RequestId{"R" + std::to_string(i)},
                                   core::UserId{"U0ALICE"},
                                   "kind=db"};
            ASSERT_TRUE(run_task(io, (*store)->audit(entry, std::chrono::system_clock::now())));
        }
    }

    Outcome psql(const std::string& sql) {
        ChildProcess child({"/usr/bin/psql",
                            "-X",
                            "-q",
                            "-v",
                            "ON_ERROR_STOP=1",
                            "-d",
                            server_->conninfo(db_),
                            "-c",
                            sql});
        const auto code = child.wait_exit(kWait);
        return {code.value_or(-1), child.out() + child.err()};
    }

    TempDir dir_;
    PgServer* server_ = nullptr;
    std::string db_;
    std::string url_file_;
};

TEST_F(PgDaemonTest, VerifyAuditReadsTheChainFromPostgresql) {
    append_audit(3);
    const auto ok = rollbotd({"--verify-audit"}, url_file_);
    EXPECT_EQ(ok.code, 0) << ok.output;
    EXPECT_THAT(ok.output, HasSubstr("audit trail in PostgreSQL (state.url) is intact: 3 records"));
    EXPECT_THAT(ok.output, Not(HasSubstr(std::string(kPassword))));
    const auto tampered = psql(
        "ALTER TABLE audit DISABLE TRIGGER USER; UPDATE audit SET actor = 'U0MALLORY' WHERE seq = "
        "2");
    ASSERT_EQ(tampered.code, 0) << tampered.output;
    const auto broken = rollbotd({"--verify-audit"}, url_file_);
    EXPECT_EQ(broken.code, 1) << broken.output;
    EXPECT_THAT(broken.output, HasSubstr("is BROKEN at record 2"));
}

TEST_F(PgDaemonTest, AnUnknownDatabaseIsAClearErrorWithoutThePassword) {
    const auto wrong =
        dir_.write("wrong-url", server_->uri_with_password("no_such_db", std::string(kPassword)));
    const auto r = rollbotd({"--verify-audit"}, wrong.string());
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_THAT(r.output, HasSubstr("no_such_db"));
    EXPECT_THAT(r.output, Not(HasSubstr(std::string(kPassword))));
}

// Two replicas on one database and one fake Slack: the one that took the lease is the only
// one on Slack; a standby waits, ready.
class TwoReplicas : public PgDaemonTest {
protected:
    std::unique_ptr<ChildProcess> replica(FakeSlackServer& slack,
                                          const std::string& lease,
                                          const std::string& log_level = "info") {
        DaemonConfig config;
        config.dir = dir_.path().string();
        config.health_url = health_.url("/api/v1/health");
        config.prometheus_url = health_.base_url();
        auto text = daemon_config(config);
        const std::string section = "state:\n";
        text.insert(text.find(section) + section.size(), "  lease: " + lease + "\n");
        dir_.write("replica.yaml", text);
        auto env = slack.daemon_env();
        env.emplace_back("ROLLBOT_STATE_URL_FILE", url_file_);
        return std::make_unique<ChildProcess>(
            std::vector<std::string>{ROLLBOTD_PATH,
                                     "--config",
                                     dir_.file("replica.yaml").string(),
                                     "--log-level",
                                     log_level},
            env);
    }

    static void add_people(FakeSlackServer& slack) {
        slack.add_user({"U0ALICE", "alice"});
        slack.add_user({"U0BOB", "bob"});
        slack.add_usergroup("S0DBA", {"U0BOB"});
    }

    FakeHttpServer health_{fake_erp_handler()};
};

TEST_F(TwoReplicas, OnlyTheLeaderIsOnSlackAndAStandbyReplacesAKilledOneAtOnce) {
    FakeSlackServer slack;
    add_people(slack);
    // A lease of a minute: the standby can only be quick by seeing the dead leader's
    // connection gone, not by waiting for the lease to run out.
    auto first = replica(slack, "60s");
    ASSERT_TRUE(slack.wait_for_connections(1, kWait));
    ASSERT_TRUE(first->wait_for_stderr("replication.leader", kWait));
    auto second = replica(slack, "60s", "debug");
    ASSERT_TRUE(second->wait_for_stderr("replication.standby", kWait));
    // Killed just after the standby found the lease held: the standby's next try is a whole
    // poll away, the usual case rather than the lucky one.
    ASSERT_TRUE(second->wait_for_stderr("replication.lease_held_elsewhere", kWait));
    ASSERT_TRUE(second->wait_for_stderr("http.listening", kWait));
    const auto port = listening_port(second->err());
    ASSERT_TRUE(port.has_value());
    const auto standby_ready = http_get(*port, "/readyz");
    EXPECT_EQ(standby_ready.status, 200) << standby_ready.body;
    EXPECT_THAT(standby_ready.body, HasSubstr("standby"));
    EXPECT_EQ(slack.connections_opened(), 1U) << "the standby stays off Slack";

    const auto killed = FakeSlackClock::now();
    first->send_signal(SIGKILL);
    ASSERT_TRUE(first->wait_exit(kWait).has_value());
    ASSERT_TRUE(slack.wait_for_opened(2, std::chrono::seconds(30)))
        << "the standby did not take over well before the 60 s lease ran out";
    const auto took = slack.connections().at(1).opened_at - killed;
    std::printf("failover: leader SIGKILL -> standby's Socket Mode connection in %lld ms\n",
                static_cast<long long>(
                    std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
    EXPECT_TRUE(second->wait_for_stderr("replication.leader", kWait));
    const auto id = slack.send_slash_command("help", "U0ALICE", "C0INCIDENTS");
    EXPECT_TRUE(slack.wait_for_ack(id, kWait)) << "the new leader serves";
    const auto leader_ready = http_get(*port, "/readyz");
    EXPECT_THAT(leader_ready.body, HasSubstr("leader (term 2"));
    second->send_signal(SIGTERM);
    EXPECT_EQ(second->wait_exit(kWait), 0) << second->err();
}

TEST_F(TwoReplicas, AFrozenLeaderIsReplacedAndStepsDownWithoutActingWhenItWakes) {
    FakeSlackServer slack;
    add_people(slack);
    auto first = replica(slack, "3s");
    ASSERT_TRUE(slack.wait_for_connections(1, kWait));
    ASSERT_TRUE(first->wait_for_stderr("replication.leader", kWait));
    auto second = replica(slack, "3s");
    ASSERT_TRUE(second->wait_for_stderr("replication.standby", kWait));
    const auto frozen = FakeSlackClock::now();
    first->send_signal(SIGSTOP);  // its connections stay open: only the lease's expiry helps
    ASSERT_TRUE(slack.wait_for_opened(2, kWait));
    const auto took = slack.connections().at(1).opened_at - frozen;
    std::printf(
        "failover: leader SIGSTOP -> standby's Socket Mode connection in %lld ms "
        "(lease 3 s)\n",
        static_cast<long long>(
            std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
    ASSERT_TRUE(second->wait_for_stderr("replication.leader", kWait));
    const auto posts_before = slack.posts().size();
    const auto updates_before = slack.updates().size();
    first->send_signal(SIGCONT);
    EXPECT_EQ(first->wait_exit(kWait), 75) << "deposed: it stops for its supervisor to restart it";
    EXPECT_THAT(first->err(), HasSubstr("daemon.deposed"));
    EXPECT_EQ(slack.posts().size(), posts_before) << "the old leader posted nothing";
    EXPECT_EQ(slack.updates().size(), updates_before);
    second->send_signal(SIGTERM);
    EXPECT_EQ(second->wait_exit(kWait), 0) << second->err();
}

TEST_F(TwoReplicas, ADatabaseUnreachableAtStartIsNotReadyAndStaysOffSlack) {
    FakeSlackServer slack;
    add_people(slack);
    TempDir nowhere;
    url_file_ = dir_.write("nowhere-url",
                           "postgresql://rollbot:" + std::string(kPassword) +
                               "@/rollbot?host=" + nowhere.path().string())
                    .string();
    auto bot = replica(slack, "15s");
    ASSERT_TRUE(bot->wait_for_stderr("replication.database_unreachable", kWait));
    ASSERT_TRUE(bot->wait_for_stderr("http.listening", kWait));
    const auto port = listening_port(bot->err());
    ASSERT_TRUE(port.has_value());
    const auto ready = http_get(*port, "/readyz");
    EXPECT_EQ(ready.status, 503);
    EXPECT_THAT(ready.body, HasSubstr("connecting to PostgreSQL"));
    EXPECT_EQ(slack.connections_opened(), 0U);
    EXPECT_THAT(bot->err() + ready.body, Not(HasSubstr(std::string(kPassword))));
    bot->send_signal(SIGTERM);
    EXPECT_EQ(bot->wait_exit(kWait), 0) << bot->err();
}

}  // namespace
}  // namespace rollbot::test
