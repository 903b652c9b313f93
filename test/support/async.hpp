#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>
#include <utility>

namespace rollbot::test {

/// Runs a coroutine on `io` until it completes or `timeout` passes (then throws), rethrowing
/// its exception. Other work queued on `io` runs too.
template <class T>
T run_task(boost::asio::io_context& io,
           boost::asio::awaitable<T> task,
           std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    std::optional<T> value;
    std::exception_ptr error;
    bool done = false;
    boost::asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T v) {
        error = e;
        value.emplace(std::move(v));
        done = true;
    });
    io.restart();
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done && std::chrono::steady_clock::now() < deadline) {
        io.run_one_until(deadline);
    }
    if (!done) {
        throw std::runtime_error("run_task: the coroutine did not finish in time");
    }
    if (error) {
        std::rethrow_exception(error);
    }
    return std::move(*value);
}

inline void run_task(boost::asio::io_context& io,
                     boost::asio::awaitable<void> task,
                     std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    std::exception_ptr error;
    bool done = false;
    boost::asio::co_spawn(io, std::move(task), [&](std::exception_ptr e) {
        error = e;
        done = true;
    });
    io.restart();
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done && std::chrono::steady_clock::now() < deadline) {
        io.run_one_until(deadline);
    }
    if (!done) {
        throw std::runtime_error("run_task: the coroutine did not finish in time");
    }
    if (error) {
        std::rethrow_exception(error);
    }
}

}  // namespace rollbot::test
