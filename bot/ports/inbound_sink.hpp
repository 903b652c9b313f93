#pragma once

#include "bot/chat.hpp"

#include <boost/asio/awaitable.hpp>

namespace rollbot::core {

/// Receives what users do. Called on the io_context thread; must return quickly.
class InboundSink {
public:
    virtual ~InboundSink() = default;
    /// Takes one decoded inbound event; work is started, not awaited.
    virtual void on_inbound(Inbound event) = 0;
    /// Completes once no command is being handled (used by scripted console sessions, shutdown).
    virtual boost::asio::awaitable<void> wait_idle() = 0;
};

}  // namespace rollbot::core
