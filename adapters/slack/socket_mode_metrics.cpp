// The Slack side of /metrics: the rollbot_slack_* families filled from the transport's state,
// and the reconnect reasons they are labelled by.
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
