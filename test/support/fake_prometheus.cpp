#include "test/support/fake_prometheus.hpp"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <string_view>

namespace rollbot::test {
namespace {

using nlohmann::json;

std::string url_decode(std::string_view in) {
    std::string out;
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '+') {
            out += ' ';
        } else if (in[i] == '%' && i + 2 < in.size()) {
            out += static_cast<char>(
                std::strtol(std::string(in.substr(i + 1, 2)).c_str(), nullptr, 16));
            i += 2;
        } else {
            out += in[i];
        }
    }
    return out;
}

std::string form_value(std::string_view form, std::string_view key) {
    while (!form.empty()) {
        const auto amp = form.find('&');
        const std::string_view pair = form.substr(0, amp);
        const auto eq = pair.find('=');
        if (eq != std::string_view::npos && url_decode(pair.substr(0, eq)) == key) {
            return url_decode(pair.substr(eq + 1));
        }
        form = amp == std::string_view::npos ? std::string_view() : form.substr(amp + 1);
    }
    return {};
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
    const std::string promql = form_value(form, "query");
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
        const double start = std::atof(form_value(form, "start").c_str());
        const double end = std::atof(form_value(form, "end").c_str());
        const double step = std::atof(form_value(form, "step").c_str());
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
