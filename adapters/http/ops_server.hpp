#pragma once

#include "bot/ops.hpp"
#include "bot/result.hpp"
#include "bot/task_group.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <spdlog/logger.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace rollbot::ops {

struct OpsServerOptions {
    std::chrono::milliseconds request_timeout{std::chrono::seconds(5)};  // per request read
    std::size_t max_connections = 16;  // more are closed at once: probes and a scraper need few
    std::size_t max_header_bytes = 8 * 1024;
};

/// rollbot's own HTTP/1.1 endpoint (Beast, plain TCP): GET or HEAD of /healthz, /readyz and
/// /metrics through core::OpsEndpoints; 404 for other paths, 405 for other methods, 400 for
/// what does not parse. Every read has a deadline and the connections are capped, so a slow
/// or hostile client cannot hold the io thread or the Slack loop that shares it.
class OpsServer {
public:
    virtual ~OpsServer() = default;
    /// The bound port (the chosen one when the config asked for port 0).
    [[nodiscard]] virtual std::uint16_t port() const = 0;
    /// Closes the listening socket and every open connection.
    virtual void stop() = 0;
};

/// Binds now, so a taken port is a start-up error, and serves from the task group's executor.
[[nodiscard]] core::Result<std::shared_ptr<OpsServer>> start_ops_server(
    core::TaskGroup& tasks,
    const std::string& host,
    std::uint16_t port,
    core::OpsEndpoints& endpoints,
    std::shared_ptr<spdlog::logger> log,
    OpsServerOptions options = {});

}  // namespace rollbot::ops
