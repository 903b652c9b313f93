#pragma once

#include "bot/ids.hpp"
#include "bot/plan.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace rollbot::core {

/// A request cleared to run: planned, its targets locked under `id`.
struct RunStart {
    RequestId id;
    UserId requester;
    std::optional<std::string> reason;
    std::chrono::system_clock::time_point received_at;  // for messages and the time table
    std::chrono::steady_clock::time_point received;     // the command's arrival, for durations
    Plan plan;
};

/// Where approved requests go to run: the run executor in rollbotd.
class RunStarter {
public:
    virtual ~RunStarter() = default;
    /// Runs the plan to its report and releases the request's locks; completes when done.
    virtual boost::asio::awaitable<void> start(RunStart start) = 0;
};

}  // namespace rollbot::core
