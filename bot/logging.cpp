#include "bot/logging.hpp"

#include "bot/secret.hpp"

#include <spdlog/async.h>
#include <spdlog/details/fmt_helper.h>
#include <spdlog/formatter.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <mutex>

namespace rollbot::core {
namespace {

// Slots are preallocated and touched at start-up (408 bytes each with spdlog 1.10): 2048 slots
// are 0.8 MiB resident, ~0.2 s of the heaviest burst rollbot logs (5,000 commands/s), which the
// log thread drains far faster. 16384 cost 6.5 MiB, most of the daemon's own memory.
constexpr std::size_t kLogQueueSize = 2048;

std::string json_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 8);
    for (char c : s) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20U) {
                    out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
                } else {
                    out += c;
                }
        }
    }
    return out;
}

// One JSON object per line: ts, level, logger, msg. The message is redacted first.
class JsonFormatter final : public spdlog::formatter {
public:
    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
        const auto ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch())
                .count();
        const auto level = spdlog::level::to_string_view(msg.level);
        const auto line = fmt::format(
            R"({{"ts_ms":{},"level":"{}","logger":"{}","msg":"{}"}})"
            "\n",
            ms,
            std::string_view(level.data(), level.size()),
            json_escape(std::string_view(msg.logger_name.data(), msg.logger_name.size())),
            json_escape(redact(std::string_view(msg.payload.data(), msg.payload.size()))));
        dest.append(line.data(), line.data() + line.size());
    }
    [[nodiscard]] std::unique_ptr<spdlog::formatter> clone() const override {
        return std::make_unique<JsonFormatter>();
    }
};

// Text lines through a pattern formatter, with the payload redacted before formatting.
class RedactingStderrSink final : public spdlog::sinks::base_sink<std::mutex> {
protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        const std::string clean = redact(std::string_view(msg.payload.data(), msg.payload.size()));
        spdlog::details::log_msg copy = msg;
        copy.payload = clean;
        spdlog::memory_buf_t buf;
        formatter_->format(copy, buf);
        std::fwrite(buf.data(), 1, buf.size(), stderr);
    }
    void flush_() override { std::fflush(stderr); }
};

}  // namespace

std::optional<spdlog::level::level_enum> parse_log_level(std::string_view name) {
    static constexpr std::array<std::pair<std::string_view, spdlog::level::level_enum>, 7> kLevels{
        {{"trace", spdlog::level::trace},
         {"debug", spdlog::level::debug},
         {"info", spdlog::level::info},
         {"warn", spdlog::level::warn},
         {"error", spdlog::level::err},
         {"critical", spdlog::level::critical},
         {"off", spdlog::level::off}}};
    for (const auto& [n, l] : kLevels) {
        if (n == name) {
            return l;
        }
    }
    return std::nullopt;
}

Loggers make_loggers(spdlog::level::level_enum level, LogFormat format) {
    auto sink = std::make_shared<RedactingStderrSink>();
    if (format == LogFormat::Json) {
        sink->set_formatter(std::make_unique<JsonFormatter>());
    } else {
        sink->set_formatter(
            std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v"));
    }
    // Log lines are written by spdlog's own thread from a bounded queue: a slow stderr (a busy
    // journald, a full pipe) must never stall the io thread that acks Slack. Under a flood the
    // oldest queued lines are dropped, never the io thread blocked (see overrun_count()).
    spdlog::init_thread_pool(kLogQueueSize, 1);
    auto make = [&](const char* name) {
        auto logger = std::make_shared<spdlog::async_logger>(
            name, sink, spdlog::thread_pool(), spdlog::async_overflow_policy::overrun_oldest);
        logger->set_level(level);
        logger->flush_on(spdlog::level::info);
        return logger;
    };
    Loggers l{make("core"), make("chat"), make("actions"), make("audit")};
    // The audit trail is not optional: it logs at info even when the rest is quieter.
    l.audit->set_level(std::min(level, spdlog::level::info));
    spdlog::set_default_logger(l.core);
    return l;
}

std::size_t overrun_count() {
    auto pool = spdlog::thread_pool();
    return pool ? pool->overrun_counter() : 0;
}

void flush_logs() {
    spdlog::shutdown();
}

std::shared_ptr<spdlog::logger> null_logger(std::string name) {
    return std::make_shared<spdlog::logger>(std::move(name),
                                            std::make_shared<spdlog::sinks::null_sink_mt>());
}

}  // namespace rollbot::core
