// Alembic 1.8 as seen through `kubectl exec` (reference §5): revision lines and FAILED: on
// stdout, logging on stderr, exit 255 for alembic's own errors, 1 for a failing migration.
// The migration chain and the database's revision live in state["alembic"].

#include "test/fakes/kubectl_cli.hpp"

#include <algorithm>
#include <cstdlib>

namespace rollbot::fakes {
namespace {

constexpr std::string_view kLog = "INFO  [alembic.runtime.migration] ";

struct Alembic {
    Json& db;                        // state["alembic"]
    std::vector<const Json*> chain;  // migrations this image knows, base first
    bool transactional = true;
    std::string impl = "PostgresqlImpl";
    Outcome result;

    [[nodiscard]] std::string rev(int i) const {
        return i < 0 ? "" : chain[static_cast<std::size_t>(i)]->value("revision", "");
    }
    [[nodiscard]] int head() const { return static_cast<int>(chain.size()) - 1; }

    void connect() {
        result.err += std::string(kLog) + "Context impl " + impl + ".\n";
        result.err += std::string(kLog) + "Will assume " +
                      (transactional ? "transactional" : "non-transactional") + " DDL.\n";
    }
    Outcome failed(const std::string& message) {
        result.out += "FAILED: " + message + "\n";
        result.err += "ERROR [alembic.util.messaging] " + message + "\n";
        result.code = 255;
        return result;
    }
    // Index of a revision id (or a unique prefix of one); -2 when this image does not know it.
    [[nodiscard]] int find(const std::string& id) const {
        int found = -2;
        for (int i = 0; i <= head(); ++i) {
            const std::string r = rev(i);
            if (r == id) {
                return i;
            }
            if (id.size() >= 4 && r.rfind(id, 0) == 0) {
                found = found == -2 ? i : -3;
            }
        }
        return found == -3 ? -2 : found;
    }
    // The database's revision; -1 for an empty database, -2 when this image does not know it.
    [[nodiscard]] int current() const {
        return db["current"].is_string() ? find(db["current"].get<std::string>()) : -1;
    }
};

// An image knows a migration unless the migration was added by a newer image (`added_in`).
std::vector<const Json*> known_chain(const Json& state, const Json& pod_rs) {
    const std::string pod_created = pod_rs.value("created", "");
    std::vector<const Json*> chain;
    for (const auto& m : state["alembic"]["migrations"]) {
        const std::string added_in = m.value("added_in", "");
        bool known = true;
        for (const auto& [name, dep] : state["deployments"].items()) {
            for (const auto& rs : dep["replicasets"]) {
                for (const auto& c : rs["containers"]) {
                    if (!added_in.empty() && image_tag(c.value("image", "")) == added_in &&
                        rs.value("created", "") > pod_created) {
                        known = false;
                    }
                }
            }
        }
        if (known) {
            chain.push_back(&m);
        }
    }
    return chain;
}

std::string step_line(const Alembic& a, std::string_view verb, int from, int to) {
    const int newer = std::max(from, to);
    return std::string(kLog) + "Running " + std::string(verb) + " " + a.rev(from) + " -> " +
           a.rev(to) + ", " + a.chain[static_cast<std::size_t>(newer)]->value("doc", "") + "\n";
}

std::vector<std::string> statements(const Json& sql) {
    std::vector<std::string> out;
    for (const auto& s : sql.is_array() ? sql : Json::array({sql})) {
        if (s.is_string()) {
            std::string text = s.get<std::string>();
            out.push_back(text.empty() || text.back() == ';' ? text : text + ";");
        }
    }
    return out;
}

// Resolves a downgrade destination relative to `from`: -N, base, or a revision.
std::optional<int> destination(Alembic& a, const std::string& spec, int from) {
    if (!spec.empty() && spec[0] == '-') {
        const int steps = std::atoi(spec.c_str() + 1);
        if (from - steps < -1) {
            a.failed("Relative revision " + spec + " didn't produce " + std::to_string(steps) +
                     " migrations");
            return std::nullopt;
        }
        return from - steps;
    }
    const int to = spec == "base"                        ? -1
                   : (spec == "head" || spec == "heads") ? a.head()
                                                         : a.find(spec);
    if (to == -2) {
        a.failed("Can't locate revision identified by '" + spec + "'");
        return std::nullopt;
    }
    if (to > from) {
        a.failed("Destination " + spec + " is not a valid downgrade target from current head(s)");
        return std::nullopt;
    }
    return to;
}

Outcome offline_downgrade(Alembic& a, const std::string& range) {
    const auto colon = range.find(':');
    const std::string from_spec = range.substr(0, colon);
    const int from = from_spec == "head" || from_spec == "heads" ? a.head() : a.find(from_spec);
    if (from == -2) {
        return a.failed("Can't locate revision identified by '" + from_spec + "'");
    }
    const auto to = destination(a, range.substr(colon + 1), from);
    if (!to) {
        return a.result;
    }
    a.result.err += std::string(kLog) + "Context impl " + a.impl + ".\n" + std::string(kLog) +
                    "Generating static SQL\n" + std::string(kLog) + "Will assume " +
                    (a.transactional ? "transactional" : "non-transactional") + " DDL.\n";
    std::string& out = a.result.out;
    out += a.transactional ? "BEGIN;\n\n" : "";
    for (int i = from; i > *to; --i) {
        a.result.err += step_line(a, "downgrade", i, i - 1);
        out += "-- Running downgrade " + a.rev(i) + " -> " + a.rev(i - 1) + "\n\n";
        for (const auto& stmt :
             statements(a.chain[static_cast<std::size_t>(i)]->value("downgrade_sql", Json()))) {
            out += stmt + "\n\n";
        }
        out += i > 0 ? "UPDATE alembic_version SET version_num='" + a.rev(i - 1) +
                           "' WHERE alembic_version.version_num = '" + a.rev(i) + "';\n\n"
                     : "DELETE FROM alembic_version WHERE alembic_version.version_num = '" +
                           a.rev(i) + "';\n\nDROP TABLE alembic_version;\n\n";
    }
    out += a.transactional ? "COMMIT;\n\n" : "";
    return a.result;
}

Outcome migrate(Alembic& a, bool down, int from, int to) {
    for (int i = from; i != to; i += down ? -1 : 1) {
        const int next = down ? i - 1 : i + 1;
        a.result.err += step_line(a, down ? "downgrade" : "upgrade", i, next);
        const Json& m = *a.chain[static_cast<std::size_t>(std::max(i, next))];
        const std::string failure = m.value(down ? "downgrade_error" : "upgrade_error", "");
        if (!failure.empty()) {
            // With transactional DDL the whole run is rolled back; otherwise the steps so far stay.
            if (!a.transactional) {
                a.db["current"] = i < 0 ? Json() : Json(a.rev(i));
            }
            a.result.err +=
                "Traceback (most recent call last):\n"
                "  File \"/usr/local/bin/alembic\", line 8, in <module>\n"
                "    sys.exit(main())\n"
                "  File \"/app/migrations/versions/" +
                m.value("revision", "") + ".py\", line 21, in " + (down ? "downgrade" : "upgrade") +
                "\n" + failure + "\n";
            a.result.code = 1;
            return a.result;
        }
    }
    a.db["current"] = to < 0 ? Json() : Json(a.rev(to));
    return a.result;
}

Outcome downgrade(Alembic& a, const std::vector<std::string>& args) {
    const bool sql = std::find(args.begin(), args.end(), "--sql") != args.end();
    std::string target;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--tag") {
            ++i;
        } else if (args[i].rfind("--", 0) != 0 && target.empty()) {
            target = args[i];
        }
    }
    if (target.empty()) {
        a.result.err =
            "usage: alembic downgrade [-h] [--sql] [--tag TAG] revision\n"
            "alembic downgrade: error: the following arguments are required: revision\n";
        a.result.code = 2;
        return a.result;
    }
    if (target.find(':') != std::string::npos) {
        return sql ? offline_downgrade(a, target) : a.failed("Range revision not allowed");
    }
    if (sql) {
        return a.failed("downgrade with --sql requires <fromrev>:<torev>");
    }
    a.connect();
    const int from = a.current();
    if (from == -2) {
        return a.failed("Can't locate revision identified by '" +
                        a.db["current"].get<std::string>() + "'");
    }
    const auto to = destination(a, target, from);
    return to ? migrate(a, true, from, *to) : a.result;
}

Outcome upgrade(Alembic& a, const std::vector<std::string>& args) {
    if (args.empty() || std::find(args.begin(), args.end(), "--sql") != args.end()) {
        return a.failed("the fake alembic upgrades online only: alembic upgrade <head|+N|rev>");
    }
    a.connect();
    const int from = a.current();
    if (from == -2) {
        return a.failed("Can't locate revision identified by '" +
                        a.db["current"].get<std::string>() + "'");
    }
    const std::string& spec = args[0];
    int to = 0;
    if (spec[0] == '+') {
        const int steps = std::atoi(spec.c_str() + 1);
        if (from + steps > a.head()) {
            return a.failed("Relative revision " + spec + " didn't produce " +
                            std::to_string(steps) + " migrations");
        }
        to = from + steps;
    } else {
        to = spec == "head" || spec == "heads" ? a.head() : a.find(spec);
        if (to == -2) {
            return a.failed("Can't locate revision identified by '" + spec + "'");
        }
        if (to < from) {
            return a.failed("Destination " + spec +
                            " is not a valid upgrade target from current head(s)");
        }
    }
    return migrate(a, false, from, to);
}

Outcome show(Alembic& a, const std::string& command, const std::vector<std::string>& args) {
    const auto has = [&args](std::string_view f1, std::string_view f2) {
        return std::find(args.begin(), args.end(), f1) != args.end() ||
               std::find(args.begin(), args.end(), f2) != args.end();
    };
    if (command == "heads") {
        a.result.out = a.chain.empty() ? "" : a.rev(a.head()) + " (head)\n";
        return a.result;
    }
    const bool indicate = command == "current" || has("-i", "--indicate-current");
    int cur = -1;
    if (indicate) {
        a.connect();
        cur = a.current();
    }
    if (cur == -2) {
        return a.failed("Can't locate revision identified by '" +
                        a.db["current"].get<std::string>() + "'");
    }
    if (command == "current") {
        if (has("--check-heads", "--check-heads") && cur != a.head()) {
            return a.failed("Database is not on all head revisions");
        }
        a.result.out = cur < 0 ? "" : a.rev(cur) + (cur == a.head() ? " (head)" : "") + "\n";
        return a.result;
    }
    for (int i = a.head(); i >= 0; --i) {
        const Json& m = *a.chain[static_cast<std::size_t>(i)];
        const Json down = m.value("down_revision", Json());
        a.result.out += (down.is_string() ? down.get<std::string>() : "<base>") + " -> " +
                        a.rev(i) + (i == a.head() ? " (head)" : "") +
                        (indicate && i == cur ? " (current)" : "") + ", " + m.value("doc", "") +
                        "\n";
    }
    return a.result;
}

Outcome stamp(Alembic& a, const std::vector<std::string>& args) {
    if (args.empty()) {
        return a.failed("the fake alembic needs: alembic stamp <rev|head|base>");
    }
    a.connect();
    const int to = args[0] == "base" ? -1 : args[0] == "head" ? a.head() : a.find(args[0]);
    if (to == -2) {
        return a.failed("Can't locate revision identified by '" + args[0] + "'");
    }
    a.db["current"] = to < 0 ? Json() : Json(a.rev(to));
    return a.result;
}

}  // namespace

Outcome run_alembic(Json& state, const Json& pod_rs, const std::vector<std::string>& argv) {
    Json& db = state["alembic"];
    Alembic a{db, known_chain(state, pod_rs), true, "PostgresqlImpl", Outcome()};
    const std::string dialect = db.value("dialect", "postgresql");
    a.transactional = dialect != "sqlite" && dialect != "mysql";
    a.impl = dialect == "sqlite"  ? "SQLiteImpl"
             : dialect == "mysql" ? "MySQLImpl"
                                  : "PostgresqlImpl";
    // Global options come before the subcommand: -c/--config FILE, -n/--name NAME, -x ARG, …
    std::size_t at = 0;
    while (at < argv.size() && argv[at].size() > 1 && argv[at][0] == '-') {
        const std::string& opt = argv[at];
        const bool takes_value =
            opt == "-c" || opt == "--config" || opt == "-n" || opt == "--name" || opt == "-x";
        at += takes_value ? 2 : 1;
    }
    if (at >= argv.size()) {
        a.result.err =
            "usage: alembic [-h] [--version] [-c CONFIG] [-n NAME] [-x X] [--raiseerr] "
            "{branches,current,downgrade,edit,ensure_version,heads,history,init,"
            "list_templates,merge,revision,show,stamp,upgrade} ...\n"
            "alembic: error: too few arguments\n";
        a.result.code = 2;
        return a.result;
    }
    const std::string command = argv[at];
    const std::vector<std::string> args(argv.begin() + static_cast<std::ptrdiff_t>(at) + 1,
                                        argv.end());
    if (command == "current" || command == "history" || command == "heads") {
        return show(a, command, args);
    }
    if (command == "downgrade") {
        return downgrade(a, args);
    }
    if (command == "upgrade") {
        return upgrade(a, args);
    }
    if (command == "stamp") {
        return stamp(a, args);
    }
    a.result.err =
        "usage: alembic [-h] [--version] [-c CONFIG] [-n NAME] [-x X] [--raiseerr] ...\n"
        "alembic: error: argument {branches,current,downgrade,heads,history,stamp,"
        "upgrade,...}: invalid choice: '" +
        command + "'\n";
    a.result.code = 2;
    return a.result;
}

}  // namespace rollbot::fakes
