// FakeSlackServer's public face: scripting goes to the network side (fake_slack_network.cpp)
// and the workspace (fake_slack_workspace.cpp), which records into this server's
// FakeSlackRecords (fake_slack_records.cpp).
#include "test/support/fake_slack_server.hpp"

#include "test/support/fake_slack_workspace.hpp"

#include <utility>

namespace rollbot::test {

namespace {

using fake_slack::Outgoing;

std::string which(std::size_t connection) {
    return connection == FakeSlackServer::kLatest ? std::string("at all")
                                                  : "#" + std::to_string(connection);
}

}  // namespace

FakeSlackServer::FakeSlackServer(FakeSlackOptions options)
    : workspace_(std::make_unique<fake_slack::Workspace>(std::move(options), *this)),
      network_(fake_slack::Network::start(*workspace_, workspace_->options().tls)) {}

FakeSlackServer::~FakeSlackServer() {
    network_.reset();  // the server thread goes first: it writes into the workspace and records
}

std::uint16_t FakeSlackServer::port() const {
    return network_->port();
}

std::string FakeSlackServer::api_url() const {
    return workspace_->api_url();
}

std::vector<std::pair<std::string, std::string>> FakeSlackServer::daemon_env() const {
    return {{"SLACK_API_URL", api_url()},
            {"SLACK_APP_TOKEN", options().app_token},
            {"SLACK_BOT_TOKEN", options().bot_token}};
}

std::string FakeSlackServer::ca_file() {
    return std::string(ROLLBOT_TEST_DATA_DIR) + "/ca.pem";
}

const FakeSlackOptions& FakeSlackServer::options() const {
    return workspace_->options();
}

void FakeSlackServer::add_user(FakeSlackUser user) {
    workspace_->add_user(std::move(user));
}

void FakeSlackServer::add_usergroup(std::string id, std::vector<std::string> user_ids) {
    workspace_->add_usergroup(std::move(id), std::move(user_ids));
}

void FakeSlackServer::add_channel(std::string id, std::string name) {
    workspace_->add_channel(std::move(id), std::move(name));
}

void FakeSlackServer::inject_fault(std::string method, FakeSlackFault fault) {
    workspace_->inject_fault(std::move(method), std::move(fault));
}

void FakeSlackServer::clear_faults(std::string_view method) {
    workspace_->clear_faults(method);
}

std::string FakeSlackServer::send_slash_command(std::string_view text,
                                                std::string_view user,
                                                std::string_view channel,
                                                std::string_view command,
                                                std::size_t connection) {
    auto frame = workspace_->slash_command(text, user, channel, command);
    auto id = frame.envelope_id;
    network_->send(connection,
                   Outgoing{Outgoing::Kind::Text, std::move(frame.text), frame.envelope_id});
    return id;
}

std::string FakeSlackServer::send_reaction(bool added,
                                           std::string_view user,
                                           std::string_view reaction,
                                           std::string_view channel,
                                           std::string_view ts,
                                           std::string_view event_id,
                                           int retry_attempt,
                                           std::size_t connection) {
    auto frame = workspace_->reaction(added, user, reaction, channel, ts, event_id, retry_attempt);
    auto id = frame.envelope_id;
    network_->send(connection,
                   Outgoing{Outgoing::Kind::Text, std::move(frame.text), frame.envelope_id});
    return id;
}

std::string FakeSlackServer::send_envelope(std::string_view type,
                                           std::string_view payload_json,
                                           bool accepts_response_payload,
                                           std::size_t connection) {
    auto payload = nlohmann::json::parse(payload_json, nullptr, false);
    if (payload.is_discarded()) {
        ADD_FAILURE() << "FakeSlackServer::send_envelope: payload is not JSON: " << payload_json;
        return {};
    }
    auto frame = workspace_->envelope(type, std::move(payload), accepts_response_payload);
    auto id = frame.envelope_id;
    network_->send(connection,
                   Outgoing{Outgoing::Kind::Text, std::move(frame.text), frame.envelope_id});
    return id;
}

void FakeSlackServer::send_text(std::string frame, std::size_t connection) {
    network_->send(connection, Outgoing{Outgoing::Kind::Text, std::move(frame)});
}

void FakeSlackServer::send_binary(std::string bytes, std::size_t connection) {
    network_->send(connection, Outgoing{Outgoing::Kind::Binary, std::move(bytes)});
}

void FakeSlackServer::send_ping(std::string payload, std::size_t connection) {
    network_->send(connection, Outgoing{Outgoing::Kind::Ping, std::move(payload)});
}

void FakeSlackServer::send_disconnect(std::string_view reason, std::size_t connection) {
    send_text(workspace_->disconnect_frame(reason), connection);
}

void FakeSlackServer::drop_connection(std::size_t connection, FakeSlackDrop how) {
    Outgoing item{Outgoing::Kind::Drop};
    item.drop = how;
    if (!network_->send_and_wait(connection, std::move(item))) {
        ADD_FAILURE() << "FakeSlackServer::drop_connection: no live connection "
                      << which(connection);
    }
}

void FakeSlackServer::close_connection(std::size_t connection, std::uint16_t code) {
    Outgoing item{Outgoing::Kind::Close};
    item.code = code;
    if (!network_->send_and_wait(connection, std::move(item))) {
        ADD_FAILURE() << "FakeSlackServer::close_connection: no live connection "
                      << which(connection);
    }
}

void FakeSlackServer::stop_reading(std::size_t connection) {
    if (!network_->stop_reading(connection)) {
        ADD_FAILURE() << "FakeSlackServer::stop_reading: no live connection " << which(connection);
    }
}

}  // namespace rollbot::test
