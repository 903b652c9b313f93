#pragma once

#include "bot/command.hpp"
#include "bot/ids.hpp"
#include "bot/plan.hpp"
#include "bot/ports/runbook.hpp"
#include "bot/result.hpp"

#include <boost/asio/awaitable.hpp>
#include <spdlog/logger.h>

#include <memory>
#include <string>
#include <vector>

namespace rollbot::core {

/// Reads the cluster as it is now and turns a request into the runbook's plan. Used when a
/// request arrives and again just before an approved one runs (the time-of-check).
class PlanResolver {
public:
    PlanResolver(Runbook& runbook, std::shared_ptr<spdlog::logger> log);

    /// The plan for `request` from the deployments (and, for DB downgrades, the database) as
    /// they are now; an error when the database's revision cannot be read or the runbook
    /// refuses the request.
    boost::asio::awaitable<Result<Plan>> resolve(RollbackRequest request, RequestId id);
    /// The deployments that can be read now; the others are logged and left out.
    boost::asio::awaitable<ClusterSnapshot> observe(std::vector<std::string> names, RequestId id);

private:
    Runbook& runbook_;
    std::shared_ptr<spdlog::logger> log_;
};

}  // namespace rollbot::core
