// fake_erp: the PreSkool ERP service's health endpoint and its Prometheus, answering from the
// simulated cluster (test/fakes/cluster_state.hpp) that the fake kubectl changes.
//
//   fake_erp --port N --cluster <state.json>     (N = 0: an ephemeral port)
//
// Prints "listening 127.0.0.1:<port>" once it accepts connections; stops on SIGTERM/SIGINT.
//   GET  /api/v1/health   200 {"status":"ok"}, or 503 {"status":"degraded"} while the backend's
//                         current image is in bad_images
//   GET|POST /api/v1/query   Prometheus instant-query envelope (reference §6): the error rate
//                         for queries on http_req_failed, p95 seconds for histogram_quantile
//   GET|POST /api/v1/query_range   a matrix over [start, end] every step: the error rate is
//                         "0.27" from its rise on and "0.004" before; the rise is
//                         state["erp"]["error_rate_rise"] (RFC 3339), else 5 minutes after the
//                         newest backend ReplicaSet with a bad image was created, else never
// The state file is re-read (under its shared lock) for every request; state["erp"] overrides
// the answers: {"health_code": 500, "error_rate": "NaN", "p95": null (empty vector)}.

#include "test/fakes/cluster_state.hpp"
#include "test/fakes/form.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <filesystem>
#include <iomanip>
#include <optional>
#include <sstream>
#include <string>

namespace rollbot::fakes {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::seconds kIdleTimeout{30};  // a client that stalls must not pin a session

Response reply(const Request& req, http::status status, std::string body, std::string_view type) {
    Response res{status, req.version()};
    res.set(http::field::server, "fake_erp");
    res.set(http::field::content_type, type);
    res.body() = std::move(body);
    res.prepare_payload();
    res.keep_alive(req.keep_alive());
    return res;
}

Response health(const Request& req, const Json& state) {
    const bool bad = deployment_is_bad(state, "backend");
    const Json erp = state.value("erp", Json::object());
    const int code = erp.value("health_code", bad ? 503 : 200);
    const Json body{{"status", code >= 200 && code < 300 ? "ok" : "degraded"}};
    return reply(req, static_cast<http::status>(code), body.dump(), "application/json");
}

Response query(const Request& req, const Json& state, std::string_view query_string) {
    std::optional<std::string> promql = form_value(query_string, "query");
    if (!promql && req.method() == http::verb::post) {
        promql = form_value(req.body(), "query");
    }
    if (!promql || promql->empty()) {
        const Json body{{"status", "error"},
                        {"errorType", "bad_data"},
                        {"error",
                         "invalid parameter \"query\": 1:1: parse error: no expression found in "
                         "input"}};
        return reply(req, http::status::bad_request, body.dump(), "application/json");
    }
    const bool bad = deployment_is_bad(state, "backend");
    const Json erp = state.value("erp", Json::object());
    Json value;  // null: no series matched
    if (promql->find("http_req_failed") != std::string::npos) {
        value = erp.contains("error_rate") ? erp["error_rate"] : Json(bad ? "0.27" : "0.004");
    } else if (promql->find("histogram_quantile") != std::string::npos) {
        value = erp.contains("p95") ? erp["p95"] : Json(bad ? "2.8" : "0.35");
    }
    const double now =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    Json result = Json::array();
    if (!value.is_null()) {
        result.push_back(
            {{"metric", Json::object()},
             {"value",
              Json::array(
                  {static_cast<double>(static_cast<long long>(now * 1000)) / 1000, value})}});
    }
    const Json body{{"status", "success"},
                    {"data", {{"resultType", "vector"}, {"result", result}}}};
    return reply(req, http::status::ok, body.dump(), "application/json");
}

// "2026-11-24T10:00:00Z" -> seconds since the epoch.
std::optional<double> unix_time(const std::string& iso) {
    std::tm tm{};
    std::istringstream in(iso);
    in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
    if (in.fail()) {
        return std::nullopt;
    }
    return static_cast<double>(timegm(&tm));
}

// When the error rate rose: the override, or shortly after the newest bad backend deploy.
std::optional<double> error_rate_rise(const Json& state) {
    const Json erp = state.value("erp", Json::object());
    if (erp.contains("error_rate_rise")) {
        return unix_time(erp["error_rate_rise"].get<std::string>());
    }
    constexpr double kRiseAfterDeploy = 300;
    std::optional<double> rise;
    const Json& deployments = state.at("deployments");
    if (!deployments.contains("backend")) {
        return rise;
    }
    for (const auto& rs : deployments["backend"].value("replicasets", Json::array())) {
        if (bad_mode(state, rs).empty()) {
            continue;
        }
        if (const auto created = unix_time(rs.value("created", ""))) {
            rise = std::max(rise.value_or(0), *created + kRiseAfterDeploy);
        }
    }
    return rise;
}

Response query_range(const Request& req, const Json& state, std::string_view query_string) {
    const auto param = [&](std::string_view key) {
        auto v = form_value(query_string, key);
        if (!v && req.method() == http::verb::post) {
            v = form_value(req.body(), key);
        }
        return v.value_or("");
    };
    const std::string promql = param("query");
    const double start = std::atof(param("start").c_str());
    const double end = std::atof(param("end").c_str());
    double step = std::atof(param("step").c_str());  // "30s" reads as 30
    if (promql.empty() || step <= 0 || end < start) {
        const Json body{{"status", "error"},
                        {"errorType", "bad_data"},
                        {"error", "invalid parameter: query, start, end and step are required"}};
        return reply(req, http::status::bad_request, body.dump(), "application/json");
    }
    Json values = Json::array();
    if (promql.find("http_req_failed") != std::string::npos) {
        const auto rise = error_rate_rise(state);
        for (double t = start; t <= end; t += step) {
            values.push_back(Json::array({t, rise && t >= *rise ? "0.27" : "0.004"}));
        }
    }
    Json result = Json::array();
    if (!values.empty()) {
        result.push_back({{"metric", Json::object()}, {"values", values}});
    }
    const Json body{{"status", "success"},
                    {"data", {{"resultType", "matrix"}, {"result", result}}}};
    return reply(req, http::status::ok, body.dump(), "application/json");
}

Response handle(const Request& req, const std::filesystem::path& cluster) {
    const std::string_view target = req.target();
    const auto qmark = target.find('?');
    const std::string_view path = target.substr(0, qmark);
    const std::string_view query_string =
        qmark == std::string_view::npos ? std::string_view() : target.substr(qmark + 1);
    const bool get = req.method() == http::verb::get || req.method() == http::verb::head;
    const bool prometheus = path == "/api/v1/query" || path == "/api/v1/query_range";
    if (path != "/api/v1/health" && !prometheus) {
        return reply(req, http::status::not_found, "404 page not found\n", "text/plain");
    }
    if (!get && !(prometheus && req.method() == http::verb::post)) {
        return reply(req, http::status::method_not_allowed, "method not allowed\n", "text/plain");
    }
    Json state;
    try {
        StateLock lock(cluster, /*exclusive=*/false);
        state = load_state(cluster);
    } catch (const std::exception& e) {
        return reply(
            req, http::status::internal_server_error, std::string(e.what()) + "\n", "text/plain");
    }
    if (path == "/api/v1/health") {
        return health(req, state);
    }
    return path == "/api/v1/query" ? query(req, state, query_string)
                                   : query_range(req, state, query_string);
}

asio::awaitable<void> serve_session(tcp::socket socket, std::filesystem::path cluster) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
        stream.expires_after(kIdleTimeout);
        Request req;
        auto [read_error, read_bytes] = co_await http::async_read(stream, buffer, req, kUseTuple);
        if (read_error) {
            break;
        }
        Response res = handle(req, cluster);
        const bool keep_alive = res.keep_alive();
        auto [write_error, written] = co_await http::async_write(stream, res, kUseTuple);
        if (write_error || !keep_alive) {
            break;
        }
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

void on_task_done(const char* task, std::exception_ptr error) {
    if (error) {
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "fake_erp: %s: %s\n", task, e.what());
        }
    }
}

asio::awaitable<void> accept_loop(tcp::acceptor acceptor, std::filesystem::path cluster) {
    for (;;) {
        auto [accept_error, socket] = co_await acceptor.async_accept(kUseTuple);
        if (accept_error == asio::error::operation_aborted || !acceptor.is_open()) {
            co_return;
        }
        if (!accept_error) {
            asio::co_spawn(acceptor.get_executor(),
                           serve_session(std::move(socket), cluster),
                           [](std::exception_ptr e) { on_task_done("session", e); });
        }
    }
}

int run(int argc, char** argv) {
    std::string port_text = "0";
    std::filesystem::path cluster;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        const bool has_next = i + 1 < argc;
        if (arg == "--port" && has_next) {
            port_text = argv[++i];
        } else if (arg.rfind("--port=", 0) == 0) {
            port_text = arg.substr(7);
        } else if (arg == "--cluster" && has_next) {
            cluster = argv[++i];
        } else if (arg.rfind("--cluster=", 0) == 0) {
            cluster = arg.substr(10);
        } else {
            std::fprintf(stderr, "usage: fake_erp --port N --cluster <state.json>\n");
            return 2;
        }
    }
    char* end = nullptr;
    const long port = std::strtol(port_text.c_str(), &end, 10);
    if (cluster.empty() || *end != '\0' || port < 0 || port > 65535) {
        std::fprintf(stderr, "usage: fake_erp --port N --cluster <state.json>\n");
        return 2;
    }
    asio::io_context io;
    tcp::acceptor acceptor(
        io, {asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
    std::printf("listening 127.0.0.1:%u\n",
                static_cast<unsigned>(acceptor.local_endpoint().port()));
    std::fflush(stdout);
    asio::signal_set signals(io, SIGTERM, SIGINT);
    signals.async_wait([&io](const beast::error_code&, int) { io.stop(); });
    asio::co_spawn(io, accept_loop(std::move(acceptor), cluster), [](std::exception_ptr e) {
        on_task_done("accept loop", e);
    });
    io.run();
    return 0;
}

}  // namespace
}  // namespace rollbot::fakes

int main(int argc, char** argv) {
    try {
        return rollbot::fakes::run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fake_erp: %s\n", e.what());
        return 1;
    }
}
