#include "test/support/fake_chat.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

namespace rollbot::test {

namespace asio = boost::asio;
using core::Error;
using core::ErrorKind;

FakeChat::FakeChat(const asio::any_io_executor& executor)
    : stopped_(executor, asio::steady_timer::time_point::max()) {}

void FakeChat::add_user(std::string id, bool is_bot) {
    users_[std::move(id)] = is_bot;
}

void FakeChat::add_usergroup(std::string id, std::vector<std::string> members) {
    auto& group = usergroups_[std::move(id)];
    group.clear();
    for (auto& m : members) {
        group.emplace_back(std::move(m));
    }
}

void FakeChat::fail_user_info(std::string user, std::size_t times) {
    failing_users_[std::move(user)] += times;
}

void FakeChat::fail_posts(std::size_t times, Error error) {
    failing_posts_ = times;
    post_error_ = std::move(error);
}

std::size_t FakeChat::count_posts(std::string_view text) const {
    std::size_t n = 0;
    for (const auto& p : posts_) {
        n += !p.failed && p.message.text.find(text) != std::string::npos ? 1U : 0U;
    }
    return n;
}

std::optional<FakeChat::Post> FakeChat::find_post(std::string_view text) const {
    for (auto it = posts_.rbegin(); it != posts_.rend(); ++it) {
        if (!it->failed && it->message.text.find(text) != std::string::npos) {
            return *it;
        }
    }
    return std::nullopt;
}

std::string FakeChat::text_of(const core::MessageTs& ts) const {
    for (auto it = updates_.rbegin(); it != updates_.rend(); ++it) {
        if (it->message.ts == ts) {
            return it->text;
        }
    }
    for (const auto& p : posts_) {
        if (!p.failed && p.ts == ts) {
            return p.message.text;
        }
    }
    return {};
}

std::string FakeChat::all_replies() const {
    std::string out;
    for (const auto& r : replies_) {
        out += r.text + "\n";
    }
    return out;
}

asio::awaitable<void> FakeChat::run(core::InboundSink& /*sink*/) {
    co_await stopped_.async_wait(asio::as_tuple(asio::use_awaitable));
}

void FakeChat::stop() {
    stopped_.cancel();
}

asio::awaitable<core::Result<core::MessageRef>> FakeChat::post(core::OutboundMessage message) {
    if (failing_posts_ > 0) {
        --failing_posts_;
        posts_.push_back(Post{std::move(message), core::MessageTs{}, true});
        co_return post_error_;
    }
    if (accept_left_ && *accept_left_ == 0) {
        posts_.push_back(Post{std::move(message), core::MessageTs{}, true});
        co_return Error{ErrorKind::Http5xx, "503"};
    }
    if (accept_left_) {
        --*accept_left_;
    }
    const core::MessageTs ts{fmt::format("1700000000.{:06}", ++next_ts_)};
    const core::MessageRef where{message.channel, ts};
    posts_.push_back(Post{std::move(message), ts, false});
    co_return where;
}

asio::awaitable<core::Result<void>> FakeChat::update(core::MessageRef ref, std::string text) {
    updates_.push_back(Update{std::move(ref), std::move(text)});
    co_return core::Result<void>{};
}

asio::awaitable<core::Result<void>> FakeChat::reply(core::ReplyTarget target,
                                                    core::Visibility visibility,
                                                    std::string text) {
    replies_.push_back(Reply{std::move(target), visibility, std::move(text)});
    co_return core::Result<void>{};
}

asio::awaitable<core::Result<std::vector<core::UserId>>> FakeChat::usergroup_members(
    core::UsergroupId group) {
    auto it = usergroups_.find(group.value);
    if (it == usergroups_.end()) {
        co_return Error{ErrorKind::NotFound, "usergroups.users.list: no_such_subteam"};
    }
    co_return it->second;
}

asio::awaitable<core::Result<core::UserInfo>> FakeChat::user_info(core::UserId user) {
    if (auto f = failing_users_.find(user.value); f != failing_users_.end() && f->second > 0) {
        --f->second;
        co_return Error{ErrorKind::Network, "users.info: connection reset"};
    }
    auto it = users_.find(user.value);
    if (it == users_.end()) {
        co_return Error{ErrorKind::NotFound, "users.info: user_not_found"};
    }
    co_return core::UserInfo{user, user.value, it->second, false};
}

}  // namespace rollbot::test
