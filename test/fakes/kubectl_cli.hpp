#pragma once

// Pieces shared by the fake kubectl's subcommands (test/fakes/fake_kubectl.cpp is the entry).

#include "test/fakes/cluster_state.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace rollbot::fakes {

/// What one invocation prints and returns.
struct Outcome {
    std::string out;
    std::string err;
    int code = 0;
    /// When `then` is set: print out/err, release the state, sleep `delay`, then run `then`
    /// against the freshly locked state and print its outcome too (a slow `rollout status`).
    std::chrono::milliseconds delay{0};
    std::function<Outcome(Json& state)> then;
};

/// `stdout_text` on stdout, exit 0.
[[nodiscard]] Outcome printed(std::string stdout_text);
/// `stdout_text` on stdout and `stderr_text` (a deprecation warning, say) on stderr, exit 0.
[[nodiscard]] Outcome with_warning(std::string stdout_text, std::string stderr_text);
/// `stderr_text` on stderr, exit `code`.
[[nodiscard]] Outcome fail(std::string stderr_text, int code = 1);
/// `error: <message>` on stderr, exit 1.
[[nodiscard]] Outcome error(std::string_view message);
/// `Error from server (NotFound): <resource> "<name>" not found`, exit 1.
[[nodiscard]] Outcome not_found(std::string_view resource, std::string_view name);

enum class FlagKind { kBool, kValue, kOptionalValue };

struct FlagSpec {
    std::string name;  // long name without dashes
    char shorthand = 0;
    FlagKind kind = FlagKind::kValue;
    std::string bare_value = "true";  // value of a kBool / kOptionalValue flag given bare
};

/// A subcommand's words after the global flags were taken out.
struct Args {
    std::vector<std::string> positional;
    std::map<std::string, std::string> flags;  // long name -> last value given
    [[nodiscard]] bool has(const std::string& name) const { return flags.contains(name); }
    [[nodiscard]] std::string get(const std::string& name, std::string fallback = "") const;
};

/// Parses flags like pflag does (`--f=v`, `--f v`, `-f v`, `-fv`, `-it`). `command` names the
/// command in the usage hint of an unknown-flag error.
[[nodiscard]] std::variant<Args, Outcome> parse_flags(const std::vector<std::string>& words,
                                                      const std::vector<FlagSpec>& specs,
                                                      std::string_view command);

/// "client", "server" or "" for `--dry-run`, or an error outcome for a bad value.
[[nodiscard]] std::variant<std::string, Outcome> dry_run_mode(const Args& args, std::string& warn);

/// One invocation: the state (locked) and what the global flags said.
struct Invocation {
    Json& state;
    std::string ns;
    std::vector<std::string> words;   // before `--`, without global flags
    std::vector<std::string> remote;  // after `--`
    bool has_dashdash = false;
};

/// Takes a deployment reference from `positional` starting at `*at`: `deployment/<d>`,
/// `deploy/<d>`, or `deployment <d>`. Sets `name`; returns an error outcome when it is not one.
[[nodiscard]] std::optional<Outcome> take_deployment_ref(const std::vector<std::string>& positional,
                                                         std::size_t& at,
                                                         std::string& name);
[[nodiscard]] bool is_deployment_kind(std::string_view kind);

[[nodiscard]] Outcome run_get(Invocation& inv);
[[nodiscard]] Outcome run_rollout(Invocation& inv);
[[nodiscard]] Outcome run_set(Invocation& inv);
[[nodiscard]] Outcome run_annotate(Invocation& inv);
[[nodiscard]] Outcome run_exec(Invocation& inv);

/// Simulates alembic in a pod whose ReplicaSet is `pod_rs` (remote argv without the program).
[[nodiscard]] Outcome run_alembic(Json& state,
                                  const Json& pod_rs,
                                  const std::vector<std::string>& argv);

/// Renders a kubectl JSONPath template (`{.a.b[0]}`, `{range …}{end}`, `[?(@.k=="v")]`, `[*]`).
[[nodiscard]] std::variant<std::string, Outcome> render_jsonpath(const Json& root,
                                                                 std::string_view tmpl);

}  // namespace rollbot::fakes
