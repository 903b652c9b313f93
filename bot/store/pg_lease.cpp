#include "bot/store/pg_lease.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace rollbot::store {
namespace {

namespace asio = boost::asio;
using core::Result;
using pg::param;
using pg::Param;
using SteadyClock = std::chrono::steady_clock;

// The expiry is written as now() + lease on the server; the lease travels in milliseconds.
constexpr std::string_view kAcquire = R"sql(
    UPDATE leader_lease
    SET term = term + 1, holder = $1, backend_pid = pg_backend_pid(), acquired_at = now(),
        renewed_at = now(), expires_at = now() + $2::bigint * interval '1 millisecond'
    WHERE id = 1
      AND (holder IS NULL OR expires_at <= now()
           OR NOT EXISTS (SELECT 1 FROM pg_stat_activity a
                          WHERE a.pid = leader_lease.backend_pid))
    RETURNING term)sql";

constexpr std::string_view kRenew = R"sql(
    UPDATE leader_lease
    SET renewed_at = now(), backend_pid = pg_backend_pid(),
        expires_at = now() + $3::bigint * interval '1 millisecond'
    WHERE id = 1 AND term = $1 AND holder = $2
    RETURNING term)sql";

constexpr std::string_view kRelease = R"sql(
    UPDATE leader_lease SET holder = NULL, expires_at = '-infinity'
    WHERE id = 1 AND term = $1 AND holder = $2)sql";

constexpr std::string_view kRead = R"sql(
    SELECT term, holder, coalesce(backend_pid, 0), expires_at <= now(),
           EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = leader_lease.backend_pid)
    FROM leader_lease WHERE id = 1)sql";

}  // namespace

std::chrono::milliseconds LeaseTiming::margin() const {
    // A fifth of the lease (3 s of the default 15 s), at least a second: a renewal slower than
    // that is a database in trouble anyway.
    return std::max(std::chrono::milliseconds{1000}, lease / 5);
}

asio::awaitable<Result<std::optional<std::int64_t>>> PgLease::try_acquire() {
    constexpr std::string_view kOp = "lease.acquire";
    const auto sent = SteadyClock::now();
    std::vector<Param> p{param(holder_), param(static_cast<std::int64_t>(timing_.lease.count()))};
    auto rows = co_await db_.query(kOp, std::string(kAcquire), std::move(p));
    if (!rows) {
        co_return rows.error();
    }
    if (rows->size() == 0) {
        co_return std::optional<std::int64_t>{};
    }
    term_ = rows->integer(0, 0);
    trusted_until_ = sent + timing_.lease - timing_.margin();
    co_return std::optional<std::int64_t>{term_};
}

asio::awaitable<Result<void>> PgLease::renew() {
    constexpr std::string_view kOp = "lease.renew";
    if (term_ == 0) {
        co_return core::make_error(core::ErrorKind::Conflict,
                                   fmt::format("{}: this replica holds no lease", kOp));
    }
    const auto sent = SteadyClock::now();
    std::vector<Param> p{
        param(term_), param(holder_), param(static_cast<std::int64_t>(timing_.lease.count()))};
    auto rows = co_await db_.query(kOp, std::string(kRenew), std::move(p));
    if (!rows) {
        co_return rows.error();
    }
    if (rows->size() == 0) {
        const auto lost = term_;
        forget();
        co_return core::make_error(
            core::ErrorKind::Conflict,
            fmt::format("{}: term {} is no longer current: another replica took over", kOp, lost));
    }
    trusted_until_ = sent + timing_.lease - timing_.margin();
    co_return Result<void>{};
}

asio::awaitable<Result<void>> PgLease::release() {
    constexpr std::string_view kOp = "lease.release";
    if (term_ == 0) {
        co_return Result<void>{};
    }
    std::vector<Param> p{param(term_), param(holder_)};
    forget();
    auto rows = co_await db_.query(kOp, std::string(kRelease), std::move(p));
    if (!rows) {
        co_return rows.error();
    }
    co_return Result<void>{};
}

asio::awaitable<Result<LeaseHolder>> PgLease::read() {
    constexpr std::string_view kOp = "lease.read";
    std::vector<Param> none;
    auto rows = co_await db_.query(kOp, std::string(kRead), std::move(none));
    if (!rows) {
        co_return rows.error();
    }
    if (rows->size() != 1) {
        co_return core::make_error(core::ErrorKind::Storage,
                                   fmt::format("{}: the lease row is missing", kOp));
    }
    LeaseHolder h;
    h.term = rows->integer(0, 0);
    h.holder = rows->opt_text(0, 1);
    h.backend_pid = static_cast<int>(rows->integer(0, 2));
    h.expired = rows->text(0, 3) == "t";
    h.backend_alive = rows->text(0, 4) == "t";
    co_return h;
}

void PgLease::forget() {
    term_ = 0;
    trusted_until_ = {};
}

}  // namespace rollbot::store
