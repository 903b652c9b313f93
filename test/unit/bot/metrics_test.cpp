#include "bot/metrics.hpp"

#include "bot/ops.hpp"
#include "test/support/exposition.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace rollbot::core {
namespace {

using test::Exposition;
using test::parse_exposition;
using ::testing::HasSubstr;

Exposition parsed(const std::string& text) {
    auto result = parse_exposition(text);
    if (auto* error = std::get_if<std::string>(&result)) {
        ADD_FAILURE() << *error << "\n" << text;
        return {};
    }
    return std::get<Exposition>(std::move(result));
}

std::string parse_error(const std::string& text) {
    auto result = parse_exposition(text);
    auto* error = std::get_if<std::string>(&result);
    return error != nullptr ? *error : std::string("(parsed)");
}

TEST(Metrics, CountersGaugesAndHistogramsRenderAsValidExposition) {
    Metrics m;
    m.define("jobs_total", MetricType::Counter, "Jobs", {"kind", "outcome"});
    m.define("depth", MetricType::Gauge, "Depth");
    m.define("took_seconds", MetricType::Histogram, "Took", {"kind"}, {0.1, 1, 10});
    m.add("jobs_total", {"backend", "ran"});
    m.add("jobs_total", {"backend", "ran"}, 2);
    m.add("jobs_total", {"db", "busy"});
    m.set("depth", {}, 3);
    m.observe("took_seconds", {"backend"}, 0.05);
    m.observe("took_seconds", {"backend"}, 1);  // on a bound: that bucket (le is <=)
    m.observe("took_seconds", {"backend"}, 99);
    const auto e = parsed(m.exposition());
    EXPECT_EQ(e.types.at("jobs_total"), "counter");
    EXPECT_EQ(e.types.at("took_seconds"), "histogram");
    EXPECT_EQ(e.value("jobs_total", {{"kind", "backend"}, {"outcome", "ran"}}), 3);
    EXPECT_EQ(e.value("jobs_total", {{"kind", "db"}, {"outcome", "busy"}}), 1);
    EXPECT_EQ(e.value("depth"), 3);
    EXPECT_EQ(e.value("took_seconds_bucket", {{"kind", "backend"}, {"le", "0.1"}}), 1);
    EXPECT_EQ(e.value("took_seconds_bucket", {{"kind", "backend"}, {"le", "1"}}), 2);
    EXPECT_EQ(e.value("took_seconds_bucket", {{"kind", "backend"}, {"le", "10"}}), 2);
    EXPECT_EQ(e.value("took_seconds_bucket", {{"kind", "backend"}, {"le", "+Inf"}}), 3);
    EXPECT_EQ(e.value("took_seconds_count", {{"kind", "backend"}}), 3);
    EXPECT_DOUBLE_EQ(e.value("took_seconds_sum", {{"kind", "backend"}}), 100.05);
}

TEST(Metrics, UnlabelledFamiliesShowZeroBeforeAnythingHappens) {
    Metrics m;
    m.define("restarts_total", MetricType::Counter, "R");
    m.define("lat_seconds", MetricType::Histogram, "L", {}, {0.5});
    const auto e = parsed(m.exposition());
    EXPECT_EQ(e.value("restarts_total"), 0);
    EXPECT_EQ(e.value("lat_seconds_bucket", {{"le", "0.5"}}), 0);
    EXPECT_EQ(e.value("lat_seconds_count"), 0);
}

TEST(Metrics, HostileLabelValuesAreEscapedAndReadBack) {
    Metrics m;
    m.define("calls_total", MetricType::Counter, "Calls with \\ and\nnewline", {"method"});
    const std::string hostile = "a\"b\\c\nd} x=\"1\"";
    m.add("calls_total", {hostile});
    const std::string text = m.exposition();
    EXPECT_THAT(text, HasSubstr(R"(calls_total{method="a\"b\\c\nd} x=\"1\""} 1)"));
    const auto e = parsed(text);
    EXPECT_EQ(e.value("calls_total", {{"method", hostile}}), 1);
    EXPECT_EQ(e.help.at("calls_total"), "Calls with \\\\ and\\nnewline");
}

TEST(Metrics, MisuseIsDroppedAndCountedNotFatal) {
    Metrics m;
    m.define("a_total", MetricType::Counter, "A", {"x"});
    m.add("nope_total");                    // undeclared
    m.add("a_total", {"1", "2"});           // wrong number of labels
    m.observe("a_total", {"1"}, 1);         // a counter is not a histogram
    m.add("a_total", {"1"}, -5);            // counters never go down
    m.add("a_total", {"1"}, std::nan(""));  // nor become NaN
    EXPECT_EQ(m.value("a_total", {"1"}), 0);
    EXPECT_EQ(m.value("rollbot_metrics_dropped_total", {"nope_total"}), 1);
    EXPECT_EQ(m.value("rollbot_metrics_dropped_total", {"a_total"}), 2);
    parsed(m.exposition());
}

TEST(Metrics, SampleValuesUseTheExpositionSpelling) {
    EXPECT_EQ(format_sample(3), "3");
    EXPECT_EQ(format_sample(0.25), "0.25");
    EXPECT_EQ(format_sample(std::numeric_limits<double>::infinity()), "+Inf");
    EXPECT_EQ(format_sample(-std::numeric_limits<double>::infinity()), "-Inf");
    EXPECT_EQ(format_sample(std::nan("")), "NaN");
    EXPECT_EQ(format_sample(1e20), "1e+20");
}

TEST(Metrics, CollectorsRunBeforeEveryExposition) {
    Metrics m;
    m.define("depth", MetricType::Gauge, "D");
    int calls = 0;
    m.on_collect([&](Metrics& self) { self.set("depth", {}, ++calls); });
    EXPECT_EQ(parsed(m.exposition()).value("depth"), 1);
    EXPECT_EQ(parsed(m.exposition()).value("depth"), 2);
}

TEST(Metrics, EveryRollbotFamilyIsDeclaredAndValid) {
    Metrics m;
    define_rollbot_metrics(m);
    m.add("rollbot_commands_total", {"backend", "ran"});
    m.add("rollbot_approvals_total", {"rejected"});
    m.add("rollbot_runs_total", {"backend", "restored"});
    m.observe("rollbot_run_duration_seconds", {"backend"}, 42);
    const auto e = parsed(m.exposition());
    EXPECT_EQ(m.value("rollbot_metrics_dropped_total", {"rollbot_commands_total"}), 0);
    for (const char* family : {"rollbot_commands_total",
                               "rollbot_approvals_total",
                               "rollbot_runs_total",
                               "rollbot_run_duration_seconds",
                               "rollbot_outbox_depth",
                               "rollbot_ready"}) {
        EXPECT_TRUE(e.types.contains(family)) << family;
    }
    EXPECT_EQ(e.value("rollbot_run_duration_seconds_bucket", {{"action", "backend"}, {"le", "60"}}),
              1);
}

// The checker the integration tests rely on must be able to fail.
TEST(ExpositionParser, RejectsWhatPrometheusWouldReject) {
    const std::string ok = "# TYPE a counter\na 1\n";
    EXPECT_EQ(parse_error(ok), "(parsed)");
    EXPECT_THAT(parse_error("# TYPE a counter\na 1"), HasSubstr("line feed"));
    EXPECT_THAT(parse_error("a 1\n"), HasSubstr("no TYPE"));
    EXPECT_THAT(parse_error("# TYPE a counter\n\na 1\n"), HasSubstr("empty line"));
    EXPECT_THAT(parse_error("# TYPE a counter\na{x=\"1} 1\n"), HasSubstr("unterminated"));
    EXPECT_THAT(parse_error("# TYPE a counter\na{x=\"\\t\"} 1\n"), HasSubstr("bad escape"));
    EXPECT_THAT(parse_error("# TYPE a counter\na{x=\"1\",x=\"2\"} 1\n"), HasSubstr("twice"));
    EXPECT_THAT(parse_error("# TYPE a counter\na{1x=\"1\"} 1\n"), HasSubstr("bad label"));
    EXPECT_THAT(parse_error("# TYPE a counter\na one\n"), HasSubstr("not a float"));
    EXPECT_THAT(parse_error("# TYPE a counter\na -1\n"), HasSubstr("negative"));
    EXPECT_THAT(parse_error("# TYPE a counter\na 1\na 2\n"), HasSubstr("twice"));
    EXPECT_THAT(parse_error("# TYPE a gauge\n# TYPE b gauge\nb 1\na 1\n"),
                HasSubstr("not one group"));
    EXPECT_THAT(parse_error("# TYPE a summarry\n"), HasSubstr("unknown type"));
    EXPECT_THAT(parse_error("# TYPE a counter\n# TYPE a counter\n"), HasSubstr("second TYPE"));
    EXPECT_THAT(parse_error("# TYPE 9a counter\n"), HasSubstr("bad TYPE"));
    const std::string histogram = "# TYPE h histogram\n";
    EXPECT_THAT(parse_error(histogram + "h_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
                                        "h_sum 1\nh_count 1\n"),
                HasSubstr("cumulative"));
    EXPECT_THAT(parse_error(histogram + "h_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n"),
                HasSubstr("+Inf"));
    EXPECT_THAT(parse_error(histogram + "h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n"),
                HasSubstr("differs from _count"));
}

TEST(OpsEndpoints, ReadyOnlyWhenEveryCheckPasses) {
    Metrics m;
    std::vector<ReadinessCheck> checks{{"slack", false, "connecting"}, {"state", true, "ok"}};
    OpsEndpoints ops(m, [&] { return checks; });
    auto ready = ops.get("/readyz");
    ASSERT_TRUE(ready);
    EXPECT_EQ(ready->status, 503);
    EXPECT_THAT(ready->body, HasSubstr("FAIL slack: connecting"));
    EXPECT_THAT(ready->body, HasSubstr("ok state: ok"));
    checks[0].ok = true;
    EXPECT_EQ(ops.get("/readyz")->status, 200);
    checks.clear();  // nothing checked is not ready
    EXPECT_EQ(ops.get("/readyz")->status, 503);
    EXPECT_EQ(ops.get("/healthz")->status, 200);
    EXPECT_THAT(ops.get("/metrics")->content_type, HasSubstr("version=0.0.4"));
    EXPECT_FALSE(ops.get("/metrics/x"));
    EXPECT_FALSE(ops.get("/"));
}

}  // namespace
}  // namespace rollbot::core
