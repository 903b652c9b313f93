// A kubectl stand-in that simulates the commands rollbot runs against a JSON state file.
// Schema of the state: test/fakes/cluster_state.hpp. Outputs and exit codes follow
// /work/shared/reference/kubernetes-alembic-prometheus.md §0-§2, §5.
//
// The state file is named by --kubeconfig or $KUBECONFIG (like a real kubeconfig); a missing or
// empty file is created with the default scenario (FAKE_KUBECTL_SCENARIO=incident starts with the
// backend's current image crash-looping). Each invocation appends its argv to state["calls"];
// state["faults"] can replace any invocation's behaviour. Global flags (--kubeconfig, --context,
// -n/--namespace, --request-timeout, -v) are accepted anywhere before `--`.

#include "test/fakes/kubectl_cli.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <sys/resource.h>
#include <thread>

namespace rollbot::fakes {

Outcome printed(std::string stdout_text) {
    Outcome o;
    o.out = std::move(stdout_text);
    return o;
}

Outcome with_warning(std::string stdout_text, std::string stderr_text) {
    Outcome o;
    o.out = std::move(stdout_text);
    o.err = std::move(stderr_text);
    return o;
}

Outcome fail(std::string stderr_text, int code) {
    Outcome o;
    o.err = std::move(stderr_text);
    o.code = code;
    return o;
}

Outcome error(std::string_view message) {
    return fail("error: " + std::string(message) + "\n");
}

Outcome not_found(std::string_view resource, std::string_view name) {
    return fail("Error from server (NotFound): " + std::string(resource) + " \"" +
                std::string(name) + "\" not found\n");
}

std::string Args::get(const std::string& name, std::string fallback) const {
    const auto it = flags.find(name);
    return it == flags.end() ? fallback : it->second;
}

namespace {

Outcome usage_error(std::string_view message, std::string_view command) {
    return fail("Error: " + std::string(message) + "\nSee 'kubectl " + std::string(command) +
                " --help' for usage.\n");
}

const FlagSpec* find_spec(const std::vector<FlagSpec>& specs,
                          std::string_view name,
                          char shorthand) {
    for (const auto& s : specs) {
        if ((!name.empty() && s.name == name) || (shorthand != 0 && s.shorthand == shorthand)) {
            return &s;
        }
    }
    return nullptr;
}

}  // namespace

std::variant<Args, Outcome> parse_flags(const std::vector<std::string>& words,
                                        const std::vector<FlagSpec>& specs,
                                        std::string_view command) {
    Args args;
    for (std::size_t i = 0; i < words.size(); ++i) {
        const std::string& w = words[i];
        if (w.size() < 2 || w[0] != '-') {
            args.positional.push_back(w);
            continue;
        }
        const bool is_long = w[1] == '-';
        std::string name = is_long ? w.substr(2) : w.substr(1, 1);
        std::optional<std::string> inline_value;
        if (is_long && name.find('=') != std::string::npos) {
            inline_value = name.substr(name.find('=') + 1);
            name = name.substr(0, name.find('='));
        } else if (!is_long && w.size() > 2) {
            inline_value = w[2] == '=' ? w.substr(3) : w.substr(2);
        }
        const FlagSpec* spec = is_long ? find_spec(specs, name, 0) : find_spec(specs, "", name[0]);
        if (spec == nullptr) {
            return usage_error(is_long ? "unknown flag: --" + name
                                       : "unknown shorthand flag: '" + name + "' in " + w,
                               command);
        }
        if (spec->kind != FlagKind::kValue) {
            if (!is_long && inline_value && w[2] != '=') {
                // Combined bool shorthands such as -it.
                for (const char c : w.substr(1)) {
                    const FlagSpec* each = find_spec(specs, "", c);
                    if (each == nullptr || each->kind != FlagKind::kBool) {
                        return usage_error(
                            "unknown shorthand flag: '" + std::string(1, c) + "' in " + w, command);
                    }
                    args.flags[each->name] = "true";
                }
                continue;
            }
            args.flags[spec->name] = inline_value.value_or(spec->bare_value);
            continue;
        }
        if (!inline_value) {
            if (i + 1 >= words.size()) {
                return usage_error(is_long ? "flag needs an argument: --" + name
                                           : "flag needs an argument: '" + name + "' in " + w,
                                   command);
            }
            inline_value = words[++i];
        }
        args.flags[spec->name] = *inline_value;
    }
    return args;
}

std::variant<std::string, Outcome> dry_run_mode(const Args& args, std::string& warn) {
    std::string mode = args.get("dry-run", "none");
    if (mode == "unchanged" || mode == "true") {
        warn =
            "W0101 00:00:00.000000    4242 helpers.go:703] --dry-run is deprecated and can be "
            "replaced with --dry-run=client.\n";
        mode = "client";
    } else if (mode == "false") {
        warn =
            "W0101 00:00:00.000000    4242 helpers.go:703] --dry-run=false is deprecated (boolean "
            "value) and can be replaced with --dry-run=none.\n";
        mode = "none";
    }
    if (mode != "none" && mode != "client" && mode != "server") {
        return error("Invalid dry-run value (" + mode +
                     "). Must be \"none\", \"server\", or \"client\".");
    }
    return mode == "none" ? std::string() : mode;
}

bool is_deployment_kind(std::string_view kind) {
    return kind == "deployment" || kind == "deployments" || kind == "deploy" ||
           kind == "deployment.apps" || kind == "deployments.apps";
}

std::optional<Outcome> take_deployment_ref(const std::vector<std::string>& positional,
                                           std::size_t& at,
                                           std::string& name) {
    if (at >= positional.size()) {
        return error("required resource not specified");
    }
    const std::string& word = positional[at];
    const auto slash = word.find('/');
    const std::string kind = slash == std::string::npos ? word : word.substr(0, slash);
    if (!is_deployment_kind(kind)) {
        return error("the server doesn't have a resource type \"" + kind + "\"");
    }
    if (slash != std::string::npos) {
        name = word.substr(slash + 1);
        ++at;
    } else if (at + 1 < positional.size()) {
        name = positional[at + 1];
        at += 2;
    } else {
        return error("required resource not specified");
    }
    return std::nullopt;
}

namespace {

struct Globals {
    std::optional<std::string> kubeconfig;
    std::optional<std::string> context;
    std::optional<std::string> ns;
};

// Global flags may appear anywhere before `--`; they are taken out of the command's words.
std::variant<Globals, Outcome> take_globals(const std::vector<std::string>& in,
                                            std::vector<std::string>& words) {
    static const std::vector<FlagSpec> kGlobals = {{"kubeconfig"},
                                                   {"context"},
                                                   {"namespace", 'n'},
                                                   {"request-timeout"},
                                                   {"cluster"},
                                                   {"user"},
                                                   {"server", 's'},
                                                   {"cache-dir"},
                                                   {"v", 'v'}};
    Globals g;
    for (std::size_t i = 0; i < in.size(); ++i) {
        const std::string& w = in[i];
        const bool is_long = w.rfind("--", 0) == 0 && w.size() > 2;
        const bool is_short = !is_long && w.size() >= 2 && w[0] == '-' && w[1] != '-';
        std::string name =
            is_long ? w.substr(
                          2, w.find('=') == std::string::npos ? std::string::npos : w.find('=') - 2)
                    : "";
        const FlagSpec* spec = is_long    ? find_spec(kGlobals, name, 0)
                               : is_short ? find_spec(kGlobals, "", w[1])
                                          : nullptr;
        if (spec == nullptr) {
            words.push_back(w);
            continue;
        }
        std::string value;
        if (is_long && w.find('=') != std::string::npos) {
            value = w.substr(w.find('=') + 1);
        } else if (is_short && w.size() > 2) {
            value = w[2] == '=' ? w.substr(3) : w.substr(2);
        } else if (i + 1 < in.size()) {
            value = in[++i];
        } else {
            return fail(is_long ? "Error: flag needs an argument: --" + name + "\n"
                                : "Error: flag needs an argument: '" + std::string(1, w[1]) +
                                      "' in " + w + "\n");
        }
        if (spec->name == "kubeconfig") {
            g.kubeconfig = value;
        } else if (spec->name == "context") {
            g.context = value;
        } else if (spec->name == "namespace") {
            g.ns = value;
        }
    }
    return g;
}

Outcome unknown_command(std::string_view verb) {
    return fail("Error: unknown command \"" + std::string(verb) +
                "\" for \"kubectl\"\nRun 'kubectl --help' for usage.\n");
}

bool known_verb(std::string_view verb) {
    return verb == "get" || verb == "rollout" || verb == "set" || verb == "annotate" ||
           verb == "exec" || verb == "auth" || verb == "version";
}

Outcome run_simple(Invocation& inv) {
    const std::string& verb = inv.words[0];
    if (verb == "version") {
        return printed(
            "Client Version: v1.32.4\nKustomize Version: v5.5.0\nServer "
            "Version: v1.32.4\n");
    }
    // auth can-i: the simulated service account may do everything (faults say otherwise).
    if (inv.words.size() >= 4 && inv.words[1] == "can-i") {
        return printed("yes\n");
    }
    return error("unknown auth subcommand; the fake supports: auth can-i <verb> <resource>");
}

Outcome dispatch(Invocation& inv) {
    const std::string& verb = inv.words[0];
    if (verb == "exec") {
        return run_exec(inv);
    }
    if (inv.has_dashdash) {
        return error("unexpected arguments after --: the fake only runs them for exec");
    }
    if (verb == "get") {
        return run_get(inv);
    }
    if (verb == "rollout") {
        return run_rollout(inv);
    }
    if (verb == "set") {
        return run_set(inv);
    }
    if (verb == "annotate") {
        return run_annotate(inv);
    }
    return run_simple(inv);
}

// The first fault whose `match` occurs in the joined argv and has `times` left (absent =
// unlimited) replaces the command; its `times` is counted down.
std::optional<Json> take_fault(Json& state, const std::string& joined) {
    for (auto& fault : state["faults"]) {
        if (!fault.is_object() || !fault.contains("match") || !fault["match"].is_string()) {
            continue;
        }
        if (joined.find(fault["match"].get<std::string>()) == std::string::npos) {
            continue;
        }
        if (fault.contains("times")) {
            const int left = fault["times"].get<int>();
            if (left <= 0) {
                continue;
            }
            fault["times"] = left - 1;
        }
        return fault;
    }
    return std::nullopt;
}

void emit(const Outcome& o) {
    std::fwrite(o.out.data(), 1, o.out.size(), stdout);
    std::fflush(stdout);
    std::fwrite(o.err.data(), 1, o.err.size(), stderr);
    std::fflush(stderr);
}

std::string join(const std::vector<std::string>& words) {
    std::string joined;
    for (const auto& w : words) {
        joined += (joined.empty() ? "" : " ") + w;
    }
    return joined;
}

struct CommandLine {
    std::string ns;
    std::vector<std::string> words;   // before `--`, global flags taken out
    std::vector<std::string> remote;  // after `--`
    bool has_dashdash = false;
};

Outcome run_locked(const std::filesystem::path& path,
                   const std::vector<std::string>& argv,
                   const Globals& g,
                   const CommandLine& line) {
    StateLock lock(path, true);
    Json state = load_state(path);
    state["calls"].push_back(argv);
    Invocation inv{state, line.ns, line.words, line.remote, line.has_dashdash};
    const std::string cluster_ns = state.value("namespace", "preskool");
    if (inv.ns.empty()) {
        inv.ns = cluster_ns;
    }
    if (g.context) {
        state["last_context"] = *g.context;
    }
    const Json contexts = state.value("contexts", Json());
    Outcome result;
    if (g.context && contexts.is_array() &&
        std::find(contexts.begin(), contexts.end(), Json(*g.context)) == contexts.end()) {
        result = error("context was not found for specified context: " + *g.context);
    } else if (const auto fault = take_fault(state, join(argv))) {
        result.out = fault->value("stdout", "");
        result.err = fault->value("stderr", "");
        // "repeat": N prints stdout N times (a chatty or runaway command).
        const int repeat = fault->value("repeat", 1);
        const std::string once = result.out;
        for (int i = 1; i < repeat; ++i) {
            result.out += once;
        }
        result.code = fault->value("exit", 1);
        result.delay = std::chrono::milliseconds(fault->value("sleep_ms", 0));
    } else if (!known_verb(inv.words[0])) {
        result = unknown_command(inv.words[0]);
    } else if (inv.ns != cluster_ns) {
        result = not_found("namespaces", inv.ns);
    } else {
        result = dispatch(inv);
    }
    save_state(path, state);
    return result;
}

// When this process started (CLOCK_MONOTONIC, comparable across processes), for the log below.
std::int64_t g_started_ns = 0;

std::int64_t monotonic_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Appends "<start_ns> <end_ns> <argv…>" to `<state file>.spawns` when the invocation ends: the
// benchmarks read it to tell rollbot's own time from the time kubectl took (test/bench).
class SpawnLog {
public:
    SpawnLog(std::string path, const std::vector<std::string>& argv) : path_(std::move(path)) {
        for (const auto& a : argv) {
            args_ += " " + a;
        }
    }
    ~SpawnLog() {
        if (FILE* f = std::fopen((path_ + ".spawns").c_str(), "a")) {
            std::fprintf(f,
                         "%lld %lld%s\n",
                         static_cast<long long>(g_started_ns),
                         static_cast<long long>(monotonic_ns()),
                         args_.c_str());
            std::fclose(f);
        }
    }
    SpawnLog(const SpawnLog&) = delete;
    SpawnLog& operator=(const SpawnLog&) = delete;

private:
    std::string path_;
    std::string args_;
};

int run(const std::vector<std::string>& argv) {
    std::vector<std::string> before;
    CommandLine line;
    for (std::size_t i = 0; i < argv.size(); ++i) {
        if (argv[i] == "--") {
            line.has_dashdash = true;
            line.remote.assign(argv.begin() + static_cast<std::ptrdiff_t>(i) + 1, argv.end());
            break;
        }
        before.push_back(argv[i]);
    }
    auto globals = take_globals(before, line.words);
    if (auto* bad = std::get_if<Outcome>(&globals)) {
        emit(*bad);
        return bad->code;
    }
    const Globals& g = std::get<Globals>(globals);
    if (line.words.empty()) {
        std::cout << "kubectl controls the Kubernetes cluster manager (rollbot's fake: get, "
                     "rollout, set image, annotate, exec, auth can-i, version).\n";
        return 0;
    }
    std::string path = g.kubeconfig.value_or("");
    if (path.empty()) {
        const char* env = std::getenv("KUBECONFIG");
        path = env != nullptr ? env : "";
        path = path.substr(0, path.find(':'));
    }
    if (path.empty()) {
        const Outcome refused =
            known_verb(line.words[0])
                ? fail(
                      "The connection to the server localhost:8080 was refused - did you "
                      "specify the right host or port?\n")
                : unknown_command(line.words[0]);
        emit(refused);
        return refused.code;
    }
    line.ns = g.ns.value_or("");
    const SpawnLog spawn_log(path, argv);
    const Outcome first = run_locked(path, argv, g, line);
    if (!first.then) {
        std::this_thread::sleep_for(first.delay);  // faults: sleep first, then print
        emit(first);
        return first.code;
    }
    emit(first);
    std::this_thread::sleep_for(first.delay);
    StateLock lock(path, true);
    Json state = load_state(path);
    const Outcome second = first.then(state);
    save_state(path, state);
    emit(second);
    return second.code;
}

}  // namespace
}  // namespace rollbot::fakes

int main(int argc, char** argv) {
    rollbot::fakes::g_started_ns = rollbot::fakes::monotonic_ns();
    // The fake cluster stands for a remote API server: its file is not on rollbot's disk. A
    // test that fills that disk (a lowered RLIMIT_FSIZE on the daemon, inherited here) must not
    // also break the cluster, so lift the soft limit back to the hard one.
    if (rlimit limit{};
        ::getrlimit(RLIMIT_FSIZE, &limit) == 0 && limit.rlim_cur != limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        (void)::setrlimit(RLIMIT_FSIZE, &limit);
    }
    try {
        return rollbot::fakes::run(std::vector<std::string>(argv + 1, argv + argc));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: fake kubectl: %s\n", e.what());
        return 1;
    }
}
