#include "actions/prometheus.hpp"

#include "actions/curl_http_client.hpp"
#include "test/support/async.hpp"
#include "test/support/fake_http_server.hpp"
#include "test/support/scripted_http_client.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using rollbot::actions::first_crossing_in;
using rollbot::actions::format_ratio_percent;
using rollbot::actions::format_seconds;
using rollbot::actions::parse_instant_query;
using rollbot::actions::PrometheusClient;
using rollbot::actions::Worst;
using rollbot::core::Error;
using rollbot::core::ErrorKind;
using rollbot::core::HttpRequest;
using rollbot::core::HttpResponse;
using rollbot::core::MetricReading;
using rollbot::test::ScriptedHttpClient;
using TimePoint = std::chrono::system_clock::time_point;

// Answers observed from Prometheus 2.42 (reference §6), byte for byte.
constexpr std::string_view kErrorRate =
    R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1795472295.438,"0.04777777777777778"]}]}})";
constexpr std::string_view kZeroOverZero =
    R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1795472295.453,"NaN"]}]}})";
constexpr std::string_view kEmpty =
    R"({"status":"success","data":{"resultType":"vector","result":[]}})";
constexpr std::string_view kPlusInf =
    R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1795472295.453,"+Inf"]}]}})";
constexpr std::string_view kP95PerInstance =
    R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"instance":"127.0.0.1:19101","job":"live","service":"backend"},"value":[1795472296.101,"2.027972027972028"]},{"metric":{"instance":"127.0.0.1:19102","job":"idle","service":"backend"},"value":[1795472296.101,"NaN"]}]}})";
constexpr std::string_view kScalar =
    R"({"status":"success","data":{"resultType":"scalar","result":[1795472301.002,"4.013333333333333"]}})";
constexpr std::string_view kString =
    R"({"status":"success","data":{"resultType":"string","result":[1795472301.102,"hello"]}})";
constexpr std::string_view kBadData =
    R"({"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:24: parse error: unclosed left parenthesis"})";
constexpr std::string_view kExecution =
    R"({"status":"error","errorType":"execution","error":"found duplicate series for the match group {instance=\"127.0.0.1:19101\"} on the right hand-side of the operation: [{__name__=\"up\", instance=\"127.0.0.1:19101\", job=\"live\"}, {__name__=\"up\", instance=\"127.0.0.1:19101\", job=\"idle\"}];many-to-many matching not allowed: matching labels must be unique on one side"})";
constexpr std::string_view kTimeout =
    R"({"status":"error","errorType":"timeout","error":"query timed out in query execution"})";
constexpr std::string_view kBadGatewayHtml =
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad "
    "Gateway</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n";

TimePoint at_ms(std::int64_t ms) {
    return TimePoint{
        std::chrono::duration_cast<TimePoint::duration>(std::chrono::milliseconds{ms})};
}

std::string vector_of(const std::vector<std::string>& values) {
    std::string result;
    for (const auto& v : values) {
        result += (result.empty() ? "" : ",") +
                  (R"({"metric":{"pod":"p"},"value":[1795472295.438,")" + v + "\"]}");
    }
    return R"({"status":"success","data":{"resultType":"vector","result":[)" + result + "]}}";
}

TEST(PrometheusInstantQuery, ErrorRateWithTrafficIsTheValue) {
    const auto reading = parse_instant_query(200, kErrorRate, Worst::Highest);
    ASSERT_TRUE(reading.value.has_value());
    EXPECT_DOUBLE_EQ(*reading.value, 0.04777777777777778);
    EXPECT_EQ(reading.detail, "0.0477778");
}

TEST(PrometheusInstantQuery, ZeroOverZeroNanIsNoDataNotZero) {
    EXPECT_EQ(parse_instant_query(200, kZeroOverZero, Worst::Highest),
              (MetricReading{std::nullopt, "no data: NaN (no traffic in the window)"}));
}

TEST(PrometheusInstantQuery, EmptyResultMeansTheMetricIsMissing) {
    EXPECT_EQ(parse_instant_query(200, kEmpty, Worst::Highest),
              (MetricReading{std::nullopt, "no data: empty result (metric missing or renamed?)"}));
}

TEST(PrometheusInstantQuery, InfinityIsNoData) {
    EXPECT_EQ(parse_instant_query(200, kPlusInf, Worst::Highest),
              (MetricReading{std::nullopt, "no data: +Inf (the query divided by zero)"}));
}

TEST(PrometheusInstantQuery, PerInstanceP95IgnoresTheIdleNanSeries) {
    const auto reading = parse_instant_query(200, kP95PerInstance, Worst::Highest);
    ASSERT_TRUE(reading.value.has_value());
    EXPECT_DOUBLE_EQ(*reading.value, 2.027972027972028);
    EXPECT_EQ(reading.detail, "2.02797 (1 series without data ignored)");
}

TEST(PrometheusInstantQuery, HighestPicksTheLargestSeries) {
    const auto reading = parse_instant_query(200, vector_of({"0.2", "1.5", "0.7"}), Worst::Highest);
    EXPECT_EQ(reading, (MetricReading{1.5, "1.5 (worst of 3 series)"}));
}

TEST(PrometheusInstantQuery, LowestPicksTheSmallestSeries) {
    const auto reading = parse_instant_query(200, vector_of({"0.2", "1.5", "0.7"}), Worst::Lowest);
    EXPECT_EQ(reading, (MetricReading{0.2, "0.2 (worst of 3 series)"}));
}

TEST(PrometheusInstantQuery, InfinitySeriesIsIgnoredWhenOthersHaveNumbers) {
    const auto reading =
        parse_instant_query(200, vector_of({"+Inf", "0.3", "NaN", "0.1"}), Worst::Highest);
    EXPECT_EQ(reading, (MetricReading{0.3, "0.3 (worst of 2 series; 2 without data ignored)"}));
}

TEST(PrometheusInstantQuery, AllSeriesNanIsNoData) {
    EXPECT_EQ(parse_instant_query(200, vector_of({"NaN", "NaN"}), Worst::Highest).detail,
              "no data: NaN (no traffic in the window)");
}

TEST(PrometheusInstantQuery, ScalarIsTheValue) {
    EXPECT_EQ(parse_instant_query(200, kScalar, Worst::Highest),
              (MetricReading{4.013333333333333, "4.01333"}));
}

TEST(PrometheusInstantQuery, StringResultIsNoData) {
    EXPECT_EQ(parse_instant_query(200, kString, Worst::Highest),
              (MetricReading{std::nullopt, "no data: the query returned a string, not a number"}));
}

TEST(PrometheusInstantQuery, MatrixResultIsNoData) {
    const auto body =
        R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1795472295,"0.1"]]}]}})";
    const auto reading = parse_instant_query(200, body, Worst::Highest);
    EXPECT_FALSE(reading.value.has_value());
    EXPECT_EQ(reading.detail, "no data: the query returned a range (matrix), not an instant value");
}

TEST(PrometheusInstantQuery, BadDataIsAnErrorWithPrometheusText) {
    EXPECT_EQ(parse_instant_query(400, kBadData, Worst::Highest).detail,
              "error: 400 bad_data: invalid parameter \"query\": 1:24: parse error: unclosed left "
              "parenthesis");
}

TEST(PrometheusInstantQuery, TimeoutIsAnError) {
    EXPECT_EQ(
        parse_instant_query(503, kTimeout, Worst::Highest),
        (MetricReading{std::nullopt, "error: 503 timeout: query timed out in query execution"}));
}

TEST(PrometheusInstantQuery, LongExecutionErrorIsClipped) {
    const auto reading = parse_instant_query(422, kExecution, Worst::Highest);
    EXPECT_FALSE(reading.value.has_value());
    EXPECT_TRUE(reading.detail.starts_with("error: 422 execution: found duplicate series"))
        << reading.detail;
    EXPECT_TRUE(reading.detail.ends_with("…")) << reading.detail;
    EXPECT_LE(reading.detail.size(), 240u);
}

TEST(PrometheusInstantQuery, HtmlFromAProxyIsAnHttpError) {
    EXPECT_EQ(parse_instant_query(502, kBadGatewayHtml, Worst::Highest),
              (MetricReading{std::nullopt, "error: HTTP 502 (not Prometheus JSON)"}));
    EXPECT_EQ(parse_instant_query(401, "", Worst::Highest).detail,
              "error: HTTP 401 (not Prometheus JSON)");
    EXPECT_EQ(parse_instant_query(403, R"({"message":"forbidden"})", Worst::Highest).detail,
              "error: HTTP 403 (not Prometheus JSON)");
}

TEST(PrometheusInstantQuery, WarningsAndInfosAreIgnored) {
    const auto body =
        R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1795472295.438,"0.004"]}]},"warnings":["PromQL warning: something"],"infos":["PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"http_req_failed\""]})";
    EXPECT_EQ(parse_instant_query(200, body, Worst::Highest), (MetricReading{0.004, "0.004"}));
}

TEST(PrometheusInstantQuery, MalformedAnswersAtTwoHundredAreErrorsNeverThrows) {
    const std::vector<std::string> bodies = {
        "",
        "{\"status\":\"success\",",
        "[1,2]",
        R"({"data":{"resultType":"vector","result":[]}})",
        R"({"status":"success"})",
        R"({"status":"success","data":[]})",
        R"({"status":"success","data":{"resultType":"vector"}})",
        R"({"status":"success","data":{"resultType":"vector","result":{}}})",
        R"({"status":"success","data":{"resultType":"vector","result":[42]}})",
        R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{}}]}})",
        R"({"status":"success","data":{"resultType":"vector","result":[{"value":[1,0.5]}]}})",
        R"({"status":"success","data":{"resultType":"vector","result":[{"value":["1","0.5"]}]}})",
        R"({"status":"success","data":{"resultType":"vector","result":[{"value":[1,"0.5x"]}]}})",
        R"({"status":"success","data":{"resultType":"vector","result":[{"value":[1,""]}]}})",
        R"({"status":"success","data":{"resultType":"vector","result":[{"value":[1]}]}})",
        R"({"status":"success","data":{"resultType":"scalar","result":"4"}})",
        R"({"status":"success","data":{"resultType":"histogram","result":[]}})",
        R"({"status":7,"data":{"resultType":"vector","result":[]}})",
    };
    for (const auto& body : bodies) {
        SCOPED_TRACE(body);
        const auto reading = parse_instant_query(200, body, Worst::Highest);
        EXPECT_FALSE(reading.value.has_value());
        EXPECT_TRUE(reading.detail.starts_with("error: malformed Prometheus response ("))
            << reading.detail;
    }
}

TEST(PrometheusInstantQuery, ErrorEnvelopeWithWrongFieldTypesStillReadsAsError) {
    EXPECT_EQ(
        parse_instant_query(500, R"({"status":"error","errorType":5,"error":null})", Worst::Highest)
            .detail,
        "error: 500");
}

constexpr std::string_view kRange =
    R"({"status":"success","data":{"resultType":"matrix","result":[)"
    R"({"metric":{"pod":"a"},"values":[[1795472000,"0.01"],[1795472060,"NaN"],[1795472120,"0.09"],[1795472180,"0.2"]]},)"
    R"({"metric":{"pod":"b"},"values":[[1795472000,"0.01"],[1795472060,"+Inf"],[1795472090.5,"0.06"],[1795472180,"0.3"]]}]}})";

TEST(PrometheusFirstCrossing, EarliestSampleAboveTheThresholdAcrossSeries) {
    EXPECT_EQ(first_crossing_in(kRange, 0.05), at_ms(1795472090500));
}

TEST(PrometheusFirstCrossing, NanAndInfNeverCross) {
    EXPECT_EQ(first_crossing_in(kRange, 0.0), at_ms(1795472000000));
    EXPECT_EQ(first_crossing_in(kRange, 0.08), at_ms(1795472120000));
}

TEST(PrometheusFirstCrossing, EqualToTheThresholdIsNotACrossing) {
    EXPECT_EQ(first_crossing_in(kRange, 0.09), at_ms(1795472180000));
}

TEST(PrometheusFirstCrossing, AnEarlierSpikeThatEndedIsNotTheIncident) {
    constexpr std::string_view kSpikes =
        R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[)"
        R"([1795472000,"0.3"],[1795472060,"0.01"],[1795472120,"0.02"],[1795472180,"0.3"],)"
        R"([1795472240,"NaN"],[1795472300,"0.4"]]}]}})";
    EXPECT_EQ(first_crossing_in(kSpikes, 0.1), at_ms(1795472180000));
}

TEST(PrometheusFirstCrossing, AboveSinceTheWindowBeganGivesItsFirstSample) {
    constexpr std::string_view kHigh =
        R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[)"
        R"([1795472000,"0.3"],[1795472060,"0.4"]]}]}})";
    EXPECT_EQ(first_crossing_in(kHigh, 0.1), at_ms(1795472000000));
}

TEST(PrometheusFirstCrossing, NoneAboveIsNullopt) {
    EXPECT_EQ(first_crossing_in(kRange, 0.5), std::nullopt);
}

TEST(PrometheusFirstCrossing, ErrorsAndWrongShapesAreNullopt) {
    EXPECT_EQ(first_crossing_in(kTimeout, 0.05), std::nullopt);
    EXPECT_EQ(first_crossing_in(kErrorRate, 0.01), std::nullopt);  // a vector, not a matrix
    EXPECT_EQ(first_crossing_in(kBadGatewayHtml, 0.05), std::nullopt);
    EXPECT_EQ(
        first_crossing_in(
            R"({"status":"success","data":{"resultType":"matrix","result":[{"values":[["x","1"],[1,2],7]},5]}})",
            0.05),
        std::nullopt);
}

// Found by fuzz_prometheus: a sample 17,000,001,000 s after 1970 (year 2508) overflowed the
// conversion to system_clock's nanoseconds. Such a time is skipped, the others still count.
TEST(PrometheusFirstCrossing, TimeBeyondWhatTheClockHoldsIsSkipped) {
    constexpr std::string_view kFar =
        R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[)"
        R"([17000001000,"4.01"],[1700000030,"0.2"],[1700000060,"0.3"]]}]}})";
    EXPECT_EQ(first_crossing_in(kFar, 0.1), at_ms(1700000030000));
    constexpr std::string_view kOnlyFar =
        R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[)"
        R"([17000001000,"4.01"],[-1e300,"0.2"],[9.3e9,"0.3"]]}]}})";
    EXPECT_EQ(first_crossing_in(kOnlyFar, 0.1), std::nullopt);
}

TEST(PrometheusFormat, RatioAsPercent) {
    EXPECT_EQ(format_ratio_percent(0.048), "4.8 %");
    EXPECT_EQ(format_ratio_percent(0.04777777777777778), "4.8 %");
    EXPECT_EQ(format_ratio_percent(0.0), "0.0 %");
    EXPECT_EQ(format_ratio_percent(1.0), "100.0 %");
    EXPECT_EQ(format_ratio_percent(0.004), "0.4 %");
}

TEST(PrometheusFormat, TinyNonZeroRatioDoesNotReadAsZero) {
    EXPECT_EQ(format_ratio_percent(0.0004), "0.04 %");
}

TEST(PrometheusFormat, SecondsAndMilliseconds) {
    EXPECT_EQ(format_seconds(1.42), "1.42 s");
    EXPECT_EQ(format_seconds(0.35), "350 ms");
    EXPECT_EQ(format_seconds(2.027972027972028), "2.03 s");
    EXPECT_EQ(format_seconds(0.0025), "2.5 ms");
    EXPECT_EQ(format_seconds(0.9999), "1.00 s");
    EXPECT_EQ(format_seconds(150.0), "150 s");
}

TEST(PrometheusFormat, NonFiniteUsesPrometheusSpelling) {
    EXPECT_EQ(format_seconds(std::nan("")), "NaN");
    EXPECT_EQ(format_ratio_percent(INFINITY), "+Inf");
}

HttpResponse answer(int status, std::string_view body) {
    HttpResponse out;
    out.status = status;
    out.body = std::string(body);
    return out;
}

std::string header(const HttpRequest& request, std::string_view name) {
    for (const auto& [key, value] : request.headers) {
        if (key == name) {
            return value;
        }
    }
    return "<absent>";
}

class PrometheusClientTest : public ::testing::Test {
protected:
    MetricReading query(ScriptedHttpClient& http,
                        std::string promql,
                        std::chrono::milliseconds timeout = 10s) {
        PrometheusClient client(http, "http://prometheus:9090/", timeout);
        return rollbot::test::run_task(io_, client.query(std::move(promql), Worst::Highest));
    }

    boost::asio::io_context io_;
};

TEST_F(PrometheusClientTest, QueryPostsTheFormEncodedPromqlWithAServerTimeout) {
    ScriptedHttpClient http{answer(200, kErrorRate)};

    const auto reading = query(http, "sum(rate(http_req_failed{svc=\"a b\"}[5m]))");

    EXPECT_EQ(reading.value, 0.04777777777777778);
    ASSERT_EQ(http.requests().size(), 1u);
    const auto& request = http.requests()[0];
    EXPECT_EQ(request.method, "POST");
    EXPECT_EQ(request.url, "http://prometheus:9090/api/v1/query");
    EXPECT_EQ(header(request, "Content-Type"), "application/x-www-form-urlencoded");
    EXPECT_EQ(request.body,
              "query=sum%28rate%28http_req_failed%7Bsvc%3D%22a+b%22%7D%5B5m%5D%29%29&timeout=10s");
    EXPECT_GT(request.timeout, 10s);
    EXPECT_LE(request.timeout, 15s);
}

TEST_F(PrometheusClientTest, ServerTimeoutIsRoundedUpToWholeSeconds) {
    ScriptedHttpClient http{answer(200, kErrorRate)};

    (void)query(http, "up", 1500ms);

    ASSERT_EQ(http.requests().size(), 1u);
    EXPECT_EQ(http.requests()[0].body, "query=up&timeout=2s");
    EXPECT_GT(http.requests()[0].timeout, 2s);
}

TEST_F(PrometheusClientTest, ErrorAnswerBecomesAnErrorReading) {
    ScriptedHttpClient http{answer(503, kTimeout)};

    EXPECT_EQ(query(http, "up").detail, "error: 503 timeout: query timed out in query execution");
}

TEST_F(PrometheusClientTest, NoAnswerIsNoDataWithTheReason) {
    ScriptedHttpClient http{
        Error{ErrorKind::Network, "http.send: POST prometheus:9090: connection refused"}};

    EXPECT_EQ(
        query(http, "up"),
        (MetricReading{std::nullopt, "error: Prometheus did not answer: connection refused"}));
}

TEST_F(PrometheusClientTest, FirstCrossingPostsARangeQuery) {
    ScriptedHttpClient http{answer(200, kRange)};
    PrometheusClient client(http, "http://prometheus:9090", 10s);

    const auto first = rollbot::test::run_task(io_,
                                               client.first_crossing("rate(x[1m])",
                                                                     0.05,
                                                                     at_ms(1795471800000),
                                                                     at_ms(1795472400250),
                                                                     std::chrono::seconds(30)));

    EXPECT_EQ(first, at_ms(1795472090500));
    ASSERT_EQ(http.requests().size(), 1u);
    EXPECT_EQ(http.requests()[0].url, "http://prometheus:9090/api/v1/query_range");
    EXPECT_EQ(http.requests()[0].body,
              "query=rate%28x%5B1m%5D%29&start=1795471800.000&end=1795472400.250&step=30s&"
              "timeout=10s");
}

TEST_F(PrometheusClientTest, FirstCrossingWithoutAnAnswerIsNullopt) {
    ScriptedHttpClient http{Error{ErrorKind::Timeout, "http.send: POST prometheus:9090: timeout"}};
    PrometheusClient client(http, "http://prometheus:9090", 10s);

    const auto first = rollbot::test::run_task(
        io_, client.first_crossing("up", 0.05, at_ms(0), at_ms(60000), std::chrono::seconds(15)));

    EXPECT_EQ(first, std::nullopt);
}

TEST_F(PrometheusClientTest, QueryOverRealHttpReadsTheAnswer) {
    rollbot::test::FakeHttpServer server([](const rollbot::test::FakeRequest&) {
        return rollbot::test::FakeResponse{.status = 200,
                                           .headers = {{"Content-Type", "application/json"}},
                                           .body = std::string(kP95PerInstance)};
    });
    rollbot::actions::CurlHttpClient http;
    PrometheusClient client(http, server.base_url(), 5s);

    const auto reading = rollbot::test::run_task(
        io_, client.query("histogram_quantile(0.95, x)", Worst::Highest), 20s);

    EXPECT_EQ(reading.value, 2.027972027972028);
    const auto requests = server.requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0].method, "POST");
    EXPECT_EQ(requests[0].target, "/api/v1/query");
    ASSERT_NE(requests[0].header("content-type"), nullptr);
    EXPECT_EQ(*requests[0].header("content-type"), "application/x-www-form-urlencoded");
    EXPECT_EQ(requests[0].body, "query=histogram_quantile%280.95%2C+x%29&timeout=5s");
}

}  // namespace
