#pragma once

#include "actions/process.hpp"

#include <cstddef>
#include <memory>
#include <string_view>

namespace rollbot::actions {

/// A child's stdout and stderr, each kept within a cap, and a digest of every byte written.
///
/// - A stream of at most `max_bytes` is kept whole. A longer one keeps its head, the line
///   "\n… [N bytes omitted] …\n" and its tail, at most `max_bytes` in all, with N exactly what
///   was left out and both cuts on UTF-8 character boundaries; when `max_bytes` is below the
///   marker's size, only the first `max_bytes` bytes.
/// - Between appends a stream holds at most 3 × `max_bytes`, however much it was given.
/// - digest = lower-case hex SHA-256(SHA-256(stdout) || SHA-256(stderr)), the two inner digests
///   raw (32 bytes each) and taken over every byte appended to that stream, kept or not.
/// - How the bytes are split into append() calls changes nothing.
class ProcessCapture {
public:
    enum class Stream { Out, Err };

    explicit ProcessCapture(std::size_t max_bytes);
    ~ProcessCapture();
    ProcessCapture(const ProcessCapture&) = delete;
    ProcessCapture& operator=(const ProcessCapture&) = delete;
    ProcessCapture(ProcessCapture&&) = delete;
    ProcessCapture& operator=(ProcessCapture&&) = delete;

    /// Records the next bytes the child wrote to `stream`.
    void append(Stream stream, std::string_view data);
    /// Sets out, err, out_/err_truncated, out_/err_bytes and digest; once, after the last append.
    void finish(actions::ProcessOutput& output);

private:
    struct Capture;  // one stream: head, tail, byte count and running SHA-256

    std::unique_ptr<Capture> out_;
    std::unique_ptr<Capture> err_;
    bool finished_ = false;
};

}  // namespace rollbot::actions
