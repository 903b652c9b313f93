#pragma once

// An ApprovalDesk built from a FlowHarness's members with parts of its own, and a RunStarter
// that records what it is handed instead of running it: the approval desk's tests look at the
// card, the replies, the store, the audit trail, the metrics and the locks.
#include "bot/flow/approval_desk.hpp"
#include "bot/flow/audit_trail.hpp"
#include "bot/flow/chat_out.hpp"
#include "bot/flow/plan_resolver.hpp"
#include "bot/flow/run_starter.hpp"
#include "bot/lock_table.hpp"
#include "test/support/flow_harness.hpp"

#include <boost/asio/awaitable.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rollbot::test {

/// Where approved requests would run: records each RunStart and runs nothing.
class RecordingRunStarter final : public core::RunStarter {
public:
    boost::asio::awaitable<void> start(core::RunStart start) override {
        started.push_back(std::move(start));
        co_return;
    }
    std::vector<core::RunStart> started;
};

inline boost::asio::awaitable<void> request_into(core::ApprovalDesk* desk,
                                                 core::SlashCommand cmd,
                                                 core::Command command,
                                                 std::chrono::steady_clock::time_point received,
                                                 std::optional<core::CommandOutcome>* out) {
    *out = co_await desk->request(std::move(cmd), std::move(command), received);
}

inline boost::asio::awaitable<void> restore_into(core::ApprovalDesk* desk,
                                                 std::optional<std::optional<std::size_t>>* out) {
    *out = co_await desk->restore();
}

/// The desk under test and the parts it owns, over `h`.
class DeskUnderTest {
public:
    explicit DeskUnderTest(FlowHarness& h)
        : h_(h),
          chat(h.chat, h.log),
          audit(h.store, h.clock, h.audit_log, h.log, &h.metrics),
          plans(h.runbook, h.log),
          desk({h.settings,
                chat,
                h.chat,
                plans,
                runs,
                audit,
                h.store,
                locks,
                h.reporter,
                h.clock,
                h.tasks,
                h.log,
                &h.metrics}) {}

    /// `/rollback <text>` from `user`, handed to the desk as the router would; runs the loop.
    core::CommandOutcome request(std::string_view text, std::string_view user = "U0ALICE") {
        auto command = core::parse_command(text);
        if (!command || !command->rollback) {
            ADD_FAILURE() << "not a rollback: " << text;
            return core::CommandOutcome::UsageError;
        }
        received = h_.clock.steady_now();
        std::optional<core::CommandOutcome> outcome;
        auto cmd = FlowHarness::slash(text, user);
        h_.spawn(request_into(&desk, std::move(cmd), std::move(*command), received, &outcome),
                 "request");
        if (!outcome) {
            ADD_FAILURE() << "request did not complete: " << text;
            return core::CommandOutcome::Refused;
        }
        return *outcome;
    }
    void react(std::string_view user,
               std::string_view reaction,
               const core::MessageTs& ts,
               bool added = true,
               std::string event_id = {}) {
        auto event = FlowHarness::reaction(user, reaction, ts, added, std::move(event_id));
        h_.spawn(desk.on_reaction(std::move(event)), "reaction");
    }
    void cancel(std::string_view user, std::optional<std::string> id = std::nullopt) {
        auto cmd = FlowHarness::slash(id ? "cancel " + *id : std::string("cancel"), user);
        std::optional<core::RequestId> request_id;
        if (id) {
            request_id = core::RequestId{*id};
        }
        h_.spawn(desk.cancel(std::move(cmd), std::move(request_id)), "cancel");
    }
    /// restore(); fails the test unless it completed.
    std::optional<std::size_t> restore() {
        std::optional<std::optional<std::size_t>> out;
        h_.spawn(restore_into(&desk, &out), "restore");
        if (!out) {
            ADD_FAILURE() << "restore did not complete";
            return std::nullopt;
        }
        return *out;
    }

    /// Who holds `target` now ("" when nobody).
    [[nodiscard]] std::string holder_of(const std::string& target) const {
        const auto it = locks.held().find(target);
        return it == locks.held().end() ? std::string() : it->second.id.value;
    }
    [[nodiscard]] bool is_open(const std::string& id) const {
        return desk.open().contains(core::RequestId{id});
    }

    FlowHarness& h_;
    core::ChatOut chat;
    core::AuditTrail audit;
    core::LockTable locks;
    core::PlanResolver plans;
    RecordingRunStarter runs;
    core::ApprovalDesk desk;
    std::chrono::steady_clock::time_point received;  // of the last request()
};

/// The audit records of request `id`, one line each: "kind actor detail".
inline std::string audit_trail(FlowHarness& h, const std::string& id) {
    auto records = h.sqlite->audit_log(core::RequestId{id});
    if (!records) {
        ADD_FAILURE() << "audit_log: " << records.error().message;
        return {};
    }
    std::string out;
    for (const auto& r : *records) {
        out += r.kind + " " + r.actor + " " + r.detail + "\n";
    }
    return out;
}

/// The stored approval of `id` (fails the test when there is none).
inline core::StoredApproval stored_approval(FlowHarness& h, const std::string& id) {
    auto found = h.sqlite->find_approval(core::RequestId{id});
    if (!found || !*found) {
        ADD_FAILURE() << "no stored approval " << id;
        return {};
    }
    return **found;
}

/// The messages the requester `user` was told, one after another.
inline std::string replies_to(const FlowHarness& h, std::string_view user) {
    std::string out;
    for (const auto& r : h.chat.replies()) {
        if (r.to.user.value == user) {
            out += r.text + "\n";
        }
    }
    return out;
}

/// Every test: a desk over a fresh harness, built on first use so settings can change first;
/// no spawned task may have failed.
class DeskTest : public ::testing::Test {
protected:
    DeskUnderTest& d() {
        if (!desk_) {
            desk_.emplace(h);
        }
        return *desk_;
    }
    /// The approval card of the newest request.
    core::MessageTs card() const {
        const auto post = h.chat.find_post("Approval needed");
        if (!post) {
            ADD_FAILURE() << "no approval card was posted";
            return {};
        }
        return post->ts;
    }
    void TearDown() override {
        EXPECT_THAT(h.logs(), ::testing::Not(::testing::HasSubstr("task.failed")));
    }

    FlowHarness h;
    std::optional<DeskUnderTest> desk_;
};

}  // namespace rollbot::test
