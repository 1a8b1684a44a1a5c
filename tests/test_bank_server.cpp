// BankServer end to end on the simulated world: every exchange of PROTOCOL.md,
// group commit, limits and shutdown, with no real I/O.

#include <catch2/catch.hpp>

#include "bank/coverage.hpp"
#include "support/sim_bank.hpp"

using test_support::SimBank;

TEST_CASE("every exchange of PROTOCOL.md") {
  SimBank bank;
  REQUIRE(bank.start().ok());
  auto& c = bank.connect();
  CHECK(bank.request(c, "HEALTH") == "healthy");
  CHECK(bank.request(c, "LIST_TRANSACTIONS") == "");
  CHECK(bank.request(c, "GET_BALANCE") == "$0.00");
  CHECK(bank.request(c, "CREATE_TRANSACTION") == "Enter the transaction amount:");
  CHECK(bank.request(c, "12.50") == "id=1 created_at=1745529640 amount=$12.50");
  CHECK(bank.request(c, "CREATE_TRANSACTION") == "Enter the transaction amount:");
  const std::string second = bank.request(c, "-25");
  CHECK_THAT(second, Catch::Matches("id=2 created_at=17455296\\d\\d amount=\\$-25.00"));
  CHECK(bank.request(c, "GET_BALANCE") == "$-12.50");
  CHECK(bank.request(c, "GET_TRANSACTION") == "Enter the transaction ID:");
  CHECK(bank.request(c, "1") == "id=1 created_at=1745529640 amount=$12.50");
  CHECK(bank.request(c, "GET_TRANSACTION") == "Enter the transaction ID:");
  CHECK(bank.request(c, "99") == "Transaction not found");
  CHECK(bank.request(c, "VOID_TRANSACTION") == "Enter the transaction ID:");
  CHECK_THAT(bank.request(c, "1"), Catch::Matches("id=3 created_at=\\d+ amount=\\$-12.50 voids=1"));
  CHECK(bank.request(c, "VOID_TRANSACTION") == "Enter the transaction ID:");
  CHECK(bank.request(c, "99") == "Transaction not found");
  CHECK(bank.request(c, "VOID_TRANSACTION") == "Enter the transaction ID:");
  CHECK(bank.request(c, "1") == "ERROR transaction 1 is already voided by transaction 3");
  CHECK(bank.request(c, "VOID_TRANSACTION") == "Enter the transaction ID:");
  CHECK(bank.request(c, "3") == "ERROR transaction 3 is a reversal of 1 and cannot be voided");
  const std::string list = bank.request(c, "LIST_TRANSACTIONS");
  CHECK(list.find("id=1 ") == 0);
  CHECK(std::count(list.begin(), list.end(), '\n') == 2);
  CHECK(list.back() != '\n');
  CHECK(bank.request(c, "GET_BALANCE") == "$-25.00");
  CHECK(bank.request(c, "EXIT") ==
        "ERROR remote shutdown is disabled (start the server with --allow-remote-exit)");
  CHECK(bank.request(c, "CLOSE") == "<closed>");
  CHECK(c.close_reason == bank::CloseReason::peer_closed);
}

TEST_CASE("an argument sent before its prompt was read is handled in order") {
  SimBank bank;
  REQUIRE(bank.start().ok());
  auto& c = bank.connect();
  c.send_frame("CREATE_TRANSACTION");
  c.send_frame("7.07");
  c.send_frame("VOID_TRANSACTION");
  c.send_frame("1");
  c.send_frame("GET_BALANCE");
  REQUIRE(bank.run_until([&] { return c.replies.size() == 5; }));
  CHECK(c.replies[0] == "Enter the transaction amount:");
  CHECK_THAT(c.replies[1], Catch::StartsWith("id=1 "));
  CHECK(c.replies[2] == "Enter the transaction ID:");
  CHECK_THAT(c.replies[3], Catch::EndsWith("amount=$-7.07 voids=1"));
  CHECK(c.replies[4] == "$0.00");
}

TEST_CASE("bad input gets an ERROR and loses nothing") {
  SimBank bank;
  REQUIRE(bank.start().ok());
  auto& c = bank.connect();
  bank.request(c, "CREATE_TRANSACTION");
  bank.request(c, "5");
  CHECK_THAT(bank.request(c, "NOPE"), Catch::StartsWith("ERROR unknown action 'NOPE'"));
  bank.request(c, "CREATE_TRANSACTION");
  CHECK_THAT(bank.request(c, "1.234"), Catch::StartsWith("ERROR amount must have at most 2 decimals"));
  bank.request(c, "CREATE_TRANSACTION");
  CHECK_THAT(bank.request(c, ""), Catch::StartsWith("ERROR amount is empty"));
  bank.request(c, "CREATE_TRANSACTION");
  CHECK_THAT(bank.request(c, "99999999999999999999"), Catch::StartsWith("ERROR amount is out of range"));
  bank.request(c, "GET_TRANSACTION");
  CHECK_THAT(bank.request(c, "-4"), Catch::StartsWith("ERROR transaction id must be a positive integer"));
  CHECK(bank.request(c, "GET_BALANCE") == "$5.00");
  CHECK(bank.server->ledger().durable_count() == 1);
}

TEST_CASE("idempotency keys: a retry returns the first transaction and applies nothing, across restarts") {
  SimBank bank;
  REQUIRE(bank.start().ok());
  auto& c = bank.connect();
  bank.request(c, "CREATE_TRANSACTION");
  const std::string first = bank.request(c, "12.50 key=banker3-41");
  CHECK_THAT(first, Catch::StartsWith("id=1 "));
  bank.request(c, "CREATE_TRANSACTION");
  CHECK(bank.request(c, "12.50 key=banker3-41") == first);
  bank.power_loss();
  REQUIRE(bank.start().ok());
  auto& d = bank.connect();
  bank.request(d, "CREATE_TRANSACTION");
  CHECK(bank.request(d, "12.50 key=banker3-41") == first);
  CHECK(bank.request(d, "GET_BALANCE") == "$12.50");
  bank.request(d, "VOID_TRANSACTION");
  const std::string reversal = bank.request(d, "1 key=void-1");
  bank.request(d, "VOID_TRANSACTION");
  CHECK(bank.request(d, "1 key=void-1") == reversal);
}

TEST_CASE("a restart rebuilds the ledger and the balance from the journal") {
  SimBank bank;
  REQUIRE(bank.start().ok());
  auto& c = bank.connect();
  for (int i = 1; i <= 20; ++i) {
    bank.request(c, "CREATE_TRANSACTION");
    REQUIRE_THAT(bank.request(c, std::to_string(i) + ".25"), Catch::StartsWith("id="));
  }
  const std::string list_before = bank.request(c, "LIST_TRANSACTIONS");
  bank.power_loss();
  REQUIRE(bank.start().ok());
  auto& d = bank.connect();
  CHECK(bank.request(d, "LIST_TRANSACTIONS") == list_before);
  CHECK(bank.request(d, "GET_BALANCE") == "$215.00");
}

TEST_CASE("an amount prompt whose answer came with it leaves with the answer's reply, in one write") {
  sim::NetworkConfig network;
  network.latency_ms_min = network.latency_ms_max = 5;
  network.pieces_per_send_max = 1;  // What one send carries arrives whole, at once.
  SimBank bank(1, 1'745'529'640'464, SimBank::default_config(), network);
  REQUIRE(bank.start().ok());
  auto& pipelined = bank.connect("pipelined");
  std::string burst;  // Sent in one send, so it arrives in one piece.
  for (const char* frame : {"CREATE_TRANSACTION", "3.00", "CREATE_TRANSACTION", "x"})
    bank::append_frame(burst, frame);
  pipelined.connection->send(burst);
  REQUIRE(bank.run_until([&] { return !pipelined.replies.empty(); }));
  // The prompt came only once its write was durable, together with the answer.
  CHECK(pipelined.replies.size() >= 2);
  CHECK(bank.server->ledger().durable_count() == 1);
  REQUIRE(bank.run_until([&] { return pipelined.replies.size() == 4; }));
  CHECK(pipelined.replies[0] == "Enter the transaction amount:");
  CHECK_THAT(pipelined.replies[1], Catch::StartsWith("id=1 "));
  CHECK(pipelined.replies[2] == "Enter the transaction amount:");
  CHECK_THAT(pipelined.replies[3], Catch::StartsWith("ERROR amount must be a number"));
  // A client that waits for the prompt gets it at once, before it sends the amount.
  auto& waiting = bank.connect("waiting");
  waiting.send_frame("CREATE_TRANSACTION");
  REQUIRE(bank.run_until([&] { return waiting.replies.size() == 1; }));
  CHECK(waiting.replies[0] == "Enter the transaction amount:");
  CHECK(bank.request(waiting, "4.00").starts_with("id=2 "));
  // Half an amount behind the prompt: the prompt does not wait for the rest.
  auto& slow = bank.connect("slow");
  slow.connection->send(std::string("CREATE_TRANSACTION\0", 19) + "5.");
  REQUIRE(bank.run_until([&] { return slow.replies.size() == 1; }));
  CHECK(slow.replies[0] == "Enter the transaction amount:");
}

// At the limit of requests in flight, a prompt that stops the reading leaves
// alone; the answer that came with it must still be handled, though the
// client, having sent everything, sends nothing more to wake the server up.
TEST_CASE("a pipelined write is answered at a limit of one request in flight and not closed as idle") {
  // Timed so that the idle check, put off while the first write syncs, comes
  // back after the second prompt left and before that prompt reached the client.
  sim::NetworkConfig network;
  network.latency_ms_min = network.latency_ms_max = 50;
  network.pieces_per_send_max = 1;
  sim::DiskConfig disk;
  disk.append_latency_ms_max = 0;
  disk.sync_latency_ms_min = disk.sync_latency_ms_max = 220;
  auto config = SimBank::default_config();
  config.requests_in_flight_max = 1;
  config.idle_timeout_ms = 100;
  SimBank bank(1, 1'745'529'640'464, config, network, disk);
  REQUIRE(bank.start().ok());
  auto& client = bank.connect("pipelined");
  std::string burst;
  for (const char* frame : {"CREATE_TRANSACTION", "1.00", "CREATE_TRANSACTION", "2.00"})
    bank::append_frame(burst, frame);
  client.connection->send(burst);
  REQUIRE(bank.run_until([&] { return client.replies.size() == 4 || client.closed; }));
  std::string seen;
  for (const auto& reply : client.replies) seen += "`" + reply + "` ";
  INFO("replies: " << seen << (client.closed ? "then closed" : ""));
  REQUIRE(client.replies.size() == 4);
  CHECK_THAT(client.replies[1], Catch::StartsWith("id=1 "));
  CHECK_THAT(client.replies[3], Catch::StartsWith("id=2 "));
  CHECK_FALSE(client.closed);
  CHECK(bank.server->ledger().durable_count() == 2);
}

TEST_CASE("a client that shuts its sending side gets every reply, in order, then the server closes") {
  SimBank bank;
  REQUIRE(bank.start().ok());
  auto& c = bank.connect();
  std::string burst;
  for (const char* frame : {"CREATE_TRANSACTION", "5.00", "GET_BALANCE", "CREATE_TRANSACTION", "6.00"})
    bank::append_frame(burst, frame);
  c.connection->send(burst);
  c.connection->shutdown_send();
  REQUIRE(bank.run_until([&] { return c.closed; }));
  CHECK(c.close_reason == bank::CloseReason::peer_closed);
  REQUIRE(c.replies.size() == 5);
  CHECK(c.replies[0] == "Enter the transaction amount:");
  CHECK_THAT(c.replies[1], Catch::StartsWith("id=1 "));
  CHECK(c.replies[2] == "$5.00");
  CHECK(c.replies[3] == "Enter the transaction amount:");
  CHECK_THAT(c.replies[4], Catch::StartsWith("id=2 "));
  CHECK(bank.server->ledger().durable_count() == 2);
  // With nothing pending, the server closes at once.
  auto& quiet = bank.connect("quiet");
  quiet.connection->shutdown_send();
  REQUIRE(bank.run_until([&] { return quiet.closed; }));
  CHECK(quiet.replies.empty());
}

TEST_CASE("writes that arrive together share one sync (group commit)") {
  // Every message takes 5 ms, whole: the sixteen writes arrive in the same millisecond.
  sim::NetworkConfig network;
  network.latency_ms_min = network.latency_ms_max = 5;
  network.pieces_per_send_max = 1;
  SimBank bank(1, 1'745'529'640'464, SimBank::default_config(), network);
  REQUIRE(bank.start().ok());
  std::vector<test_support::TestClient*> clients;
  for (int i = 0; i < 16; ++i) clients.push_back(&bank.connect("client" + std::to_string(i)));
  for (auto* c : clients) {
    c->send_frame("CREATE_TRANSACTION");
    c->send_frame("1");
  }
  REQUIRE(bank.run_until([&] {
    for (auto* c : clients)
      if (c->replies.size() < 2) return false;
    return true;
  }));
  for (auto* c : clients) CHECK_THAT(c->replies[1], Catch::StartsWith("id="));
  CHECK(bank.server->ledger().durable_count() == 16);
  // The first write starts a sync; the fifteen that arrive while it runs share the next one.
  CHECK(bank.server->stats().syncs <= 2);
  CHECK(bank.disk.syncs_done == bank.server->stats().syncs + 1);  // One more: recovery syncs what it read.
}

// Sixteen clients, each sending its next create as soon as its last is
// answered. Without the group commit's wait, they split into two cohorts that
// take turns with the disk (one client's write syncs alone while the other
// fifteen come back, then those fifteen sync while it comes back): two syncs a
// round. With it, a batch waits for every client the last sync answered.
TEST_CASE("clients that write again when answered keep sharing one sync a round") {
  sim::NetworkConfig network;
  network.latency_ms_min = 1;
  network.latency_ms_max = 6;
  // Round trips here take milliseconds, not the tens of microseconds of a
  // real loopback: the hold is scaled to match.
  bank::BankServerConfig config = SimBank::default_config();
  config.group_commit_hold_ms = 20;
  SimBank bank(3, 1'745'529'640'464, config, network);
  REQUIRE(bank.start().ok());
  constexpr std::size_t clients_n = 16;
  constexpr std::size_t rounds = 12;
  std::vector<test_support::TestClient*> clients;
  for (std::size_t i = 0; i < clients_n; ++i) clients.push_back(&bank.connect("client" + std::to_string(i)));
  const std::uint64_t syncs_before = bank.server->stats().syncs;
  std::vector<std::size_t> sent(clients_n, 0);
  // Sends each client's next create once its last is answered; true when all are done.
  const auto step = [&] {
    bool done = true;
    for (std::size_t i = 0; i < clients_n; ++i) {
      if (clients[i]->replies.size() == 2 * sent[i] && sent[i] < rounds) {
        clients[i]->send_frame("CREATE_TRANSACTION");
        clients[i]->send_frame("1");
        ++sent[i];
      }
      done = done && clients[i]->replies.size() == 2 * rounds;
    }
    return done;
  };
  REQUIRE(bank.run_until(step));
  for (auto* c : clients) CHECK_THAT(c->replies.back(), Catch::StartsWith("id="));
  CHECK(bank.server->ledger().durable_count() == clients_n * rounds);
  const std::uint64_t syncs = bank.server->stats().syncs - syncs_before;
  INFO("syncs for " << clients_n * rounds << " creates in " << rounds << " rounds: " << syncs);
  CHECK(syncs <= rounds + 2);
}

// The wait is bounded: a client answered by the last sync that then goes
// quiet delays the next batch by the hold (1 ms), no more.
TEST_CASE("a client that goes quiet after its answer holds up the others' next sync by 1 ms at most") {
  sim::NetworkConfig network;
  network.latency_ms_min = network.latency_ms_max = 5;
  network.pieces_per_send_max = 1;
  sim::DiskConfig disk;  // Every sync takes as long: the difference is the hold's.
  disk.append_latency_ms_max = 0;
  disk.sync_latency_ms_min = disk.sync_latency_ms_max = 3;
  const auto create_ms = [&](bool with_quiet_client) {
    SimBank bank(1, 1'745'529'640'464, SimBank::default_config(), network, disk);
    REQUIRE(bank.start().ok());
    auto& writer = bank.connect("writer");
    auto& quiet = bank.connect("quiet");
    writer.send_frame("CREATE_TRANSACTION");
    writer.send_frame("1");
    if (with_quiet_client) {
      quiet.send_frame("CREATE_TRANSACTION");
      quiet.send_frame("1");
    }
    REQUIRE(bank.run_until(
        [&] { return writer.replies.size() == 2 && quiet.replies.size() == (with_quiet_client ? 2u : 0u); }));
    const std::int64_t start_ms = bank.world.now_ms();
    writer.send_frame("CREATE_TRANSACTION");
    writer.send_frame("2");
    REQUIRE(bank.run_until([&] { return writer.replies.size() == 4; }));
    CHECK_THAT(writer.replies[3], Catch::StartsWith("id="));
    return bank.world.now_ms() - start_ms;
  };
  const std::int64_t alone_ms = create_ms(false);
  bank::take_marks_for_this_thread();
  const std::int64_t held_ms = create_ms(true);
  const auto marks = bank::take_marks_for_this_thread();
  INFO("a create alone took " << alone_ms << " ms; behind a quiet client " << held_ms << " ms");
  CHECK(marks[static_cast<std::size_t>(bank::Mark::group_commit_hold_expired)] >= 1);
  CHECK(held_ms >= alone_ms);
  CHECK(held_ms <= alone_ms + 2);  // The 1 ms hold, and a step to round up to.
}

TEST_CASE(
    "writes pipelined on one connection share one sync, replies keep request order, reads see own writes") {
  sim::NetworkConfig network;
  network.latency_ms_min = network.latency_ms_max = 5;
  network.pieces_per_send_max = 1;
  SimBank bank(1, 1'745'529'640'464, SimBank::default_config(), network);
  REQUIRE(bank.start().ok());
  auto& c = bank.connect();
  // Thirty-two creates sent at once, then a read and a void of the first, then HEALTH.
  for (int i = 1; i <= 32; ++i) {
    c.send_frame("CREATE_TRANSACTION");
    c.send_frame(std::to_string(i));
  }
  c.send_frame("GET_BALANCE");
  c.send_frame("VOID_TRANSACTION");
  c.send_frame("1");
  c.send_frame("GET_TRANSACTION");
  c.send_frame("33");
  c.send_frame("HEALTH");
  REQUIRE(bank.run_until([&] { return c.replies.size() == 64 + 1 + 2 + 2 + 1; }));
  for (int i = 1; i <= 32; ++i) {
    INFO("create " << i);
    CHECK(c.replies[static_cast<std::size_t>(2 * i - 2)] == "Enter the transaction amount:");
    CHECK_THAT(c.replies[static_cast<std::size_t>(2 * i - 1)],
               Catch::StartsWith("id=" + std::to_string(i) + " ") &&
                   Catch::EndsWith("amount=$" + std::to_string(i) + ".00"));
  }
  CHECK(c.replies[64] == "$528.00");  // 1 + 2 + ... + 32: the balance sees every write before it.
  CHECK(c.replies[65] == "Enter the transaction ID:");
  CHECK_THAT(c.replies[66], Catch::StartsWith("id=33 ") && Catch::EndsWith("amount=$-1.00 voids=1"));
  CHECK(c.replies[67] == "Enter the transaction ID:");
  CHECK_THAT(c.replies[68], Catch::StartsWith("id=33 "));
  CHECK(c.replies[69] == "healthy");
  // One connection's thirty-two writes took one or two syncs, not thirty-two; the void, one more.
  CHECK(bank.server->stats().syncs <= 3);
}

TEST_CASE("a CLOSE pipelined behind a write closes once the write is answered") {
  SimBank bank;
  REQUIRE(bank.start().ok());
  auto& c = bank.connect();
  c.send_frame("CREATE_TRANSACTION");
  c.send_frame("5");
  c.send_frame("CLOSE");
  REQUIRE(bank.run_until([&] { return c.closed; }));
  CHECK(c.close_reason == bank::CloseReason::peer_closed);
  REQUIRE(c.replies.size() == 2);
  CHECK_THAT(c.replies[1], Catch::StartsWith("id=1 "));
  CHECK(bank.server->ledger().durable_count() == 1);
}

TEST_CASE("created_at never decreases when the server's clock steps back") {
  SimBank bank;
  REQUIRE(bank.start().ok());
  auto& c = bank.connect();
  bank.request(c, "CREATE_TRANSACTION");
  CHECK(bank.request(c, "1") == "id=1 created_at=1745529640 amount=$1.00");
  bank.clock.step(-3'600'000);
  bank.request(c, "CREATE_TRANSACTION");
  CHECK(bank.request(c, "2") == "id=2 created_at=1745529640 amount=$2.00");
}

TEST_CASE("a frame over the limit gets ERROR and the connection is closed") {
  auto config = SimBank::default_config();
  config.frame_bytes_max = 100;
  SimBank bank(1, 1'745'529'640'464, config);
  REQUIRE(bank.start().ok());
  auto& c = bank.connect();
  CHECK(bank.request(c, std::string(101, 'A')) == "ERROR frame too large (the limit is 100 bytes)");
  REQUIRE(bank.run_until([&] { return c.closed; }));
  // A well-behaved client is unaffected.
  auto& d = bank.connect();
  CHECK(bank.request(d, "HEALTH") == "healthy");
}

TEST_CASE(
    "a frame of exactly the limit is served, whole or with its end arriving later, and one byte more is "
    "not") {
  auto config = SimBank::default_config();
  config.frame_bytes_max = 100;
  SimBank bank(1, 1'745'529'640'464, config);
  REQUIRE(bank.start().ok());
  // Padding is trimmed: 94 spaces and HEALTH are a 100-byte frame asking for HEALTH.
  const std::string at_limit = std::string(94, ' ') + "HEALTH";
  REQUIRE(at_limit.size() == 100);
  auto& c = bank.connect();
  CHECK(bank.request(c, at_limit) == "healthy");
  // All 100 bytes buffered and the NUL not yet there: still a frame in progress.
  c.connection->send(at_limit);
  bank.advance_ms(50);
  CHECK(c.replies.size() == 1);
  CHECK_FALSE(c.closed);
  c.connection->send(std::string(1, '\0'));
  REQUIRE(bank.run_until([&] { return c.replies.size() == 2 || c.closed; }));
  REQUIRE(c.replies.size() == 2);
  CHECK(c.replies[1] == "healthy");
  CHECK(bank.request(c, " " + at_limit) == "ERROR frame too large (the limit is 100 bytes)");
}

TEST_CASE("connections past the limit are told so and closed") {
  auto config = SimBank::default_config();
  config.connections_max = 2;
  SimBank bank(1, 1'745'529'640'464, config);
  REQUIRE(bank.start().ok());
  auto& a = bank.connect();
  auto& b = bank.connect();
  auto& c = bank.connect();
  REQUIRE(bank.run_until([&] { return c.closed; }));
  REQUIRE(c.replies.size() == 1);
  CHECK(c.replies[0] == "ERROR too many connections (the limit is 2); try again later");
  CHECK(bank.request(a, "HEALTH") == "healthy");
  CHECK(bank.request(b, "HEALTH") == "healthy");
}

TEST_CASE("an idle connection is told so and closed - an active one is not") {
  auto config = SimBank::default_config();
  config.idle_timeout_ms = 10'000;
  SimBank bank(1, 1'745'529'640'464, config);
  REQUIRE(bank.start().ok());
  auto& idle = bank.connect("idle");
  auto& active = bank.connect("active");
  for (int i = 0; i < 15; ++i) {
    CHECK(bank.request(active, "HEALTH") == "healthy");
    bank.advance_ms(2'000);
  }
  REQUIRE(idle.closed);
  REQUIRE(idle.replies.size() == 1);
  CHECK(idle.replies[0] == "ERROR idle timeout: nothing received for 10 s; closing");
  CHECK_FALSE(active.closed);
}

TEST_CASE("EXIT shuts down only when remote exit is allowed") {
  auto config = SimBank::default_config();
  config.allow_remote_exit = true;
  SimBank bank(1, 1'745'529'640'464, config);
  REQUIRE(bank.start().ok());
  bool exit_requested = false;
  bank.server->set_on_exit_requested([&] { exit_requested = true; });
  auto& c = bank.connect();
  c.send_frame("EXIT");
  REQUIRE(bank.run_until([&] { return exit_requested; }));
}

TEST_CASE("shutdown answers writes in flight before closing") {
  SimBank bank;
  REQUIRE(bank.start().ok());
  auto& c = bank.connect();
  bank.request(c, "CREATE_TRANSACTION");
  c.send_frame("42");
  // Run until the write reached the server but is not yet durable.
  REQUIRE(bank.run_until([&] { return bank.server->ledger().staged_last_id() == 1; }));
  REQUIRE(bank.server->ledger().durable_count() == 0);
  bool done = false;
  bank.server->shutdown([&] { done = true; });
  REQUIRE(bank.run_until([&] { return done && c.closed; }));
  REQUIRE(c.replies.size() == 2);
  CHECK_THAT(c.replies[1], Catch::StartsWith("id=1 "));
  CHECK(bank.server->ledger().durable_count() == 1);
}

TEST_CASE("a client that never reads cannot make the server buffer without limit") {
  auto config = SimBank::default_config();
  config.send_queue_bytes_max = 64 * 1024;
  SimBank bank(1, 1'745'529'640'464, config);
  REQUIRE(bank.start().ok());
  auto& writer = bank.connect("writer");
  for (int i = 0; i < 200; ++i) {
    bank.request(writer, "CREATE_TRANSACTION");
    bank.request(writer, "123456.78");
  }
  auto& hog = bank.connect("hog");
  hog.connection->pause_reading();
  std::string burst;
  for (int i = 0; i < 2000; ++i) bank::append_frame(burst, "LIST_TRANSACTIONS");
  hog.connection->send(burst);
  bank.run_until([] { return false; }, 200'000);
  // One LIST reply is ~9 KB: without the bound the server would have queued
  // ~18 MB. It stops handling the hog's frames once its queue passes the bound.
  CHECK(bank.network.bytes_in_flight() < 512 * 1024);
  auto& other = bank.connect("other");
  CHECK(bank.request(other, "HEALTH") == "healthy");
}

TEST_CASE(
    "a refusal that rests on a reversal still syncing waits for it, and a crash before it lands leaves the "
    "void possible") {
  SimBank bank;
  REQUIRE(bank.start().ok());
  auto& a = bank.connect("a");
  auto& b = bank.connect("b");
  bank.request(a, "CREATE_TRANSACTION");
  REQUIRE_THAT(bank.request(a, "5"), Catch::StartsWith("id=1 "));
  bank.disk.faults().slow_syncs_until_ms = bank.world.now_ms() + 10'000;
  bank.disk.faults().slow_sync_extra_ms = 500;
  a.send_frame("VOID_TRANSACTION");
  a.send_frame("1");
  bank.advance_ms(50);  // A's reversal is staged; its sync is slow.
  b.send_frame("VOID_TRANSACTION");
  b.send_frame("1");
  bank.advance_ms(100);
  // B was not told "already voided" while the reversal could still be lost.
  REQUIRE(b.replies.size() == 1);
  CHECK(b.replies[0] == "Enter the transaction ID:");
  bank.power_loss();  // Before the slow sync lands: the reversal is gone.
  bank.disk.faults() = sim::DiskFaults{};
  REQUIRE(bank.start().ok());
  auto& c = bank.connect("c");
  bank.request(c, "VOID_TRANSACTION");
  CHECK_THAT(bank.request(c, "1"), Catch::StartsWith("id=2 ") && Catch::EndsWith(" voids=1"));
}
