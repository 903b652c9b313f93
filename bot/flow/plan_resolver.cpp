#include "bot/flow/plan_resolver.hpp"

namespace rollbot::core {

namespace asio = boost::asio;

PlanResolver::PlanResolver(Runbook& runbook, std::shared_ptr<spdlog::logger> log)
    : runbook_(runbook), log_(std::move(log)) {}

asio::awaitable<ClusterSnapshot> PlanResolver::observe(std::vector<std::string> names,
                                                       RequestId id) {
    ClusterSnapshot snapshot;
    for (const auto& name : names) {
        auto state = co_await runbook_.observe(name);
        if (state) {
            snapshot.deployments[name] = *state;
        } else {
            log_->warn("rollback.observe_failed id={} deployment={} error={}",
                       id,
                       name,
                       state.error().message);
        }
    }
    co_return snapshot;
}

asio::awaitable<Result<Plan>> PlanResolver::resolve(RollbackRequest request, RequestId id) {
    ClusterSnapshot before = co_await observe(affected_deployments(request.action), id);
    if (request.action == ActionKind::Db) {
        const DbTarget target = request.db.value_or(DbTarget{});
        auto database = co_await runbook_.observe_database(target);
        if (!database) {
            co_return Error{ErrorKind::ProcessFailed,
                            "rollbot could not read the database's alembic revision, so it "
                            "cannot show what the downgrade would do: " +
                                database.error().message};
        }
        before.database = std::move(*database);
    }
    co_return runbook_.plan(request, before);
}

}  // namespace rollbot::core
