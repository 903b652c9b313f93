#pragma once

#include "bot/approval.hpp"
#include "bot/chat.hpp"
#include "bot/ids.hpp"
#include "bot/plan.hpp"
#include "bot/run.hpp"
#include "bot/settings.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// The records of rollbot's durable state (bot/ports/state_store.hpp keeps them).
namespace rollbot::core {

using WallTime = std::chrono::system_clock::time_point;

/// A rollback request as typed, enough to rebuild it after a restart.
struct StoredRequest {
    RequestId id;
    UserId requester;
    ChannelId channel;
    std::string command_text;  // the text after `/rollback`, parsed again on restore
    WallTime received_at;
    bool operator==(const StoredRequest&) const = default;
};

/// An approval with the request it guards and the card text it showed.
struct StoredApproval {
    StoredRequest request;
    ApprovalSnapshot approval;
    std::string card_text;  // the plan part of the card, to re-render transitions without kubectl
    bool operator==(const StoredApproval&) const = default;
};

/// One executed step, as the audit trail and `/rollback log` show it.
struct StoredStep {
    int n = 0;            // 1-based
    std::string command;  // display_command(step)
    StepOutcome outcome = StepOutcome::Failed;
    std::optional<int> exit_code;
    Duration duration{};
    std::string digest;  // SHA-256 of the output
    bool operator==(const StoredStep&) const = default;
};

/// A run: an executing (or finished) rollback.
struct StoredRun {
    RequestId id;
    UserId requester;
    std::string what;                    // describe(request)
    RunState state = RunState::Running;  // Running, then how it ended, or Interrupted
    WallTime started;
    std::optional<WallTime> finished;
    std::optional<MessageRef> card;
    std::vector<StoredStep> steps;
    bool operator==(const StoredRun&) const = default;
};

/// A message the bot must deliver. Stored before it is sent; retried until Slack accepts it.
struct OutboxEntry {
    enum class Kind { Post, Update };
    std::int64_t seq = 0;  // assigned by the store; delivery is in seq order
    Kind kind = Kind::Post;
    ChannelId channel;
    /// Post: reply in this thread. Either a known ts, or the entry whose message is the parent
    /// (its ts is known once that entry was sent).
    std::optional<MessageTs> thread_ts;
    std::optional<std::int64_t> thread_seq;
    /// Update: the message to edit, known or another entry.
    std::optional<MessageTs> target_ts;
    std::optional<std::int64_t> target_seq;
    std::string text;
    std::string key;  // what it is, for logs: "R3/report"
    int attempts = 0;
    std::optional<MessageTs> sent_ts;  // set once delivered
    bool operator==(const OutboxEntry&) const = default;
};

/// What an audit record is about; stored (and shown) by its to_string name.
enum class AuditKind {
    Request,      // a rollback was asked for
    Refused,      // it could not be planned
    Reaction,     // a reaction on an approval card, and what it counted for
    Approval,     // an approval's transition
    Cancel,       // a cancel that was not allowed
    Step,         // one executed step: argv, exit code, duration, output digest
    Report,       // the run's end and its verdict
    Interrupted,  // a run a restart cut short
    Shutdown,     // a running step stopped because the stop grace ran out
    Watch,        // the watch window's final trend
};

[[nodiscard]] std::string_view to_string(AuditKind kind);

/// One record to append to the audit trail (the store adds time, sequence and hashes).
struct AuditEntry {
    AuditKind kind = AuditKind::Request;
    RequestId request;
    UserId actor;        // empty: rollbot itself
    std::string detail;  // one line, key=value (free text quoted with log_quote)
    bool operator==(const AuditEntry&) const = default;
};

/// One record of the tamper-evident audit trail, as stored.
struct AuditRecord {
    std::int64_t seq = 0;
    WallTime at;
    std::string kind;  // to_string(AuditKind) when rollbot wrote it
    RequestId request_id;
    std::string actor;   // user id, or "rollbot"
    std::string detail;  // one line, key=value
    std::string prev_hash;
    std::string hash;  // hex SHA-256 over prev_hash and the record's fields
    bool operator==(const AuditRecord&) const = default;
};

/// Result of walking the audit chain.
struct AuditCheck {
    bool ok = true;
    std::int64_t records = 0;
    std::optional<std::int64_t> first_bad;  // seq of the first record that does not verify
    std::string problem;                    // what is wrong with it
    bool operator==(const AuditCheck&) const = default;
};

}  // namespace rollbot::core
