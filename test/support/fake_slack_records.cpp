// FakeSlackRecords: the test thread waits on what the server thread records, and a failed wait
// says what did arrive.
#include "test/support/fake_slack_records.hpp"

#include <algorithm>
#include <sstream>

namespace rollbot::test {
namespace {

// Failure messages list at most this many recent items: a benchmark may have 10,000.
constexpr std::size_t kExplainItems = 10;

std::string shorten(std::string_view text, std::size_t max = 160) {
    if (text.size() <= max) {
        return std::string(text);
    }
    return std::string(text.substr(0, max)) + "…";
}

double ms_between(FakeSlackClock::time_point from, FakeSlackClock::time_point to) {
    return std::chrono::duration<double, std::milli>(to - from).count();
}

template <class Items, class Describe>
void explain_last(std::ostringstream& out,
                  const char* what,
                  const Items& items,
                  const Describe& describe) {
    out << "\n  " << items.size() << " " << what;
    if (items.size() > kExplainItems) {
        out << ", the last " << kExplainItems << ":";
    } else if (!items.empty()) {
        out << ":";
    }
    const std::size_t first = items.size() > kExplainItems ? items.size() - kExplainItems : 0;
    for (std::size_t i = first; i < items.size(); ++i) {
        out << "\n    " << describe(items[i]);
    }
}

std::string describe_post(const FakeSlackPost& post) {
    std::string out = post.method + " channel=" + post.channel;
    if (!post.ts.empty()) {
        out += " ts=" + post.ts;
    }
    out += " text=\"" + shorten(post.text) + "\"";
    if (!post.block_text.empty()) {
        out += " blocks=\"" + shorten(post.block_text) + "\"";
    }
    return out;
}

std::string describe_connection(const FakeSlackConnection& c) {
    static constexpr const char* kBy[] = {
        "open", "closed by client", "closed by server", "dropped by server"};
    std::string out = "#" + std::to_string(c.number) + " " + kBy[static_cast<int>(c.closed_by)];
    if (c.client_close_frame) {
        out += " (close frame " + std::to_string(c.close_code) + ")";
    }
    if (!c.reading) {
        out += " (not reading)";
    }
    return out;
}

}  // namespace

testing::AssertionResult FakeSlackRecords::wait(std::chrono::milliseconds timeout,
                                                const std::function<bool()>& done,
                                                const std::function<std::string()>& explain) const {
    std::unique_lock lock(mutex_);
    if (changed_.wait_for(lock, timeout, done)) {
        return testing::AssertionSuccess();
    }
    return testing::AssertionFailure()
           << "FakeSlackServer: waited " << timeout.count() << " ms " << explain();
}

testing::AssertionResult FakeSlackRecords::wait_for_ack(const std::string& envelope_id,
                                                        std::chrono::milliseconds timeout) const {
    const auto acked = [&] {
        const auto found = envelope_index_.find(envelope_id);
        if (found != envelope_index_.end()) {
            return envelopes_[found->second].acks > 0;
        }
        return std::any_of(acks_.begin(), acks_.end(), [&](const FakeSlackAck& a) {
            return a.envelope_id == envelope_id;
        });
    };
    return wait(timeout, acked, [&] {
        std::ostringstream out;
        out << "for an ack of envelope " << envelope_id << ";";
        const auto found = envelope_index_.find(envelope_id);
        if (found == envelope_index_.end()) {
            out << " it was not built by this server.";
        } else if (const auto& e = envelopes_[found->second]; !e.sent_at) {
            out << " it was never written (no live connection when it was sent).";
        } else {
            out << " it was written on connection #" << e.connection << " "
                << ms_between(*e.sent_at, FakeSlackClock::now()) << " ms ago.";
        }
        explain_last(out, "ack(s) arrived", acks_, [](const FakeSlackAck& a) {
            return a.envelope_id + " on #" + std::to_string(a.connection);
        });
        std::vector<const FakeSlackFrame*> others;
        for (const auto& frame : frames_) {
            if (frame.binary || frame.data.find("envelope_id") == std::string::npos) {
                others.push_back(&frame);
            }
        }
        explain_last(out, "other client frame(s)", others, [](const FakeSlackFrame* f) {
            return "#" + std::to_string(f->connection) + (f->binary ? " binary " : " ") +
                   shorten(f->data);
        });
        explain_last(out, "connection(s)", connections_, describe_connection);
        return out.str();
    });
}

testing::AssertionResult FakeSlackRecords::wait_for_acks(std::size_t count,
                                                         std::chrono::milliseconds timeout) const {
    return wait(
        timeout,
        [&] { return acked_envelopes_ >= count; },
        [&] {
            std::ostringstream out;
            out << "for " << count << " acked envelope(s); " << acked_envelopes_ << " of "
                << envelopes_.size() << " sent were acked";
            std::vector<const FakeSlackEnvelope*> missing;
            for (const auto& e : envelopes_) {
                if (e.acks == 0) {
                    missing.push_back(&e);
                }
            }
            explain_last(out, "unacked", missing, [](const FakeSlackEnvelope* e) {
                return e->envelope_id + " " + e->type +
                       (e->sent_at ? " written on #" + std::to_string(e->connection)
                                   : std::string(" never written"));
            });
            explain_last(out, "connection(s)", connections_, describe_connection);
            return out.str();
        });
}

testing::AssertionResult FakeSlackRecords::wait_for_post(std::string_view channel,
                                                         std::string_view substring,
                                                         std::chrono::milliseconds timeout) const {
    return wait_for_message(false, channel, substring, timeout);
}

testing::AssertionResult FakeSlackRecords::wait_for_update(
    std::string_view substring, std::chrono::milliseconds timeout) const {
    return wait_for_message(true, {}, substring, timeout);
}

testing::AssertionResult FakeSlackRecords::wait_for_message(
    bool update,
    std::string_view channel,
    std::string_view substring,
    std::chrono::milliseconds timeout) const {
    const auto& list = update ? updates_ : posts_;
    const auto found = [&] {
        return std::any_of(list.begin(), list.end(), [&](const FakeSlackPost& post) {
            return (channel.empty() || post.channel == channel) &&
                   (post.text.find(substring) != std::string::npos ||
                    post.block_text.find(substring) != std::string::npos);
        });
    };
    return wait(timeout, found, [&] {
        std::ostringstream out;
        out << "for " << (update ? "a chat.update" : "a post")
            << (channel.empty() ? std::string() : " in " + std::string(channel)) << " containing \""
            << substring << "\"";
        explain_last(out, update ? "update(s)" : "post(s)", list, describe_post);
        std::vector<const FakeSlackCall*> failed;
        for (const auto& call : calls_) {
            if (call.status != 200 || !call.error.empty()) {
                failed.push_back(&call);
            }
        }
        explain_last(out, "failed call(s)", failed, [](const FakeSlackCall* c) {
            return c->method + " → " + std::to_string(c->status) + " " + c->error;
        });
        return out.str();
    });
}

testing::AssertionResult FakeSlackRecords::wait_for_connections(
    std::size_t live_count, std::chrono::milliseconds timeout) const {
    return wait(
        timeout,
        [&] { return live_ == live_count; },
        [&] {
            std::ostringstream out;
            out << "for " << live_count << " live connection(s); " << live_ << " live";
            explain_last(out, "connection(s) opened", connections_, describe_connection);
            return out.str();
        });
}

testing::AssertionResult FakeSlackRecords::wait_for_opened(
    std::size_t total, std::chrono::milliseconds timeout) const {
    return wait(
        timeout,
        [&] { return connections_.size() >= total; },
        [&] {
            std::ostringstream out;
            out << "for " << total << " connection(s) opened in total";
            explain_last(out, "connection(s) opened", connections_, describe_connection);
            const auto opens = call_counts_.find("apps.connections.open");
            out << "\n  apps.connections.open called "
                << (opens == call_counts_.end() ? 0 : opens->second) << " time(s)";
            return out.str();
        });
}

testing::AssertionResult FakeSlackRecords::wait_for_call(std::string_view method,
                                                         std::size_t count,
                                                         std::chrono::milliseconds timeout) const {
    const auto calls_of = [&] {
        const auto found = call_counts_.find(method);
        return found == call_counts_.end() ? std::size_t{0} : found->second;
    };
    return wait(
        timeout,
        [&] { return calls_of() >= count; },
        [&] {
            std::ostringstream out;
            out << "for " << count << " call(s) of " << method << "; got " << calls_of();
            explain_last(out, "call(s)", calls_, [](const FakeSlackCall& c) {
                return c.method + " → " + std::to_string(c.status) +
                       (c.error.empty() ? std::string() : " " + c.error);
            });
            return out.str();
        });
}

testing::AssertionResult FakeSlackRecords::wait_for_frame(std::string_view substring,
                                                          std::chrono::milliseconds timeout) const {
    const auto found = [&] {
        return std::any_of(frames_.begin(), frames_.end(), [&](const FakeSlackFrame& frame) {
            return frame.data.find(substring) != std::string::npos;
        });
    };
    return wait(timeout, found, [&] {
        std::ostringstream out;
        out << "for a client frame containing \"" << substring << "\"";
        explain_last(out, "client frame(s)", frames_, [](const FakeSlackFrame& f) {
            return "#" + std::to_string(f.connection) + (f.binary ? " binary " : " ") +
                   shorten(f.data);
        });
        explain_last(out, "connection(s)", connections_, describe_connection);
        return out.str();
    });
}

testing::AssertionResult FakeSlackRecords::wait_for_pongs(std::size_t count,
                                                          std::chrono::milliseconds timeout) const {
    return wait(
        timeout,
        [&] { return pongs_ >= count; },
        [&] {
            std::ostringstream out;
            out << "for " << count << " pong(s) from clients; got " << pongs_;
            explain_last(out, "connection(s)", connections_, describe_connection);
            return out.str();
        });
}

// ---- Counts and copies ----

std::size_t FakeSlackRecords::connections_opened() const {
    const std::lock_guard lock(mutex_);
    return connections_.size();
}

std::size_t FakeSlackRecords::live_connections() const {
    const std::lock_guard lock(mutex_);
    return live_;
}

std::vector<FakeSlackCall> FakeSlackRecords::calls() const {
    const std::lock_guard lock(mutex_);
    return calls_;
}

std::vector<FakeSlackPost> FakeSlackRecords::posts() const {
    const std::lock_guard lock(mutex_);
    return posts_;
}

std::vector<FakeSlackPost> FakeSlackRecords::updates() const {
    const std::lock_guard lock(mutex_);
    return updates_;
}

std::vector<FakeSlackAck> FakeSlackRecords::acks() const {
    const std::lock_guard lock(mutex_);
    return acks_;
}

std::vector<FakeSlackFrame> FakeSlackRecords::frames() const {
    const std::lock_guard lock(mutex_);
    return frames_;
}

std::vector<FakeSlackEnvelope> FakeSlackRecords::envelopes() const {
    const std::lock_guard lock(mutex_);
    return envelopes_;
}

std::vector<FakeSlackConnection> FakeSlackRecords::connections() const {
    const std::lock_guard lock(mutex_);
    return connections_;
}

std::optional<std::chrono::nanoseconds> FakeSlackRecords::ack_latency(
    const std::string& envelope_id) const {
    const std::lock_guard lock(mutex_);
    const auto found = envelope_index_.find(envelope_id);
    if (found == envelope_index_.end()) {
        return std::nullopt;
    }
    return envelopes_[found->second].ack_latency();
}

std::string FakeSlackCall::param(const std::string& name) const {
    const auto found = params.find(name);
    return found == params.end() ? std::string() : found->second;
}

std::optional<std::chrono::nanoseconds> FakeSlackEnvelope::ack_latency() const {
    if (!sent_at || !acked_at) {
        return std::nullopt;
    }
    return std::chrono::duration_cast<std::chrono::nanoseconds>(*acked_at - *sent_at);
}

}  // namespace rollbot::test
