#include "test/support/fake_prometheus.hpp"

#include "test/fakes/form.hpp"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <string_view>

namespace rollbot::test {
namespace {

using nlohmann::json;

// The decoded value of `key`, "" when absent.
std::string form_field(std::string_view form, std::string_view key) {
    return fakes::form_value(form, key).value_or("");
}

FakeResponse json_response(int status, const json& body) {
    return FakeResponse{status, {{"Content-Type", "application/json"}}, body.dump()};
}

}  // namespace

bool is_prometheus_request(const FakeRequest& request) {
    const std::string_view target = request.target;
    return target.rfind("/api/v1/query", 0) == 0;
}

FakeResponse prometheus_answer(const FakeRequest& request, const FakeMetrics& metrics) {
    if (metrics.status != 200) {
        return json_response(metrics.status,
                             json{{"status", "error"},
                                  {"errorType", "unavailable"},
                                  {"error", "fake prometheus told to fail"}});
    }
    const std::string_view target = request.target;
    const auto qmark = target.find('?');
    const std::string_view path = target.substr(0, qmark);
    const std::string form = request.method == "POST" ? request.body
                                                      : std::string(qmark == std::string_view::npos
                                                                        ? std::string_view()
                                                                        : target.substr(qmark + 1));
    const std::string promql = form_field(form, "query");
    std::optional<std::string> value;
    if (promql.find("http_req_failed") != std::string::npos) {
        value = metrics.error_rate;
    } else if (promql.find("histogram_quantile") != std::string::npos) {
        value = metrics.p95;
    }
    const double now =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    json result = json::array();
    if (path == "/api/v1/query_range") {
        const double start = std::atof(form_field(form, "start").c_str());
        const double end = std::atof(form_field(form, "end").c_str());
        const double step = std::atof(form_field(form, "step").c_str());
        if (step <= 0 || end < start) {
            return json_response(400,
                                 json{{"status", "error"},
                                      {"errorType", "bad_data"},
                                      {"error", "invalid start, end or step"}});
        }
        if (promql.find("http_req_failed") != std::string::npos) {
            const double rise =
                metrics.rise
                    ? std::chrono::duration<double>(metrics.rise->time_since_epoch()).count()
                    : end + 1;
            json values = json::array();
            for (double t = start; t <= end; t += step) {
                values.push_back(json::array({t, t >= rise ? "0.27" : "0.004"}));
            }
            result.push_back({{"metric", json::object()}, {"values", values}});
        }
        return json_response(
            200,
            json{{"status", "success"}, {"data", {{"resultType", "matrix"}, {"result", result}}}});
    }
    if (value) {
        result.push_back({{"metric", json::object()}, {"value", json::array({now, *value})}});
    }
    return json_response(
        200, json{{"status", "success"}, {"data", {{"resultType", "vector"}, {"result", result}}}});
}

FakeHandler fake_erp_handler(FakeMetrics metrics) {
    return [metrics = std::move(metrics)](const FakeRequest& request) {
        if (is_prometheus_request(request)) {
            return prometheus_answer(request, metrics);
        }
        return FakeResponse{200, {{"Content-Type", "application/json"}}, R"({"status":"ok"})"};
    };
}

}  // namespace rollbot::test
