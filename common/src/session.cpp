#include "bank/session.hpp"

#include "bank/framing.hpp"
#include "bank/ledger.hpp"

namespace bank {

std::string error_reply(std::string_view reason) {
  std::string reply = "ERROR ";
  reply += reason;
  return reply;
}

namespace {

SessionAction reply(std::string text) {
  SessionAction action;
  action.kind = SessionAction::Kind::reply;
  action.reply = std::move(text);
  return action;
}

SessionAction of_kind(SessionAction::Kind kind) {
  SessionAction action;
  action.kind = kind;
  return action;
}

// Splits "VALUE key=KEY" into value and key; key is empty when absent.
Status split_key(std::string_view argument, std::string_view& value, std::string_view& key) {
  const auto space = argument.find_first_of(" \t");
  value = argument.substr(0, space);
  key = {};
  if (space == std::string_view::npos) return ok_status();
  std::string_view rest = trim_ascii_whitespace(argument.substr(space));
  constexpr std::string_view key_prefix = "key=";
  if (rest.substr(0, key_prefix.size()) != key_prefix) {
    return Error{"expected a value, optionally followed by key=<idempotency key>, got " +
                 quote_for_error(argument)};
  }
  key = rest.substr(key_prefix.size());
  return validate_key(key);
}

}  // namespace

SessionAction Session::handle_frame(std::string_view frame) {
  frame = trim_ascii_whitespace(frame);
  if (awaiting_ == Awaiting::nothing) return handle_action(frame);
  return handle_argument(frame);
}

SessionAction Session::handle_action(std::string_view action) {
  using Kind = SessionAction::Kind;
  if (action == "HEALTH") return reply(std::string(reply_healthy));
  if (action == "LIST_TRANSACTIONS") return of_kind(Kind::list);
  if (action == "GET_BALANCE") return of_kind(Kind::balance);
  if (action == "GET_TRANSACTION") {
    awaiting_ = Awaiting::get_id;
    return reply(std::string(prompt_id));
  }
  if (action == "CREATE_TRANSACTION") {
    awaiting_ = Awaiting::create_amount;
    return reply(std::string(prompt_amount));
  }
  if (action == "VOID_TRANSACTION") {
    awaiting_ = Awaiting::void_id;
    return reply(std::string(prompt_id));
  }
  if (action == "CLOSE") return of_kind(Kind::close);
  if (action == "EXIT") return of_kind(Kind::exit);
  if (action.empty()) {
    return reply(error_reply(
        "empty frame; expected an action: HEALTH, LIST_TRANSACTIONS, GET_TRANSACTION, CREATE_TRANSACTION, "
        "VOID_TRANSACTION, GET_BALANCE, CLOSE or EXIT"));
  }
  return reply(error_reply("unknown action " + quote_for_error(action) +
                           "; expected HEALTH, LIST_TRANSACTIONS, GET_TRANSACTION, CREATE_TRANSACTION, "
                           "VOID_TRANSACTION, GET_BALANCE, CLOSE or EXIT"));
}

SessionAction Session::handle_argument(std::string_view argument) {
  using Kind = SessionAction::Kind;
  const Awaiting awaiting = awaiting_;
  awaiting_ = Awaiting::nothing;  // Whatever happens, the exchange is over.
  std::string_view value;
  std::string_view key;
  if (awaiting == Awaiting::get_id) {
    auto id = parse_id(argument);
    if (!id) return reply(error_reply(id.error().message));
    SessionAction action = of_kind(Kind::get);
    action.id = *id;
    return action;
  }
  if (auto status = split_key(argument, value, key); !status)
    return reply(error_reply(status.error().message));
  if (awaiting == Awaiting::create_amount) {
    auto amount = parse_amount(value);
    if (!amount) return reply(error_reply(amount.error().message));
    SessionAction action = of_kind(Kind::create);
    action.amount = *amount;
    action.key = std::string(key);
    return action;
  }
  BANK_ASSERT(awaiting == Awaiting::void_id);
  auto id = parse_id(value);
  if (!id) return reply(error_reply(id.error().message));
  SessionAction action = of_kind(Kind::void_);
  action.id = *id;
  action.key = std::string(key);
  return action;
}

}  // namespace bank
