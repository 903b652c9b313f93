#include "config/loader.hpp"

#include "config/sections.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace rollbot::config {
namespace {

namespace fs = std::filesystem;

// Far beyond any real configuration; stops a wrong --config (a log file, a device) early.
constexpr std::streamsize kMaxConfigBytes = 1 << 20;

std::optional<std::string> read_text(const std::string& path, std::string& error) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
        error = "it is a directory";
        return std::nullopt;
    }
    errno = 0;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        error = errno != 0 ? std::generic_category().message(errno) : "cannot open it";
        return std::nullopt;
    }
    std::string text(static_cast<std::size_t>(kMaxConfigBytes) + 1, '\0');
    in.read(text.data(), kMaxConfigBytes + 1);
    if (in.bad() || in.gcount() > kMaxConfigBytes) {
        error = in.bad() ? "read error" : "larger than 1 MiB: is it the configuration?";
        return std::nullopt;
    }
    text.resize(static_cast<std::size_t>(in.gcount()));
    return text;
}

// File problems by line (those without a line after them, as they concern the whole file),
// then the environment's.
void sort_by_line(std::vector<Problem>& problems) {
    const auto rank = [](const Problem& p) {
        const bool from_file = !p.file.empty();
        return std::pair{from_file ? 0 : 1, p.line > 0 ? p.line : std::numeric_limits<int>::max()};
    };
    std::stable_sort(problems.begin(), problems.end(), [&](const Problem& a, const Problem& b) {
        return rank(a) < rank(b);
    });
}

// Parses the YAML document; a syntax error becomes one problem at the line yaml-cpp names.
// Notices whether a second YAML document has content, and where. Only events are looked at:
// nothing is built.
class SecondDocument final : public YAML::EventHandler {
public:
    void OnDocumentStart(const YAML::Mark& /*mark*/) override { ++documents_; }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& /*mark*/, YAML::anchor_t /*anchor*/) override {}
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t /*anchor*/) override { content(mark); }
    void OnScalar(const YAML::Mark& mark,
                  const std::string& /*tag*/,
                  YAML::anchor_t /*anchor*/,
                  const std::string& /*value*/) override {
        content(mark);
    }
    void OnSequenceStart(const YAML::Mark& mark,
                         const std::string& /*tag*/,
                         YAML::anchor_t /*anchor*/,
                         YAML::EmitterStyle::value /*style*/) override {
        content(mark);
    }
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark& mark,
                    const std::string& /*tag*/,
                    YAML::anchor_t /*anchor*/,
                    YAML::EmitterStyle::value /*style*/) override {
        content(mark);
    }
    void OnMapEnd() override {}

    /// The line of the second document's first value; nullopt when there is none.
    [[nodiscard]] std::optional<int> line() const { return line_; }

private:
    void content(const YAML::Mark& mark) {
        if (documents_ >= 2 && !line_) {
            line_ = mark.is_null() ? 0 : mark.line + 1;
        }
    }
    int documents_ = 0;
    std::optional<int> line_;
};

void read_document(detail::Context& ctx, std::string_view yaml, core::Settings& settings) {
    try {
        // Not YAML::LoadAll: yaml-cpp 0.7 can return an endless stream of empty documents for
        // some malformed input (found by test/fuzz/fuzz_config: it grew without bound). The
        // first document is the config; the parser is asked for at most one more.
        const std::string text(yaml);
        std::istringstream stream(text);
        YAML::Parser parser(stream);
        SecondDocument second;
        for (int i = 0; i < 2 && parser.HandleNextDocument(second); ++i) {
        }
        if (const auto line = second.line()) {
            ctx.report(*line, "", "holds more than one YAML document (---): keep one");
        }
        const YAML::Node root = YAML::Load(text);
        detail::read_settings(ctx, detail::Value{root, "", 0}, settings);
    } catch (const YAML::Exception& e) {
        const int line = e.mark.is_null() ? 0 : e.mark.line + 1;
        ctx.report(line, "", "not valid YAML: " + e.msg);
    }
}

}  // namespace

std::string Problem::to_string() const {
    std::string out;
    if (!file.empty()) {
        out = file + (line > 0 ? ":" + std::to_string(line) : std::string()) + ": ";
    }
    if (!key.empty()) {
        out += key + ": ";
    }
    return out + message;
}

void throw_exception_from_error(const std::vector<Problem>& problems,
                                const boost::source_location& loc) {
    std::string text;
    for (const auto& p : problems) {
        text += (text.empty() ? "" : "\n") + p.to_string();
    }
    boost::throw_exception(std::runtime_error(text), loc);
}

Environment process_environment() {
    return [](std::string_view name) -> std::optional<std::string> {
        // Read at start-up and on SIGHUP; rollbot never changes its own environment.
        const char* value =
            std::getenv(std::string(name).c_str());  // NOLINT(concurrency-mt-unsafe)
        return value != nullptr ? std::optional<std::string>(value) : std::nullopt;
    };
}

LoadResult parse_settings(std::string_view yaml,
                          const std::string& source_name,
                          const std::filesystem::path& base_dir,
                          const Environment& env,
                          const LoadOptions& options) {
    std::error_code ec;
    const fs::path absolute_base = fs::absolute(base_dir, ec);
    detail::Context ctx{source_name, ec ? base_dir : absolute_base, {}};
    core::Settings settings = detail::default_settings(ctx.base_dir);
    settings.source = source_name;
    read_document(ctx, yaml, settings);
    detail::read_environment(ctx, env, options, settings);
    if (!ctx.problems.empty()) {
        sort_by_line(ctx.problems);
        return {boost::system::in_place_error, std::move(ctx.problems)};
    }
    return settings;
}

LoadResult load_settings(const std::string& path,
                         const Environment& env,
                         const LoadOptions& options) {
    std::string error;
    const auto text = read_text(path, error);
    if (!text) {
        return LoadResult(boost::system::in_place_error,
                          std::vector<Problem>{{path, 0, "", "cannot read: " + error}});
    }
    const fs::path base_dir = fs::path(path).parent_path();
    return parse_settings(*text, path, base_dir.empty() ? fs::path(".") : base_dir, env, options);
}

}  // namespace rollbot::config
