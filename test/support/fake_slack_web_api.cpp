// FakeSlackServer's HTTP side without the sockets: routing, argument decoding, auth, faults,
// apps.connections.open tickets and response_urls (slack-socket-mode.md §1.1, §6.1, §6.3).
#include "test/fakes/form.hpp"
#include "test/support/fake_slack_workspace.hpp"

#include <algorithm>
#include <cctype>
#include <utility>

namespace rollbot::test::fake_slack {
namespace {

using nlohmann::json;

constexpr int kResponseUrlUses = 5;

const char* const kServerErrorPage =
    "<!DOCTYPE html>\n<html><head><title>Server Error</title></head>\n"
    "<body><h1>Server Error</h1><p>Something went wrong.</p></body></html>\n";

bool starts_with_ci(std::string_view text, std::string_view prefix) {
    return text.size() >= prefix.size() &&
           std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
               return std::tolower(static_cast<unsigned char>(a)) ==
                      std::tolower(static_cast<unsigned char>(b));
           });
}

void decode_form_into(std::string_view form, std::map<std::string, std::string>& params) {
    while (!form.empty()) {
        const auto amp = form.find('&');
        const auto pair = form.substr(0, amp);
        form = amp == std::string_view::npos ? std::string_view() : form.substr(amp + 1);
        if (pair.empty()) {
            continue;
        }
        const auto eq = pair.find('=');
        auto name = fakes::form_decode(pair.substr(0, eq));
        params[std::move(name)] =
            eq == std::string_view::npos ? std::string() : fakes::form_decode(pair.substr(eq + 1));
    }
}

/// JSON bodies become params too: strings as they are, anything else as JSON text (the way
/// form bodies carry `blocks`).
std::string decode_json_into(std::string_view body, std::map<std::string, std::string>& params) {
    const json parsed = json::parse(body, nullptr, false);
    if (parsed.is_discarded()) {
        return "invalid_json";
    }
    if (!parsed.is_object()) {
        return "json_not_object";
    }
    for (const auto& [name, value] : parsed.items()) {
        params[name] = value.is_string() ? value.get<std::string>() : to_text(value);
    }
    return {};
}

bool accepts_json(std::string_view method) {
    // Slack documents JSON bodies for write methods only; read methods such as
    // usergroups.users.list "do not currently accept application/json": their JSON arguments
    // are not seen, so a client sending JSON there gets a missing-argument answer, as here.
    return method.starts_with("chat.") || method == "reactions.add" ||
           method == "apps.connections.open" || method == "auth.test";
}

bool known_method(std::string_view method) {
    static constexpr std::string_view kMethods[] = {"apps.connections.open",
                                                    "auth.test",
                                                    "chat.postMessage",
                                                    "chat.update",
                                                    "chat.postEphemeral",
                                                    "reactions.add",
                                                    "usergroups.users.list",
                                                    "users.info",
                                                    "conversations.info"};
    return std::find(std::begin(kMethods), std::end(kMethods), method) != std::end(kMethods);
}

HttpOut json_answer(const json& body, int status = 200) {
    HttpOut out;
    out.status = status;
    out.body = to_text(body);
    return out;
}

}  // namespace

std::string to_text(const json& value) {
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

json slack_error(std::string_view code) {
    return json{{"ok", false}, {"error", code}};
}

HttpOut Workspace::handle_http(const HttpIn& request) {
    FakeSlackCall call;
    call.headers = request.headers;
    call.body = request.body;
    call.at = FakeSlackClock::now();
    const std::string_view target = request.target;
    const auto question = target.find('?');
    const auto path = target.substr(0, question);
    if (question != std::string_view::npos) {
        decode_form_into(target.substr(question + 1), call.params);
    }
    std::string content_type;
    for (const auto& [name, value] : request.headers) {
        if (name == "content-type") {
            content_type = value;
        }
    }
    const bool is_json = starts_with_ci(content_type, "application/json");

    HttpOut out;
    if (path.starts_with("/api/")) {
        call.method = std::string(path.substr(5));
        std::string body_error;
        if (!is_json) {
            decode_form_into(request.body, call.params);
        } else if (options_.json_on_read_methods || accepts_json(call.method)) {
            body_error = decode_json_into(request.body, call.params);
        }
        const bool missing_charset = is_json && content_type.find("charset") == std::string::npos;
        const Lock lock(records_.mutex_);
        out = web_api(call.method, call, body_error, missing_charset);
        record_call(std::move(call));
    } else if (path.starts_with("/respond/")) {
        call.method = "response_url";
        if (is_json) {
            (void)decode_json_into(request.body, call.params);
        }
        const Lock lock(records_.mutex_);
        out = response_url(std::string(path.substr(9)), call);
        record_call(std::move(call));
    } else {
        call.method = std::string(path);
        call.status = 404;
        out.status = 404;
        out.content_type = "text/plain";
        out.body = "not found\n";
        const Lock lock(records_.mutex_);
        record_call(std::move(call));
    }
    records_.changed_.notify_all();
    return out;
}

bool Workspace::connect_attempt(const HttpIn& request) {
    FakeSlackCall call;
    call.method = "socket_mode.connect";
    call.headers = request.headers;
    call.at = FakeSlackClock::now();
    const std::string_view target = request.target;
    const auto question = target.find('?');
    const auto path = target.substr(0, question);
    if (question != std::string_view::npos) {
        decode_form_into(target.substr(question + 1), call.params);
    }
    bool accepted = false;
    {
        const Lock lock(records_.mutex_);
        const auto ticket = tickets_.find(call.param("ticket"));
        accepted = (path == "/link/" || path == "/link") && ticket != tickets_.end();
        if (ticket != tickets_.end()) {
            tickets_.erase(ticket);  // single use, even when the path was wrong
        }
        call.status = accepted ? 101 : 401;
        call.error = accepted ? "" : "invalid_ticket";
        record_call(std::move(call));
    }
    records_.changed_.notify_all();
    return accepted;
}

std::optional<FakeSlackFault> Workspace::take_fault(const std::string& method) {
    const auto found = faults_.find(method);
    if (found == faults_.end() || found->second.empty()) {
        return std::nullopt;
    }
    auto& front = found->second.front();
    FakeSlackFault fault = front;
    if (front.times != FakeSlackFault::kUntilCleared && --front.times == 0) {
        found->second.pop_front();
    }
    return fault;
}

HttpOut Workspace::web_api(const std::string& method,
                           FakeSlackCall& call,
                           const std::string& body_error,
                           bool missing_charset) {
    const auto fault = take_fault(method);
    std::chrono::milliseconds delay{0};
    if (fault) {
        delay = fault->delay;
        if (fault->status == 429) {
            HttpOut out = json_answer(slack_error("ratelimited"), 429);
            out.headers.emplace_back("Retry-After", std::to_string(fault->retry_after.count()));
            out.delay = delay;
            call.status = 429;
            call.error = "ratelimited";
            return out;
        }
        if (fault->status != 200) {
            // Slack's front end answers 5xx with an HTML page, not JSON.
            HttpOut out;
            out.status = fault->status;
            out.content_type = "text/html; charset=utf-8";
            out.body = kServerErrorPage;
            out.delay = delay;
            call.status = fault->status;
            return out;
        }
        if (!fault->error.empty()) {
            HttpOut out = json_answer(slack_error(fault->error));
            out.delay = delay;
            call.error = fault->error;
            return out;
        }
    }
    json answer;
    const std::string expected =
        "Bearer " + (method == "apps.connections.open" ? options_.app_token : options_.bot_token);
    std::string authorization;
    for (const auto& [name, value] : call.headers) {
        if (name == "authorization") {
            authorization = value;
        }
    }
    if (!known_method(method)) {
        answer = slack_error("unknown_method");
    } else if (authorization.size() != expected.size() ||
               !starts_with_ci(authorization, "bearer ") ||
               authorization.substr(7) != expected.substr(7)) {
        answer = slack_error("invalid_auth");
    } else if (!body_error.empty()) {
        answer = slack_error(body_error);
    } else {
        answer = dispatch(method, call);
    }
    if (answer.value("ok", false) && missing_charset) {
        answer["warning"] = "missing_charset";
        answer["response_metadata"] = {{"warnings", json::array({"missing_charset"})}};
    }
    if (!answer.value("ok", false)) {
        call.error = answer.value("error", "");
    }
    HttpOut out = json_answer(answer);
    out.delay = delay;
    return out;
}

HttpOut Workspace::response_url(const std::string& id, FakeSlackCall& call) {
    const auto fault = take_fault("response_url");
    if (fault && fault->status != 200) {
        HttpOut out;
        out.status = fault->status;
        out.delay = fault->delay;
        if (fault->status == 429) {
            out.body = to_text(slack_error("ratelimited"));
            out.headers.emplace_back("Retry-After", std::to_string(fault->retry_after.count()));
        } else {
            out.content_type = "text/html; charset=utf-8";
            out.body = kServerErrorPage;
        }
        call.status = fault->status;
        return out;
    }
    // Slack's answers here are status + {"ok":false,"error":…} (inferred: clients check both).
    const auto answer = [&](int status, std::string_view error) {
        call.status = status;
        call.error = std::string(error);
        HttpOut out = json_answer(error.empty() ? json{{"ok", true}} : slack_error(error), status);
        out.delay = fault ? fault->delay : std::chrono::milliseconds{0};
        return out;
    };
    if (fault && !fault->error.empty()) {
        return answer(200, fault->error);
    }
    // An id this server did not hand out is taken as one a test wrote into its own envelope
    // (there is no channel to record then); Slack's five-use limit holds for every id.
    const auto found = response_urls_.try_emplace(id, ResponseUrl{}).first;
    if (found->second.uses >= kResponseUrlUses) {
        return answer(404, "used_url");
    }
    const bool is_json = std::any_of(call.headers.begin(), call.headers.end(), [](const auto& h) {
        return h.first == "content-type" && starts_with_ci(h.second, "application/json");
    });
    if (!is_json || json::parse(call.body, nullptr, false).is_discarded()) {
        return answer(400, "invalid_payload");
    }
    const auto text = call.param("text");
    const auto blocks = call.param("blocks");
    const auto in_blocks = block_text(blocks);
    if (!in_blocks) {
        return answer(400, "invalid_blocks");
    }
    if (text.empty() && blocks.empty() && call.param("delete_original") != "true") {
        return answer(400, "no_text");
    }
    ++found->second.uses;
    auto response_type = call.param("response_type");
    records_.posts_.push_back(FakeSlackPost{"response_url",
                                            found->second.channel,
                                            "",
                                            call.param("thread_ts"),
                                            "",
                                            text,
                                            blocks,
                                            *in_blocks,
                                            response_type.empty() ? "ephemeral" : response_type,
                                            call.at});
    return answer(200, "");
}

}  // namespace rollbot::test::fake_slack
