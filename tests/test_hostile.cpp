// The real server under fire: garbage, floods, stalls, clients that never
// read, remote EXIT, repeated kill -9 with writes in flight, and a full disk.
// Through every case a well-behaved client keeps being served.

#include <sys/mount.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "bank/journal.hpp"
#include "bank/money.hpp"
#include "support/process.hpp"

using test_support::ServerProcess;
using test_support::TcpClient;

namespace {

void require_served(const ServerProcess& server) {
  TcpClient probe(server.port());
  REQUIRE(probe.connected());
  REQUIRE(probe.request("HEALTH") == "healthy");
}

}  // namespace

TEST_CASE("hostile: binary garbage gets ERROR replies and the connection stays usable") {
  const auto dir = test_support::make_temp_dir();
  ServerProcess server(dir + "/data");
  TcpClient c(server.port());
  std::mt19937_64 random(7);  // Test input only; the server under test is real.
  std::string garbage;
  for (int i = 0; i < 4000; ++i) garbage.push_back(static_cast<char>(random() % 256));
  garbage.push_back('\0');
  const auto frames = static_cast<std::size_t>(std::count(garbage.begin(), garbage.end(), '\0'));
  REQUIRE(c.send_raw(garbage));
  std::size_t errors = 0;
  for (std::size_t i = 0; i < frames; ++i) {
    auto reply = c.read_frame();
    REQUIRE(reply.has_value());
    errors += reply->rfind("ERROR ", 0) == 0;
  }
  CHECK(errors >= frames - 2);  // Only a lucky action word could be anything else.
  CHECK(c.request("HEALTH") == "healthy");
  require_served(server);
}

TEST_CASE("hostile: under a low open-files limit a flood gets answers or clear refusals, never silence") {
#if defined(__SANITIZE_ADDRESS__)
  // The sanitizers' own checks need descriptors (UndefinedBehaviorSanitizer
  // probes memory through a pipe): a server that has run out of them gets
  // false reports. Not a pass: ctest shows this test as skipped.
  std::fprintf(stderr, "skipped: the sanitizers need the descriptors this test takes away\n");
  std::_Exit(77);
#endif
  const auto dir = test_support::make_temp_dir();
  // 128 descriptors: the server lowers its connection limit to fit (and says
  // so); a flood past what the descriptors hold is told so, not left waiting.
  ServerProcess server(dir + "/data", {}, "ulimit -n 128");
  std::vector<std::unique_ptr<TcpClient>> flood;
  for (int i = 0; i < 400; ++i) {
    flood.push_back(std::make_unique<TcpClient>(server.port()));
    REQUIRE(flood.back()->connected());
    REQUIRE(flood.back()->send_frame("HEALTH"));
  }
  std::size_t served = 0;
  std::size_t refused = 0;
  for (auto& client : flood) {
    const std::string reply = client->read_frame().value_or("<no reply>");
    if (reply == "healthy") {
      ++served;
    } else {
      INFO("reply: " << reply);
      CHECK(reply.starts_with("ERROR too many connections"));
      ++refused;
    }
  }
  CHECK(served + refused == 400);
  CHECK(served >= 1);
  CHECK(refused >= 300);
  flood.clear();
  // Once the server has seen the flood go (its closes take a moment to
  // reach it, and until then a newcomer is told it is full), new clients
  // are served.
  std::string last_reply;
  CHECK(test_support::wait_until(
      [&] {
        TcpClient later(server.port());
        last_reply = later.request("HEALTH");
        return last_reply == "healthy";
      },
      20'000));
  INFO("last reply: " << last_reply);
  for (int i = 0; i < 5; ++i) {
    TcpClient later(server.port());
    CHECK(later.request("HEALTH") == "healthy");
  }
  const std::string log = test_support::read_file(dir + "/server.log");
  CHECK_THAT(log, Catch::Contains("the open-files limit is 128"));
  CHECK_THAT(log, Catch::Contains("serving at most 96 connections"));
}

TEST_CASE("hostile: 10,000 idle connections cost a few KiB each while a client is served") {
#if defined(__SANITIZE_ADDRESS__)
  constexpr long budget_bytes_each = 32 * 1024;  // AddressSanitizer's redzones and shadow memory.
#else
  constexpr long budget_bytes_each = 8 * 1024;  // docs/SERVER.md's per-connection budget for an idle one.
#endif
  // This test holds the client side of every connection: as many as its
  // open-files limit lets it, up to 10,000.
  rlimit limit{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &limit) == 0);
  limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, 10'100);
  ::setrlimit(RLIMIT_NOFILE, &limit);
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &limit) == 0);
  const int connections = static_cast<int>(std::min<rlim_t>(10'000, limit.rlim_cur - 100));
  REQUIRE(connections >= 500);
  const auto dir = test_support::make_temp_dir();
  // Room for the idle ones and the client that is served meanwhile.
  ServerProcess server(dir + "/data", {"--max-connections", std::to_string(connections + 1)});
  TcpClient client(server.port());
  REQUIRE(client.request("HEALTH") == "healthy");
  const long before_kib = server.rss_kib();
  std::vector<std::unique_ptr<TcpClient>> idle;
  for (int i = 0; i < connections; ++i) {
    idle.push_back(std::make_unique<TcpClient>(server.port()));
    REQUIRE(idle.back()->connected());
    REQUIRE(idle.back()->send_frame("HEALTH"));
    if (i % 1000 == 999) {  // The well-behaved client is served all along.
      REQUIRE(client.request("CREATE_TRANSACTION") == "Enter the transaction amount:");
      REQUIRE(client.request("1.00").starts_with("id="));
    }
  }
  for (auto& connection : idle) REQUIRE(connection->read_frame().value_or("<no reply>") == "healthy");
  const long grown_bytes = (server.rss_kib() - before_kib) * 1024;
  INFO("RSS grew by " << grown_bytes / 1024 << " KiB for " << connections << " idle connections");
  CHECK(grown_bytes < connections * budget_bytes_each);
  CHECK(client.request("GET_BALANCE") == "$" + std::to_string(connections / 1000) + ".00");
}

TEST_CASE(
    "hostile: kill -9 under pipelined writes and reads: nothing acknowledged is lost, replies keep order") {
  const auto dir = test_support::make_temp_dir();
  std::vector<std::string> acknowledged;  // Every acknowledged line, in the order it came.
  for (int round = 0; round < 5; ++round) {
    INFO("round " << round);
    ServerProcess server(dir + "/data");
    TcpClient c(server.port());
    // 40 creates and a balance after every 8th, all in one send.
    std::string burst;
    std::vector<std::string> expected;  // What each reply must be (a prefix).
    for (int i = 0; i < 40; ++i) {
      bank::append_frame(burst, "CREATE_TRANSACTION");
      bank::append_frame(burst, std::to_string(round * 100 + i + 1) + ".00");
      expected.push_back("Enter the transaction amount:");
      expected.push_back("id=");
      if (i % 8 == 7) {
        bank::append_frame(burst, "GET_BALANCE");
        expected.push_back("$");
      }
    }
    REQUIRE(c.send_raw(burst));
    // Read part of the replies, then kill -9 with the rest in flight.
    const std::size_t read_before_kill = 11 + static_cast<std::size_t>(round) * 13;
    std::uint64_t previous_id = 0;
    for (std::size_t n = 0; n < read_before_kill; ++n) {
      const std::string reply = c.read_frame().value_or("<no reply>");
      INFO("reply " << n << ": " << reply);
      REQUIRE(reply.starts_with(expected[n]));
      if (reply.starts_with("id=")) {
        const std::uint64_t id = std::stoull(reply.substr(3));
        CHECK(id > previous_id);  // A connection's writes are acknowledged in the order sent.
        previous_id = id;
        acknowledged.push_back(reply);
      }
    }
    server.kill9();
  }
  ServerProcess server(dir + "/data");
  TcpClient c(server.port());
  const auto lines = test_support::split_lines(c.request("LIST_TRANSACTIONS"));
  const std::set<std::string> listed(lines.begin(), lines.end());
  for (const std::string& line : acknowledged) {
    INFO("acknowledged before a kill -9: " << line);
    CHECK(listed.contains(line));
  }
  bank::Money sum;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    REQUIRE(lines[i].starts_with("id=" + std::to_string(i + 1) + " "));  // Ids stay contiguous.
    sum.cents += (*bank::parse_amount(lines[i].substr(lines[i].find("amount=$") + 8))).cents;
  }
  CHECK(c.request("GET_BALANCE") == "$" + bank::format_money(sum));
}

TEST_CASE("hostile: a flood of connections past the limit is refused clearly, and the server recovers") {
  const auto dir = test_support::make_temp_dir();
  ServerProcess server(dir + "/data", {"--max-connections", "50"});
  std::vector<std::unique_ptr<TcpClient>> flood;
  for (int i = 0; i < 50; ++i) {
    flood.push_back(std::make_unique<TcpClient>(server.port()));
    REQUIRE(flood.back()->request("HEALTH") == "healthy");
  }
  std::size_t refused = 0;
  for (int i = 0; i < 150; ++i) {
    TcpClient extra(server.port());
    if (!extra.connected()) continue;
    auto reply = extra.read_frame();
    if (reply == "ERROR too many connections (the limit is 50); try again later") ++refused;
    CHECK(extra.closed_by_peer());
  }
  CHECK(refused == 150);
  CHECK(flood.front()->request("HEALTH") == "healthy");  // Those inside are still served.
  flood.clear();
  // Once the flood is gone, a new client gets in again.
  for (int attempt = 0; attempt < 100; ++attempt) {
    TcpClient probe(server.port());
    if (probe.request("HEALTH") == "healthy") return;
    std::this_thread::yield();
  }
  FAIL("no client was served after the flood closed");
}

TEST_CASE("hostile: silent clients and half-sent frames are timed out - others are served meanwhile") {
  const auto dir = test_support::make_temp_dir();
  ServerProcess server(dir + "/data", {"--idle-timeout-s", "1"});
  const auto silent_since = std::chrono::steady_clock::now();
  TcpClient silent(server.port());
  const auto half_since = std::chrono::steady_clock::now();
  TcpClient half(server.port());
  REQUIRE(half.send_raw("CREATE_TRANS"));  // No NUL: half a frame, then nothing.
  require_served(server);
  const auto ms_since = [](std::chrono::steady_clock::time_point since) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - since)
        .count();
  };
  // Closed after the idle timeout (never before it), and within a few seconds of it.
  CHECK(silent.read_frame(5'000) == "ERROR idle timeout: nothing received for 1 s; closing");
  CHECK(ms_since(silent_since) >= 1'000);
  CHECK(silent.closed_by_peer(5'000));
  CHECK(half.read_frame(5'000) == "ERROR idle timeout: nothing received for 1 s; closing");
  CHECK(ms_since(half_since) >= 1'000);
  CHECK(half.closed_by_peer(5'000));
  require_served(server);
}

TEST_CASE("hostile: a client that never reads its replies cannot grow the server's memory without bound") {
  const auto dir = test_support::make_temp_dir();
  ServerProcess server(dir + "/data");
  {
    TcpClient writer(server.port());
    std::string batch;
    for (int i = 0; i < 400; ++i) {
      batch += std::string("CREATE_TRANSACTION") + '\0' + "123456.78" + '\0';
    }
    REQUIRE(writer.send_raw(batch));
    for (int i = 0; i < 800; ++i) REQUIRE(writer.read_frame().has_value());
  }
  const long rss_before_kib = server.rss_kib();
  // Each LIST reply is ~19 KB: 20,000 of them unread would be ~380 MB if buffered.
  TcpClient hog(server.port());
  std::string burst;
  for (int i = 0; i < 20'000; ++i) burst += std::string("LIST_TRANSACTIONS") + '\0';
  std::thread sender([&] { hog.send_raw(burst); });  // Blocks once the server stops reading.
  for (int i = 0; i < 50; ++i) require_served(server);
  const long rss_after_kib = server.rss_kib();
  INFO("RSS before " << rss_before_kib << " KiB, after " << rss_after_kib << " KiB");
  // The server holds at most its send-queue limit (1 MiB) of replies for a
  // connection, plus the reply that crossed it; under AddressSanitizer freed
  // replies wait in its quarantine, so RSS also counts those.
#if defined(__SANITIZE_ADDRESS__)
  constexpr long growth_kib_max = 16 * 1024;
#else
  constexpr long growth_kib_max = 2 * 1024;
#endif
  CHECK(rss_after_kib - rss_before_kib < growth_kib_max);
  ::shutdown(hog.fd(), SHUT_RDWR);  // Unblocks the sender.
  sender.join();
  require_served(server);
}

TEST_CASE("hostile: EXIT is refused unless remote exit is enabled, then it shuts down cleanly") {
  const auto dir = test_support::make_temp_dir();
  {
    ServerProcess server(dir + "/a");
    TcpClient c(server.port());
    CHECK(c.request("EXIT") ==
          "ERROR remote shutdown is disabled (start the server with --allow-remote-exit)");
    require_served(server);
  }
  ServerProcess server(dir + "/b", {"--allow-remote-exit"});
  TcpClient c(server.port());
  REQUIRE(c.request("CREATE_TRANSACTION") == "Enter the transaction amount:");
  REQUIRE(c.request("5").rfind("id=1 ", 0) == 0);
  REQUIRE(c.send_frame("EXIT"));
  CHECK(c.closed_by_peer());
  CHECK(server.wait() == 0);
  ServerProcess again(dir + "/b");
  TcpClient d(again.port());
  CHECK(d.request("GET_BALANCE") == "$5.00");
}

// 20 kill -9s at random moments while writers create and void with keys and
// retry the same key after every lost reply.
TEST_CASE("hostile: kill -9 twenty times under concurrent creates and voids") {
  const auto dir = test_support::make_temp_dir();
  constexpr int writers = 6;
  std::map<std::string, std::string> acknowledged;  // key -> reply line
  std::map<std::string, std::string> requests;      // key -> the argument frame
  std::mutex mutex;
  std::mt19937_64 random(2026);
  // Each writer's current request survives kills: it is retried with its key.
  std::vector<std::pair<std::string, std::string>> in_flight(writers);  // (action, argument)
  std::vector<int> sequence(writers, 0);
  for (int round = 0; round < 20; ++round) {
    INFO("round " << round);
    ServerProcess server(dir + "/data");
    std::atomic<int> acked{0};
    std::atomic<int> writers_stopped{0};
    std::vector<std::string> unexpected;  // Replies other than the protocol's or a dead server's.
    const int kill_after = 10 + static_cast<int>(random() % 60);
    std::vector<std::thread> threads;
    for (int w = 0; w < writers; ++w) {
      threads.emplace_back([&, w] {
        TcpClient c(server.port());
        std::mt19937_64 local(static_cast<std::uint64_t>(round * 100 + w));
        for (;;) {
          if (in_flight[w].first.empty()) {
            const std::string key = "w" + std::to_string(w) + "-" + std::to_string(sequence[w]++);
            std::lock_guard lock(mutex);
            if (local() % 3 == 0 && !acknowledged.empty()) {
              auto it = acknowledged.begin();
              std::advance(it, static_cast<long>(local() % acknowledged.size()));
              const std::string id = it->second.substr(3, it->second.find(' ') - 3);
              in_flight[w] = {"VOID_TRANSACTION", id + " key=" + key};
            } else {
              in_flight[w] = {
                  "CREATE_TRANSACTION",
                  bank::format_money(bank::Money{static_cast<std::int64_t>(local() % 100000) - 50000}) +
                      " key=" + key};
            }
            requests[key] = in_flight[w].second;
          }
          const auto& [action, argument] = in_flight[w];
          const std::string prompt = c.request(action);
          const bool prompted = prompt.rfind("Enter the transaction", 0) == 0;
          const std::string reply = prompted ? c.request(argument) : prompt;
          if (!prompted || test_support::server_gone(reply)) {  // Killed: retry next round.
            std::lock_guard lock(mutex);
            if (!test_support::server_gone(reply)) unexpected.push_back(action + ": " + reply);
            ++writers_stopped;
            return;
          }
          const std::string key = argument.substr(argument.find("key=") + 4);
          std::lock_guard lock(mutex);
          if (reply.rfind("id=", 0) == 0) {
            if (acknowledged.contains(key))
              CHECK(acknowledged[key] == reply);  // A retry returns the first line.
            acknowledged[key] = reply;
            ++acked;
          }
          in_flight[w] = {};
        }
      });
    }
    const bool under_way = test_support::wait_until(
        [&] { return acked.load() >= kill_after || writers_stopped.load() == writers; });
    server.kill9();
    for (auto& t : threads) t.join();
    INFO("acknowledged this round: " << acked.load() << " of " << kill_after << "; first unexpected reply: "
                                     << (unexpected.empty() ? "none" : unexpected.front()));
    REQUIRE(under_way);
    REQUIRE(unexpected.empty());
    REQUIRE(acked.load() >= kill_after);
  }
  ServerProcess server(dir + "/data");
  TcpClient c(server.port());
  const auto lines = test_support::split_lines(c.request("LIST_TRANSACTIONS"));
  std::set<std::string> present(lines.begin(), lines.end());
  std::int64_t sum = 0;
  std::map<std::string, int> voids_of;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    REQUIRE(lines[i].rfind("id=" + std::to_string(i + 1) + " ", 0) == 0);  // Contiguous.
    const auto amount = lines[i].substr(lines[i].find("amount=$") + 8);
    sum += bank::parse_amount(amount.substr(0, amount.find(' ')))->cents;
    if (auto v = lines[i].find(" voids="); v != std::string::npos)
      CHECK(++voids_of[lines[i].substr(v + 7)] == 1);
  }
  CHECK(c.request("GET_BALANCE") == "$" + bank::format_money(bank::Money{sum}));
  for (const auto& [key, line] : acknowledged) {
    INFO("acknowledged " << key);
    CHECK(present.contains(line));
  }
  // Every key retried once more: acknowledged ones return their line, and
  // nothing is applied twice.
  const std::size_t before = lines.size();
  std::size_t applied_now = 0;
  for (const auto& [key, argument] : requests) {
    const bool is_void = argument.find('.') == std::string::npos;
    REQUIRE(c.request(is_void ? "VOID_TRANSACTION" : "CREATE_TRANSACTION").rfind("Enter", 0) == 0);
    const std::string reply = c.request(argument);
    if (acknowledged.contains(key)) CHECK(reply == acknowledged[key]);
    if (reply.rfind("id=", 0) == 0 && !present.contains(reply)) ++applied_now;
  }
  CHECK(test_support::split_lines(c.request("LIST_TRANSACTIONS")).size() == before + applied_now);
  CHECK(acknowledged.size() > 200);
}

// A tiny filesystem, filled up: writes get ERROR, reads keep working, nothing
// acknowledged is lost; with space back and a restart, writes work again.
TEST_CASE("hostile: a full disk refuses writes, keeps reads, loses nothing, and recovers after a restart") {
  if (::geteuid() != 0) {
    // Not a pass: ctest shows this test as skipped (SKIP_RETURN_CODE 77).
    std::fprintf(stderr, "skipped: needs root to mount a small tmpfs\n");
    std::fflush(stderr);
    std::_Exit(77);
  }
  const auto dir = test_support::make_temp_dir();
  const std::string mount_point = dir + "/small";
  std::filesystem::create_directories(mount_point);
  REQUIRE(::mount("tmpfs", mount_point.c_str(), "tmpfs", 0, "size=64k") == 0);
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{mount_point};

  std::vector<std::string> acknowledged;
  std::string balance;
  {
    ServerProcess server(mount_point + "/data");
    TcpClient c(server.port());
    std::string error;
    for (int i = 0; i < 5000 && error.empty(); ++i) {
      REQUIRE(c.request("CREATE_TRANSACTION") == "Enter the transaction amount:");
      const std::string reply = c.request("1.00 key=k" + std::to_string(i));
      if (reply.rfind("id=", 0) == 0) {
        acknowledged.push_back(reply);
      } else {
        error = reply;
      }
    }
    REQUIRE_FALSE(error.empty());
    CHECK_THAT(error, Catch::StartsWith("ERROR journal append failed (ENOSPC"));
    CHECK(acknowledged.size() > 100);
    // Reads keep working, and further writes are refused with a reason.
    CHECK(c.request("HEALTH") == "healthy");
    balance = c.request("GET_BALANCE");
    CHECK(balance ==
          "$" + bank::format_money(bank::Money{static_cast<std::int64_t>(acknowledged.size()) * 100}));
    REQUIRE(c.request("CREATE_TRANSACTION") == "Enter the transaction amount:");
    CHECK_THAT(c.request("2.00"), Catch::StartsWith("ERROR writes are disabled after a disk failure"));
    const auto list = test_support::split_lines(c.request("LIST_TRANSACTIONS"));
    CHECK(list == acknowledged);
    CHECK(server.terminate() == 0);
  }
  REQUIRE(::mount("tmpfs", mount_point.c_str(), "tmpfs", MS_REMOUNT, "size=4m") == 0);
  ServerProcess server(mount_point + "/data");
  TcpClient c(server.port());
  const auto list = test_support::split_lines(c.request("LIST_TRANSACTIONS"));
  REQUIRE(list.size() >= acknowledged.size());
  for (std::size_t i = 0; i < acknowledged.size(); ++i) CHECK(list[i] == acknowledged[i]);
  REQUIRE(c.request("CREATE_TRANSACTION") == "Enter the transaction amount:");
  CHECK(c.request("3.00").rfind("id=", 0) == 0);
}

// The real binary's commit path, watched from outside: an LD_PRELOAD shim
// records the journal's writes and fdatasyncs and every send, in order, and
// injects a failing or a stuck fdatasync.
namespace {
std::string shim_setup(const std::string& log_path, const std::string& injection) {
  return "export LD_PRELOAD=" DST_DEMO_IO_SHIM_PATH " BANK_SHIM_LOG=" + log_path +
         " ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" +
         (injection.empty() ? "" : " " + injection);
}
}  // namespace

TEST_CASE(
    "hostile: the real server answers a write only after an fdatasync covers its record, pipelined or not") {
  const auto dir = test_support::make_temp_dir();
  const std::string log_path = dir + "/io.log";
  ServerProcess server(dir + "/data", {}, shim_setup(log_path, ""));
  TcpClient a(server.port());
  TcpClient b(server.port());
  // Two clients pipeline 32 creates each in one send; then one at a time.
  std::string burst;
  for (int i = 1; i <= 32; ++i) {
    bank::append_frame(burst, "CREATE_TRANSACTION");
    bank::append_frame(burst, std::to_string(i) + ".00");
  }
  REQUIRE(a.send_raw(burst));
  REQUIRE(b.send_raw(burst));
  int acks = 0;
  for (TcpClient* client : {&a, &b}) {
    for (int i = 0; i < 64; ++i) acks += client->read_frame().value_or("").starts_with("id=");
  }
  for (int i = 0; i < 8; ++i) {
    REQUIRE(a.request("CREATE_TRANSACTION") == "Enter the transaction amount:");
    acks += a.request("1.00").starts_with("id=");
  }
  REQUIRE(acks == 72);
  // Where each record ends in the journal.
  const std::string journal = test_support::read_file(dir + "/data/bank.journal");
  std::map<std::uint64_t, std::size_t> record_end;
  // The file runs on in zeros set aside for later appends (see posix_disk.hpp).
  for (std::size_t at = 0; at < journal.size() && journal[at] != '\0';) {
    const auto record = bank::decode_record(std::string_view(journal).substr(at));
    REQUIRE(record.outcome == bank::DecodeOutcome::ok);
    at += record.record_bytes;
    record_end[record.transaction.id] = at;
  }
  REQUIRE(record_end.size() == 72);
  // Replay the log: every acknowledgement must come after a sync that covers its record.
  std::vector<std::size_t> written_through;  // Journal bytes after each write.
  std::size_t synced = 0;
  int checked = 0;
  int syncs = 0;
  std::istringstream lines(test_support::read_file(log_path));
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("W ")) {
      written_through.push_back((written_through.empty() ? 0 : written_through.back()) +
                                std::stoul(line.substr(2)));
    } else if (line.starts_with("S ")) {
      const std::size_t writes = std::stoul(line.substr(2));
      REQUIRE(writes <= written_through.size());
      synced = writes == 0 ? 0 : written_through[writes - 1];
      ++syncs;
    } else if (line.starts_with("R ")) {
      std::istringstream frames(line.substr(line.find(' ', 2) + 1));
      for (std::string frame; std::getline(frames, frame, '|');) {
        if (!frame.starts_with("id=")) continue;
        const std::uint64_t id = std::stoull(frame.substr(3));
        INFO("the acknowledgement `" << frame << "` was sent with " << synced
                                     << " journal bytes synced; its record ends at " << record_end[id]);
        CHECK(record_end[id] <= synced);
        ++checked;
      }
    }
  }
  CHECK(checked == 72);
  // Pipelining shares syncs: far fewer than one per write.
  INFO(syncs << " fdatasyncs for 72 writes");
  CHECK(syncs < 72);
}

TEST_CASE(
    "hostile: an fdatasync failing with EIO gives ERROR replies, disables writes and keeps reads (real "
    "binary)") {
  const auto dir = test_support::make_temp_dir();
  ServerProcess server(dir + "/data", {}, shim_setup(dir + "/io.log", "BANK_SHIM_FAIL_SYNC_AFTER_WRITES=2"));
  TcpClient c(server.port());
  for (int i = 0; i < 2; ++i) {
    REQUIRE(c.request("CREATE_TRANSACTION") == "Enter the transaction amount:");
    CHECK(c.request("5.00").starts_with("id="));
  }
  REQUIRE(c.request("CREATE_TRANSACTION") == "Enter the transaction amount:");
  CHECK_THAT(c.request("7.00"), Catch::StartsWith("ERROR journal sync failed") && Catch::Contains("unknown"));
  REQUIRE(c.request("CREATE_TRANSACTION") == "Enter the transaction amount:");
  CHECK_THAT(c.request("8.00"), Catch::StartsWith("ERROR writes are disabled"));
  CHECK(c.request("GET_BALANCE") == "$10.00");
  CHECK(test_support::split_lines(c.request("LIST_TRANSACTIONS")).size() == 2);
}

// The commit path's two ways, seen from outside: a client that writes one
// create at a time leaves the loop idle while each syncs, so the loop syncs it
// itself (no hand-off to the disk thread and back), at least until a batch is
// slow (the first one also grows the journal by 4 MiB of zeros, so on a slow
// disk the next may go to the thread); the shutdown log says where each ran.
TEST_CASE("hostile: lone writes are synced on the loop, as the shutdown log counts (real binary)") {
  const auto dir = test_support::make_temp_dir();
  ServerProcess server(dir + "/data");
  TcpClient c(server.port());
  for (int i = 1; i <= 5; ++i) {
    REQUIRE(c.request("CREATE_TRANSACTION") == "Enter the transaction amount:");
    REQUIRE(c.request(std::to_string(i) + ".00").starts_with("id=" + std::to_string(i) + " "));
  }
  ::kill(server.pid(), SIGTERM);
  const auto code = server.wait_for(30'000);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  const std::string log = test_support::read_file(dir + "/server.log");
  std::smatch counts;
  REQUIRE(std::regex_search(log, counts,
                            std::regex(R"(disk batches: (\d+) on the loop, (\d+) on the disk thread)")));
  INFO(counts[0].str());
  CHECK(std::stoi(counts[1].str()) >= 1);  // The first create's append and sync, at least.
  CHECK(std::stoi(counts[1].str()) + std::stoi(counts[2].str()) >= 5);
}

// The commit path syncs on the loop while it is idle (as Redis does); a slow
// disk must send the syncs to the disk thread, so that the loop goes on
// serving reads while one hangs.
TEST_CASE("hostile: after one slow sync, a sync that never returns leaves reads served (real binary)") {
  const auto dir = test_support::make_temp_dir();
  ServerProcess server(
      dir + "/data", {},
      shim_setup(dir + "/io.log", "BANK_SHIM_SLOW_SYNC_MS=50 BANK_SHIM_HANG_SYNC_AFTER_WRITES=1"));
  TcpClient writer(server.port());
  TcpClient reader(server.port());
  REQUIRE(writer.request("CREATE_TRANSACTION") == "Enter the transaction amount:");
  REQUIRE(writer.request("1.00").starts_with("id=1 "));  // Synced in 50 ms: the disk is slow.
  REQUIRE(writer.request("CREATE_TRANSACTION") == "Enter the transaction amount:");
  REQUIRE(writer.send_frame("2.00"));  // Its sync never returns.
  REQUIRE(test_support::wait_until(
      [&] { return test_support::read_file(dir + "/io.log").find("\nH ") != std::string::npos; }, 20'000));
  INFO("reads must not wait for a disk that does not answer");
  CHECK(reader.request("HEALTH") == "healthy");
  CHECK(reader.request("GET_BALANCE") == "$1.00");
  CHECK(writer.read_frame(200) == std::nullopt);  // Never acknowledged.
  ::kill(server.pid(), SIGTERM);
  const auto code = server.wait_for(30'000);
  REQUIRE(code.has_value());
  CHECK(*code == 1);
}

TEST_CASE(
    "hostile: SIGTERM with the disk stuck in fdatasync exits within its bounds, acknowledging nothing "
    "unsynced") {
  const auto dir = test_support::make_temp_dir();
  ServerProcess server(dir + "/data", {}, shim_setup(dir + "/io.log", "BANK_SHIM_HANG_SYNC_AFTER_WRITES=1"));
  TcpClient c(server.port());
  REQUIRE(c.request("CREATE_TRANSACTION") == "Enter the transaction amount:");
  REQUIRE(c.request("1.00").starts_with("id=1 "));
  REQUIRE(c.request("CREATE_TRANSACTION") == "Enter the transaction amount:");
  REQUIRE(c.send_frame("2.00"));  // Its sync never returns.
  REQUIRE(test_support::wait_until(
      [&] { return test_support::read_file(dir + "/io.log").find("\nH ") != std::string::npos; }, 20'000));
  ::kill(server.pid(), SIGTERM);
  // The shutdown grace (5 s) and the bound on the disk worker (2 s), with room.
  const auto code = server.wait_for(30'000);
  REQUIRE(code.has_value());
  CHECK(*code == 1);
  CHECK(c.read_frame(1'000) == std::nullopt);  // Never acknowledged; the connection is gone.
  CHECK_THAT(test_support::read_file(dir + "/server.log"),
             Catch::Contains("the disk did not finish a sync within the shutdown bound"));
}
