// The Slack side of /metrics: the rollbot_slack_* families, declared and filled here, and the
// reconnect reasons they are labelled by.
#include "adapters/slack/socket_mode_transport.hpp"

namespace rollbot::slack {

std::string_view to_string(ReconnectReason reason) {
    switch (reason) {
        case ReconnectReason::Start:
            return "start";
        case ReconnectReason::Lifetime:
            return "lifetime";
        case ReconnectReason::Warning:
            return "warning";
        case ReconnectReason::RefreshRequested:
            return "refresh_requested";
        case ReconnectReason::LinkDisabled:
            return "link_disabled";
        case ReconnectReason::TooManyWebsockets:
            return "too_many_websockets";
        case ReconnectReason::Unknown:
            return "unknown";
        case ReconnectReason::Closed:
            return "closed";
        case ReconnectReason::ClosedBySlack:
            return "closed_by_slack";
        case ReconnectReason::ReadError:
            return "read_error";
        case ReconnectReason::WriteError:
            return "write_error";
        case ReconnectReason::ConnectError:
            break;
    }
    return "connect_error";
}

ReconnectReason reconnect_reason(DisconnectReason reason) {
    switch (reason) {
        case DisconnectReason::Warning:
            return ReconnectReason::Warning;
        case DisconnectReason::RefreshRequested:
            return ReconnectReason::RefreshRequested;
        case DisconnectReason::LinkDisabled:
            return ReconnectReason::LinkDisabled;
        case DisconnectReason::TooManyWebsockets:
            return ReconnectReason::TooManyWebsockets;
        case DisconnectReason::Unknown:
            break;
    }
    return ReconnectReason::Unknown;
}

ReconnectReason reconnect_reason(CloseCause cause) {
    switch (cause) {
        case CloseCause::ClosedBySlack:
            return ReconnectReason::ClosedBySlack;
        case CloseCause::ReadError:
            return ReconnectReason::ReadError;
        case CloseCause::WriteError:
            return ReconnectReason::WriteError;
        case CloseCause::Closed:
            return ReconnectReason::Closed;
        case CloseCause::ConnectError:
            break;
    }
    return ReconnectReason::ConnectError;
}

void define_slack_metrics(core::Metrics& m) {
    using T = core::MetricType;
    // Seconds. Acks are written from the read loop: sub-millisecond when healthy, and Slack
    // gives up at 3 s.
    const std::vector<double> ack_buckets{
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 3};

    m.define("rollbot_slack_connection_live",
             T::Gauge,
             "1 while a Socket Mode connection has said hello and is open");
    m.define("rollbot_slack_connection_fatal",
             T::Gauge,
             "1 when rollbot stopped reconnecting (bad token, app disabled): see the log");
    m.define("rollbot_slack_connections",
             T::Gauge,
             "Socket Mode connections of this app, as Slack counted them in the last hello");
    m.define("rollbot_slack_hellos_total", T::Counter, "Socket Mode hello frames received");
    m.define("rollbot_slack_envelopes_total",
             T::Counter,
             "Socket Mode envelopes received, by type",
             {"type"});
    m.define("rollbot_slack_duplicates_total",
             T::Counter,
             "Envelopes Slack delivered again, acked and not acted on");
    m.define("rollbot_slack_reconnects_total",
             T::Counter,
             "New Socket Mode connections after the first, by reason",
             {"reason"});
    m.define("rollbot_slack_ack_seconds",
             T::Histogram,
             "From an envelope's arrival to its ack written to the socket",
             {},
             ack_buckets);
    m.define("rollbot_slack_api_calls_total", T::Counter, "Web API calls, by method", {"method"});
    m.define("rollbot_slack_api_errors_total",
             T::Counter,
             "Web API calls that failed after their retries, by method",
             {"method"});
    m.define("rollbot_slack_api_rate_limited_total",
             T::Counter,
             "Web API answers with HTTP 429 or ratelimited, by method",
             {"method"});
}

void SlackSocketModeTransport::export_metrics(core::Metrics& m) const {
    m.set("rollbot_slack_connection_live", {}, status_.live ? 1 : 0);
    m.set("rollbot_slack_connection_fatal", {}, status_.fatal ? 1 : 0);
    m.set("rollbot_slack_connections", {}, status_.num_connections);
    m.set("rollbot_slack_hellos_total", {}, static_cast<double>(status_.hellos));
    m.set("rollbot_slack_duplicates_total", {}, static_cast<double>(status_.duplicates));
    for (const auto& [type, n] : status_.envelopes) {
        m.set("rollbot_slack_envelopes_total", {type}, static_cast<double>(n));
    }
    for (const auto& [reason, n] : status_.reconnects) {
        m.set("rollbot_slack_reconnects_total",
              {std::string(to_string(reason))},
              static_cast<double>(n));
    }
    for (const auto& [method, stats] : api_.stats()) {
        m.set("rollbot_slack_api_calls_total", {method}, static_cast<double>(stats.calls));
        m.set("rollbot_slack_api_errors_total", {method}, static_cast<double>(stats.errors));
        m.set("rollbot_slack_api_rate_limited_total",
              {method},
              static_cast<double>(stats.rate_limited));
    }
}

}  // namespace rollbot::slack
