#pragma once

#include "bot/chat.hpp"
#include "bot/ports/chat_transport.hpp"
#include "bot/ports/user_directory.hpp"
#include "bot/result.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rollbot::test {

/// A chat platform and user directory in the test process, for the flow layer's tests: every
/// call completes at once (or fails as scripted) and is recorded in order.
class FakeChat final : public core::ChatTransport, public core::UserDirectory {
public:
    struct Post {
        core::OutboundMessage message;
        core::MessageTs ts;  // where it landed ("" when the post failed)
        bool failed = false;
    };
    struct Update {
        core::MessageRef message;
        std::string text;
    };
    struct Reply {
        core::ReplyTarget to;
        core::Visibility visibility = core::Visibility::Ephemeral;
        std::string text;
    };

    explicit FakeChat(const boost::asio::any_io_executor& executor);

    // The directory: users are not bots unless said; unknown users fail the lookup.
    void add_user(std::string id, bool is_bot = false);
    void add_usergroup(std::string id, std::vector<std::string> members);
    /// The next `times` lookups of `user` fail (users.info answering an error).
    void fail_user_info(std::string user, std::size_t times = 1);
    /// The next `times` posts fail with `error`.
    void fail_posts(std::size_t times, core::Error error = {core::ErrorKind::Http5xx, "503"});
    /// After `posts` more accepted posts, every post fails (503): bounds a test of code that
    /// might post again and again.
    void accept_at_most(std::size_t posts) { accept_left_ = posts; }

    // What happened, in order.
    [[nodiscard]] const std::vector<Post>& posts() const { return posts_; }
    [[nodiscard]] const std::vector<Update>& updates() const { return updates_; }
    [[nodiscard]] const std::vector<Reply>& replies() const { return replies_; }
    /// Delivered posts whose text contains `text`.
    [[nodiscard]] std::size_t count_posts(std::string_view text) const;
    /// The newest delivered post containing `text`, if any.
    [[nodiscard]] std::optional<Post> find_post(std::string_view text) const;
    /// The text of message `ts` now: its post, or its latest update ("" if unknown).
    [[nodiscard]] std::string text_of(const core::MessageTs& ts) const;
    /// Every reply's text, one after another, for "did it say …" checks.
    [[nodiscard]] std::string all_replies() const;

    boost::asio::awaitable<void> run(core::InboundSink& sink) override;
    boost::asio::awaitable<core::Result<core::MessageRef>> post(
        core::OutboundMessage message) override;
    boost::asio::awaitable<core::Result<void>> update(core::MessageRef ref,
                                                      std::string text) override;
    boost::asio::awaitable<core::Result<void>> reply(core::ReplyTarget target,
                                                     core::Visibility visibility,
                                                     std::string text) override;
    void stop() override;

    boost::asio::awaitable<core::Result<std::vector<core::UserId>>> usergroup_members(
        core::UsergroupId group) override;
    boost::asio::awaitable<core::Result<core::UserInfo>> user_info(core::UserId user) override;

private:
    std::map<std::string, bool> users_;  // id -> is_bot
    std::map<std::string, std::vector<core::UserId>> usergroups_;
    std::map<std::string, std::size_t> failing_users_;
    std::size_t failing_posts_ = 0;
    core::Error post_error_;
    std::optional<std::size_t> accept_left_;
    std::vector<Post> posts_;
    std::vector<Update> updates_;
    std::vector<Reply> replies_;
    std::uint64_t next_ts_ = 0;
    boost::asio::steady_timer stopped_;
};

}  // namespace rollbot::test
