#include <catch2/catch.hpp>

#include "bank/session.hpp"

using bank::Session;
using Kind = bank::SessionAction::Kind;

TEST_CASE("actions that need no ledger are answered by the session") {
  Session session;
  CHECK(session.handle_frame("HEALTH").reply == "healthy");
  CHECK(session.handle_frame("HEALTH\n").reply == "healthy");
  CHECK(session.handle_frame("LIST_TRANSACTIONS").kind == Kind::list);
  CHECK(session.handle_frame("GET_BALANCE").kind == Kind::balance);
  CHECK(session.handle_frame("CLOSE").kind == Kind::close);
  CHECK(session.handle_frame("EXIT").kind == Kind::exit);
}

TEST_CASE("CREATE prompts, then takes an amount and an optional key") {
  Session session;
  CHECK(session.handle_frame("CREATE_TRANSACTION").reply == "Enter the transaction amount:");
  auto create = session.handle_frame("12.50");
  CHECK(create.kind == Kind::create);
  CHECK(create.amount.cents == 1250);
  CHECK(create.key.empty());
  session.handle_frame("CREATE_TRANSACTION");
  auto keyed = session.handle_frame("-3 key=banker3-41");
  CHECK(keyed.kind == Kind::create);
  CHECK(keyed.amount.cents == -300);
  CHECK(keyed.key == "banker3-41");
}

TEST_CASE("GET and VOID prompt for an id") {
  Session session;
  CHECK(session.handle_frame("GET_TRANSACTION").reply == "Enter the transaction ID:");
  auto get = session.handle_frame("7");
  CHECK(get.kind == Kind::get);
  CHECK(get.id == 7);
  CHECK(session.handle_frame("VOID_TRANSACTION").reply == "Enter the transaction ID:");
  auto void_action = session.handle_frame("7 key=v1");
  CHECK(void_action.kind == Kind::void_);
  CHECK(void_action.id == 7);
  CHECK(void_action.key == "v1");
}

TEST_CASE("malformed input gets one ERROR reply and the session goes on") {
  Session session;
  CHECK(session.handle_frame("FOO").reply.rfind("ERROR unknown action 'FOO'", 0) == 0);
  CHECK(session.handle_frame("").reply.rfind("ERROR empty frame", 0) == 0);
  session.handle_frame("CREATE_TRANSACTION");
  CHECK(session.handle_frame("1.234").reply == "ERROR amount must have at most 2 decimals: '1.234'");
  CHECK_FALSE(session.awaiting_argument());
  session.handle_frame("CREATE_TRANSACTION");
  CHECK(session.handle_frame("1 kee=x").reply.rfind("ERROR expected a value", 0) == 0);
  session.handle_frame("GET_TRANSACTION");
  CHECK(session.handle_frame("abc").reply.rfind("ERROR transaction id must be a positive integer", 0) == 0);
  session.handle_frame("GET_TRANSACTION");
  CHECK(session.handle_frame("5 key=x").reply.rfind("ERROR transaction id must be", 0) == 0);
  CHECK(session.handle_frame("HEALTH").reply == "healthy");
}

TEST_CASE("an action word in the argument slot is an argument, as in the original") {
  Session session;
  session.handle_frame("CREATE_TRANSACTION");
  CHECK(session.handle_frame("HEALTH").reply.rfind("ERROR amount must be a number", 0) == 0);
}
