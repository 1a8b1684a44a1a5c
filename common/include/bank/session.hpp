#pragma once
// One connection's protocol state (PROTOCOL.md, Exchanges), sans-IO: it takes
// frames and returns what to do. Replies that need no ledger (prompts, HEALTH,
// errors) it produces itself; the rest become requests for the server.

#include <cstdint>
#include <string>
#include <string_view>

#include "bank/money.hpp"

namespace bank {

inline constexpr std::string_view prompt_amount = "Enter the transaction amount:";
inline constexpr std::string_view prompt_id = "Enter the transaction ID:";
inline constexpr std::string_view reply_healthy = "healthy";
inline constexpr std::string_view reply_not_found = "Transaction not found";
// The frames a server sends unasked, each just before it closes the
// connection, begin with these (the rest names the limit).
inline constexpr std::string_view notice_idle_timeout = "ERROR idle timeout";
inline constexpr std::string_view notice_too_many_connections = "ERROR too many connections";

struct SessionAction {
  enum class Kind {
    reply,    // Send `reply` and go on.
    list,     // LIST_TRANSACTIONS.
    balance,  // GET_BALANCE.
    get,      // GET_TRANSACTION with `id`.
    create,   // CREATE_TRANSACTION with `amount` and maybe `key`.
    void_,    // VOID_TRANSACTION with `id` and maybe `key`.
    close,    // CLOSE: close this connection, no reply.
    exit,     // EXIT: shut the server down, if allowed.
  };
  Kind kind = Kind::reply;
  std::string reply;
  std::uint64_t id = 0;
  Money amount;
  std::string key;
};

class Session {
 public:
  // frame is one frame's payload, without its NUL.
  SessionAction handle_frame(std::string_view frame);

  bool awaiting_argument() const { return awaiting_ != Awaiting::nothing; }

 private:
  enum class Awaiting { nothing, get_id, create_amount, void_id };
  SessionAction handle_action(std::string_view action);
  SessionAction handle_argument(std::string_view argument);

  Awaiting awaiting_ = Awaiting::nothing;
};

// "ERROR " + reason.
std::string error_reply(std::string_view reason);

}  // namespace bank
