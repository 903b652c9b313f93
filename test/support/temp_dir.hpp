#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace rollbot::test {

/// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    [[nodiscard]] const std::filesystem::path& path() const { return path_; }
    /// Path of a file inside the directory.
    [[nodiscard]] std::filesystem::path file(std::string_view name) const { return path_ / name; }
    /// Writes `content` to `name` inside the directory and returns its path.
    std::filesystem::path write(std::string_view name, std::string_view content) const;
    /// Reads a file inside the directory ("" if it does not exist).
    [[nodiscard]] std::string read(std::string_view name) const;

private:
    std::filesystem::path path_;
};

}  // namespace rollbot::test
