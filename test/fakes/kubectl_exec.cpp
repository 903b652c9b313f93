// `kubectl exec <pod|deployment/<d>> [-c <container>] -- <argv…>`: picks a pod the way kubectl
// does (a Running/Ready one for a deployment), then runs the remote argv in the simulation:
// alembic (test/fakes/fake_alembic.cpp), or a few shell basics. A non-zero remote exit code
// passes through with kubectl's `command terminated with exit code N` line (reference §0.1).

#include "test/fakes/kube_objects.hpp"
#include "test/fakes/kubectl_cli.hpp"

#include <algorithm>
#include <sstream>

namespace rollbot::fakes {
namespace {

std::string basename_of(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::vector<std::string> split_words(const std::string& text) {
    std::istringstream in(text);
    std::vector<std::string> words;
    for (std::string w; in >> w;) {
        words.push_back(w);
    }
    return words;
}

Outcome run_remote(Json& state, const Json& pod_rs, const std::vector<std::string>& argv) {
    const std::string program = basename_of(argv[0]);
    const std::vector<std::string> rest(argv.begin() + 1, argv.end());
    if (program == "alembic") {
        return run_alembic(state, pod_rs, rest);
    }
    if ((program == "python" || program == "python3") && rest.size() >= 2 && rest[0] == "-m" &&
        rest[1] == "alembic") {
        return run_alembic(state, pod_rs, {rest.begin() + 2, rest.end()});
    }
    if (program == "true" || program == "false") {
        return fail("", program == "true" ? 0 : 1);
    }
    if (program == "echo") {
        std::string line;
        for (const auto& w : rest) {
            line += (line.empty() ? "" : " ") + w;
        }
        return printed(line + "\n");
    }
    if ((program == "sh" || program == "bash") && rest.size() >= 2 && rest[0] == "-c") {
        const std::vector<std::string> script = split_words(rest[1]);
        if (script.size() == 2 && script[0] == "exit") {
            return fail("", std::atoi(script[1].c_str()) & 0xff);
        }
        if (!script.empty()) {
            return run_remote(state, pod_rs, script);
        }
        return Outcome();
    }
    return fail(
        "OCI runtime exec failed: exec failed: unable to start container process: exec: \"" +
            argv[0] + "\": executable file not found in $PATH: unknown\n",
        126);
}

// The pod `kubectl exec` would use for `target`, or an error outcome.
std::variant<Json, Outcome> pick_pod(const Json& state, const std::string& target) {
    const auto slash = target.find('/');
    const std::string kind = slash == std::string::npos ? "pod" : target.substr(0, slash);
    const std::string name = slash == std::string::npos ? target : target.substr(slash + 1);
    const std::vector<Json> pods = pod_objects(state);
    if (is_deployment_kind(kind)) {
        if (!state["deployments"].contains(name)) {
            return not_found("deployments.apps", name);
        }
        const Json* chosen = nullptr;
        for (const auto& pod : pods) {
            if (pod["metadata"]["labels"]["app"] != name) {
                continue;
            }
            const bool ready = pod["status"]["containerStatuses"][0].value("ready", false);
            if (chosen == nullptr ||
                (ready && !chosen->at("status")["containerStatuses"][0].value("ready", false))) {
                chosen = &pod;
            }
        }
        if (chosen == nullptr) {
            return error("cannot exec into deployment/" + name + ": it has no pods");
        }
        return *chosen;
    }
    if (kind != "pod" && kind != "pods" && kind != "po") {
        return error("the server doesn't have a resource type \"" + kind + "\"");
    }
    const auto it = std::find_if(
        pods.begin(), pods.end(), [&name](const Json& p) { return p["metadata"]["name"] == name; });
    if (it == pods.end()) {
        return not_found("pods", name);
    }
    return *it;
}

const Json* replicaset_of(const Json& state, const Json& pod) {
    const std::string app = pod["metadata"]["labels"]["app"];
    const std::string hash = pod["metadata"]["labels"]["pod-template-hash"];
    for (const auto& rs : state["deployments"][app]["replicasets"]) {
        if (rs.value("hash", "") == hash) {
            return &rs;
        }
    }
    return nullptr;
}

}  // namespace

Outcome run_exec(Invocation& inv) {
    auto parsed = parse_flags({inv.words.begin() + 1, inv.words.end()},
                              {{"container", 'c'},
                               {"stdin", 'i', FlagKind::kBool},
                               {"tty", 't', FlagKind::kBool},
                               {"quiet", 'q', FlagKind::kBool},
                               {"pod-running-timeout"}},
                              "exec");
    if (auto* failed = std::get_if<Outcome>(&parsed)) {
        return *failed;
    }
    const Args& args = std::get<Args>(parsed);
    if (args.positional.empty()) {
        return fail("error: pod, type/name or --filename must be specified\n");
    }
    if (!inv.has_dashdash && args.positional.size() > 1) {
        return fail(
            "error: exec [POD] [COMMAND] is not supported anymore. Use exec [POD] -- "
            "[COMMAND] instead\nSee 'kubectl exec -h' for help and examples\n");
    }
    if (inv.remote.empty()) {
        return error("you must specify at least one command for the container");
    }
    auto picked = pick_pod(inv.state, args.positional[0]);
    if (auto* failed = std::get_if<Outcome>(&picked)) {
        return *failed;
    }
    const Json& pod = std::get<Json>(picked);
    const Json& statuses = pod["status"]["containerStatuses"];
    const std::string container = args.get("container", statuses[0].value("name", ""));
    const auto status = std::find_if(statuses.begin(), statuses.end(), [&container](const Json& s) {
        return s.value("name", "") == container;
    });
    // A container that is not running (crash loop, image pull) cannot be exec'd into either.
    if (status == statuses.end() || !status->at("state").contains("running")) {
        return error("unable to upgrade connection: container not found (\"" + container + "\")");
    }
    const Json* rs = replicaset_of(inv.state, pod);
    Outcome o = run_remote(inv.state, rs != nullptr ? *rs : Json::object(), inv.remote);
    if (o.code != 0) {
        o.err += "command terminated with exit code " + std::to_string(o.code) + "\n";
    }
    return o;
}

}  // namespace rollbot::fakes
