// The real dst_demo_server binary over real TCP: the protocol byte for byte,
// restarts, and kill -9 with writes in flight.

#include <sys/socket.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include "bank/journal.hpp"
#include "bank/money.hpp"
#include "support/process.hpp"

using test_support::ServerProcess;
using test_support::TcpClient;

namespace {

struct Line {
  std::uint64_t id;
  std::int64_t cents;
  std::string text;
};

std::vector<Line> parse_list(const std::string& list) {
  std::vector<Line> lines;
  static const std::regex pattern(R"(id=(\d+) created_at=(\d+) amount=\$(-?\d+\.\d\d)( voids=\d+)?)");
  for (const std::string& text : test_support::split_lines(list)) {
    std::smatch match;
    REQUIRE(std::regex_match(text, match, pattern));
    lines.push_back(Line{std::stoull(match[1]), bank::parse_amount(match[3].str())->cents, text});
  }
  return lines;
}

}  // namespace

TEST_CASE("process: the protocol byte for byte over TCP") {
  const auto dir = test_support::make_temp_dir();
  ServerProcess server(dir + "/data");
  TcpClient c(server.port());
  REQUIRE(c.connected());
  // A client of the original sends the argument without waiting for the prompt.
  REQUIRE(c.send_raw(std::string("HEALTH") + '\0' + "CREATE_TRANSACTION" + '\0' + "12.50" + '\0'));
  CHECK(c.read_frame() == "healthy");
  CHECK(c.read_frame() == "Enter the transaction amount:");
  const auto created = c.read_frame();
  REQUIRE(created.has_value());
  CHECK(std::regex_match(*created, std::regex(R"(id=1 created_at=\d{10} amount=\$12\.50)")));
  CHECK(c.request("GET_BALANCE") == "$12.50");
  CHECK(c.request("GET_TRANSACTION") == "Enter the transaction ID:");
  CHECK(c.request("1") == *created);
  CHECK(c.request("GET_TRANSACTION") == "Enter the transaction ID:");
  CHECK(c.request("2") == "Transaction not found");
  CHECK(c.request("VOID_TRANSACTION") == "Enter the transaction ID:");
  const std::string reversal = c.request("1");
  CHECK(std::regex_match(reversal, std::regex(R"(id=2 created_at=\d{10} amount=\$-12\.50 voids=1)")));
  CHECK(c.request("LIST_TRANSACTIONS") == *created + "\n" + reversal);
  CHECK(c.request("GET_BALANCE") == "$0.00");
  CHECK(
      c.request("FOO") ==
      "ERROR unknown action 'FOO'; expected HEALTH, LIST_TRANSACTIONS, GET_TRANSACTION, CREATE_TRANSACTION, "
      "VOID_TRANSACTION, GET_BALANCE, CLOSE or EXIT");
  CHECK(c.request("CREATE_TRANSACTION") == "Enter the transaction amount:");
  CHECK(c.request("1.234") == "ERROR amount must have at most 2 decimals: '1.234'");
  CHECK(c.request("VOID_TRANSACTION") == "Enter the transaction ID:");
  CHECK(c.request("1") == "ERROR transaction 1 is already voided by transaction 2");
  CHECK(c.request("EXIT") == "ERROR remote shutdown is disabled (start the server with --allow-remote-exit)");
  CHECK(c.request("  HEALTH\r\n") == "healthy");
  REQUIRE(c.send_frame("CLOSE"));
  CHECK(c.closed_by_peer());
}

TEST_CASE("process: an oversized frame gets ERROR, the connection closes, the server stays up") {
  const auto dir = test_support::make_temp_dir();
  ServerProcess server(dir + "/data", {"--max-frame-bytes", "1024"});
  TcpClient c(server.port());
  REQUIRE(c.send_raw(std::string(5000, 'x')));
  CHECK(c.read_frame() == "ERROR frame too large (the limit is 1024 bytes)");
  CHECK(c.closed_by_peer());
  TcpClient d(server.port());
  CHECK(d.request("HEALTH") == "healthy");
}

namespace {

// Starts a server on dir/data, records `count` keyed creates (the i-th of
// i dollars and `cents`), stops it with SIGTERM and returns its LIST.
std::string created_then_stopped(const std::string& dir, int count, const std::string& cents) {
  ServerProcess server(dir + "/data");
  TcpClient c(server.port());
  for (int i = 1; i <= count; ++i) {
    REQUIRE(c.request("CREATE_TRANSACTION") == "Enter the transaction amount:");
    REQUIRE(c.request(std::to_string(i) + "." + cents + " key=k" + std::to_string(i)).rfind("id=", 0) == 0);
  }
  std::string list = c.request("LIST_TRANSACTIONS");
  CHECK(server.terminate() == 0);
  return list;
}

}  // namespace

TEST_CASE("process: a restart finds everything, and SIGTERM exits cleanly") {
  const auto dir = test_support::make_temp_dir();
  const std::string list_before = created_then_stopped(dir, 25, "01");
  // The server grows its journal ahead of its appends with zeros; a clean stop
  // leaves the records alone, each one whole, and nothing after them.
  const std::string journal = test_support::read_file(dir + "/data/bank.journal");
  std::size_t records = 0;
  std::size_t at = 0;
  while (at < journal.size()) {
    const auto record = bank::decode_record(std::string_view(journal).substr(at));
    INFO("record " << records + 1 << " at offset " << at << " of " << journal.size());
    REQUIRE(record.outcome == bank::DecodeOutcome::ok);
    at += record.record_bytes;
    ++records;
  }
  CHECK(records == 25);
  ServerProcess server(dir + "/data");
  TcpClient c(server.port());
  CHECK(c.request("LIST_TRANSACTIONS") == list_before);
  CHECK(c.request("GET_BALANCE") == "$325.25");
  CHECK(c.request("CREATE_TRANSACTION") == "Enter the transaction amount:");
  CHECK(c.request("1.01 key=k1") == list_before.substr(0, list_before.find('\n')));
}

// What a power loss mid-append leaves behind the real server's journal: the
// records synced, part of the next one, then the zeros the server had set
// aside ahead of its appends. The torn record was never acknowledged: the
// server cuts it and starts, serving every whole record.
TEST_CASE("process: a journal whose last record was torn into the zeros set aside for appends starts, cut") {
  const auto dir = test_support::make_temp_dir();
  const std::string list_before = created_then_stopped(dir, 3, "00");
  const std::string path = dir + "/data/bank.journal";
  std::string torn;
  bank::encode_record(torn, bank::Transaction{4, 1'745'529'640, bank::Money{400}, 0, "k4"});
  std::string journal = test_support::read_file(path);
  journal += torn.substr(0, torn.size() - 20);  // Its payload's end and its trailer never reached the disk.
  journal += std::string(4 << 20, '\0');
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << journal;
  }
  ServerProcess server(dir + "/data");
  TcpClient c(server.port());
  CHECK(c.request("LIST_TRANSACTIONS") == list_before);
  CHECK(c.request("GET_BALANCE") == "$6.00");
  CHECK(c.request("CREATE_TRANSACTION") == "Enter the transaction amount:");
  CHECK(c.request("4.00 key=k4").rfind("id=4 ", 0) == 0);
}

TEST_CASE("process: a client that sends its requests and shuts its side gets every reply, then EOF") {
  const auto dir = test_support::make_temp_dir();
  ServerProcess server(dir + "/data");
  TcpClient c(server.port());
  std::string burst;
  for (const char* frame : {"CREATE_TRANSACTION", "12.50", "CREATE_TRANSACTION", "1.50", "GET_BALANCE"})
    bank::append_frame(burst, frame);
  REQUIRE(c.send_raw(burst));
  REQUIRE(::shutdown(c.fd(), SHUT_WR) == 0);  // As `printf ... | nc` does when its input ends.
  CHECK(c.read_frame() == "Enter the transaction amount:");
  CHECK(c.read_frame().value_or("<none>").starts_with("id=1 "));
  CHECK(c.read_frame() == "Enter the transaction amount:");
  CHECK(c.read_frame().value_or("<none>").starts_with("id=2 "));
  CHECK(c.read_frame() == "$14.00");
  CHECK(c.closed_by_peer());
  TcpClient after(server.port());
  CHECK(after.request("GET_BALANCE") == "$14.00");
}

TEST_CASE("process: a second server on the same data dir refuses to start") {
  const auto dir = test_support::make_temp_dir();
  ServerProcess first(dir + "/data");
  const auto spawned = test_support::spawn(
      {DST_DEMO_SERVER_PATH, "--port", "0", "--addr", "127.0.0.1", "--data-dir", dir + "/data"},
      dir + "/second.log");
  ::close(spawned.stdout_fd);
  CHECK(test_support::wait_exit(spawned.pid) == 1);
  const std::string text = test_support::read_file(dir + "/second.log");
  CHECK_THAT(text, Catch::Contains("another server is using this data directory"));
}

TEST_CASE("process: kill -9 with writes in flight loses nothing acknowledged and applies nothing twice") {
  const auto dir = test_support::make_temp_dir();
  constexpr int writers = 8;
  constexpr int rounds = 3;
  std::map<std::string, std::string> acknowledged;  // key -> line
  std::mutex mutex;
  std::set<std::string> keys_tried;
  for (int round = 0; round < rounds; ++round) {
    INFO("round " << round);
    ServerProcess server(dir + "/data");
    std::atomic<int> acked_this_round{0};
    std::atomic<int> writers_stopped{0};
    std::vector<std::string> unexpected;  // Replies other than the protocol's or a dead server's.
    std::vector<std::thread> threads;
    for (int w = 0; w < writers; ++w) {
      threads.emplace_back([&, w] {
        TcpClient c(server.port());
        for (int i = 0;; ++i) {
          const std::string key =
              "r" + std::to_string(round) + "w" + std::to_string(w) + "i" + std::to_string(i);
          {
            std::lock_guard lock(mutex);
            keys_tried.insert(key);
          }
          const std::string prompt = c.request("CREATE_TRANSACTION");
          const std::string reply =
              prompt == "Enter the transaction amount:" ? c.request("1.00 key=" + key) : prompt;
          if (reply.rfind("id=", 0) != 0) {
            std::lock_guard lock(mutex);
            if (!test_support::server_gone(reply)) unexpected.push_back(key + ": " + reply);
            ++writers_stopped;
            return;
          }
          std::lock_guard lock(mutex);
          acknowledged[key] = reply;
          ++acked_this_round;
        }
      });
    }
    // Kill once the writers are well under way, with requests in flight.
    const bool under_way = test_support::wait_until(
        [&] { return acked_this_round.load() >= 200 || writers_stopped.load() == writers; });
    server.kill9();
    for (auto& t : threads) t.join();
    INFO("acknowledged this round: " << acked_this_round.load() << "; first unexpected reply: "
                                     << (unexpected.empty() ? "none" : unexpected.front()));
    REQUIRE(under_way);
    REQUIRE(unexpected.empty());
    REQUIRE(acked_this_round.load() >= 200);
  }
  ServerProcess server(dir + "/data");
  TcpClient c(server.port());
  const auto lines = parse_list(c.request("LIST_TRANSACTIONS"));
  std::int64_t sum = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    CHECK(lines[i].id == i + 1);  // Contiguous.
    sum += lines[i].cents;
  }
  CHECK(c.request("GET_BALANCE") == "$" + bank::format_money(bank::Money{sum}));
  std::set<std::string> present;
  for (const auto& l : lines) present.insert(l.text);
  for (const auto& [key, line] : acknowledged) {
    INFO("acknowledged " << key << ": " << line);
    CHECK(present.contains(line));
  }
  // Retrying every key ever tried returns the recorded line and applies nothing.
  std::size_t retried_present = 0;
  for (const auto& key : keys_tried) {
    REQUIRE(c.request("CREATE_TRANSACTION") == "Enter the transaction amount:");
    const std::string reply = c.request("1.00 key=" + key);
    REQUIRE(reply.rfind("id=", 0) == 0);
    if (acknowledged.contains(key)) CHECK(reply == acknowledged[key]);
    if (present.contains(reply)) ++retried_present;
  }
  CHECK(retried_present >= acknowledged.size());
  const auto after = parse_list(c.request("LIST_TRANSACTIONS"));
  CHECK(after.size() == lines.size() + (keys_tried.size() - retried_present));
}

TEST_CASE("process: the client works from a pipe and fails clearly when refused") {
  const auto dir = test_support::make_temp_dir();
  ServerProcess server(dir + "/data");
  auto spawned = test_support::spawn({DST_DEMO_CLIENT_PATH, "127.0.0.1:" + std::to_string(server.port())},
                                     dir + "/client.log", true);
  const std::string script = "HEALTH\nCREATE_TRANSACTION\n4.20\nGET_BALANCE\nCLOSE\n";
  REQUIRE(test_support::write_all(spawned.stdin_fd, script));
  ::close(spawned.stdin_fd);
  const std::string out = test_support::read_all(spawned.stdout_fd);
  ::close(spawned.stdout_fd);
  CHECK(test_support::wait_exit(spawned.pid) == 0);
  CHECK(std::regex_match(
      out,
      std::regex(
          "healthy\nEnter the transaction amount:\nid=1 created_at=\\d+ amount=\\$4\\.20\n\\$4\\.20\n")));

  server.kill9();
  auto refused = test_support::spawn({DST_DEMO_CLIENT_PATH, "127.0.0.1:" + std::to_string(server.port())},
                                     dir + "/refused.log", true);
  ::close(refused.stdin_fd);
  test_support::read_all(refused.stdout_fd);
  ::close(refused.stdout_fd);
  CHECK(test_support::wait_exit(refused.pid) == 1);
  const std::string text = test_support::read_file(dir + "/refused.log");
  CHECK_THAT(text, Catch::Contains("cannot connect to 127.0.0.1:") && Catch::Contains("refused"));
}

// After an idle timeout the server says so and closes. The client shows that
// notice when it arrives, as what it is (not as the reply to the next line,
// nor only once the next line is typed), and exits 1 with its input still open.
TEST_CASE("process: the client reports an idle timeout when it comes, and exits 1") {
  const auto dir = test_support::make_temp_dir();
  ServerProcess server(dir + "/data", {"--idle-timeout-s", "1", "--log-level", "debug"});
  auto spawned = test_support::spawn({DST_DEMO_CLIENT_PATH, "127.0.0.1:" + std::to_string(server.port())},
                                     dir + "/client.log", true);
  const std::string first = "HEALTH\n";
  REQUIRE(test_support::write_all(spawned.stdin_fd, first));
  CHECK(test_support::read_line(spawned.stdout_fd) == std::optional<std::string>("healthy"));
  // Nothing more is typed, and the input stays open: the client must notice
  // the server's notice and close by itself.
  const bool told = test_support::wait_until(
      [&] {
        return test_support::read_file(dir + "/client.log").find("connection closed by the server") !=
               std::string::npos;
      },
      20'000);
  ::close(spawned.stdin_fd);  // Lets a client that waits for a line end (and fail the check below).
  const std::string rest = test_support::read_all(spawned.stdout_fd);
  ::close(spawned.stdout_fd);
  CHECK(test_support::wait_exit(spawned.pid) == 1);
  const std::string text = test_support::read_file(dir + "/client.log");
  INFO("the client's stderr: " << text);
  CHECK(told);
  CHECK(rest.empty());  // The notice is not printed as a reply.
  CHECK_THAT(text, Catch::Contains("the server said, unasked: ERROR idle timeout"));
}

// Usage errors exit 2 and name what the user typed.
TEST_CASE("process: bad ports are refused with exit 2, naming the flag or variable typed") {
  const auto wrapped =
      test_support::run_shell(std::string(DST_DEMO_CLIENT_PATH) + " 127.0.0.1:99999 </dev/null");
  CHECK(wrapped.exit_code == 2);
  CHECK_THAT(wrapped.out, Catch::Contains("the port '99999' is not a port from 1 to 65535"));
  const auto from_env = test_support::run_shell("PORT=70000 " + std::string(DST_DEMO_SERVER_PATH));
  CHECK(from_env.exit_code == 2);
  CHECK_THAT(from_env.out, Catch::Contains("PORT=70000"));
  CHECK_THAT(from_env.out, Catch::Contains("not in range 0 to 65535"));
  const auto from_flag = test_support::run_shell(std::string(DST_DEMO_SERVER_PATH) + " --port 70000");
  CHECK(from_flag.exit_code == 2);
  CHECK_THAT(from_flag.out, Catch::Contains("--port: Value 70000 not in range"));
  const auto unknown = test_support::run_shell(std::string(DST_DEMO_CLIENT_PATH) + " --bogus");
  CHECK(unknown.exit_code == 2);
  for (const char* binary : {DST_DEMO_SERVER_PATH, DST_DEMO_CLIENT_PATH}) {
    const auto help = test_support::run_shell(std::string(binary) + " --help");
    CHECK(help.exit_code == 0);
    CHECK_THAT(help.out, Catch::Contains("2 a usage error"));
  }
}

TEST_CASE("process: --help documents every setting") {
  const auto dir = test_support::make_temp_dir();
  auto spawned = test_support::spawn({DST_DEMO_SERVER_PATH, "--help"}, dir + "/help.log");
  const std::string help = test_support::read_all(spawned.stdout_fd);
  ::close(spawned.stdout_fd);
  CHECK(test_support::wait_exit(spawned.pid) == 0);
  for (const char* word : {"--port", "PORT", "--addr", "ADDR", "--data-dir", "DATA_DIR", "--log-level",
                           "RUST_LOG", "--max-connections", "--idle-timeout-s", "--max-frame-bytes",
                           "--group-commit-hold-ms", "--allow-remote-exit"}) {
    CHECK_THAT(help, Catch::Contains(word));
  }
  // A value out of its range is a usage error that names the flag.
  const auto too_long = test_support::run_shell(std::string(DST_DEMO_SERVER_PATH) +
                                                " --group-commit-hold-ms 5000 --data-dir " + dir + "/data");
  CHECK(too_long.exit_code == 2);
  CHECK_THAT(too_long.out, Catch::Contains("--group-commit-hold-ms"));
}
