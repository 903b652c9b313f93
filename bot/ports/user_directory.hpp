#pragma once

#include "bot/chat.hpp"
#include "bot/ids.hpp"
#include "bot/result.hpp"

#include <boost/asio/awaitable.hpp>

#include <vector>

namespace rollbot::core {

/// Who is who: usergroup membership and user flags, looked up when a decision needs them.
class UserDirectory {
public:
    virtual ~UserDirectory() = default;
    /// Members of a usergroup now (cached briefly by the implementation).
    virtual boost::asio::awaitable<Result<std::vector<UserId>>> usergroup_members(
        UsergroupId group) = 0;
    /// Name and flags of a user.
    virtual boost::asio::awaitable<Result<UserInfo>> user_info(UserId user) = 0;
};

}  // namespace rollbot::core
