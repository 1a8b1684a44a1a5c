#pragma once
// A BankServer on a simulated world, and clients that talk to it, for tests
// that need the whole server but no real I/O.

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "bank/bank_server.hpp"
#include "sim/sim_disk.hpp"
#include "sim/sim_host_env.hpp"
#include "sim/sim_network.hpp"
#include "sim/world.hpp"

namespace test_support {

class CapturingLogger final : public bank::Logger {
 public:
  CapturingLogger() : Logger(bank::LogLevel::debug) {}
  std::vector<std::string> lines;

 protected:
  void write(bank::LogLevel, std::string_view message) override { lines.emplace_back(message); }
};

class TestClient final : public bank::ConnectionHandler {
 public:
  std::unique_ptr<bank::Connection> connection;
  bank::FrameDecoder decoder{1 << 26};
  std::deque<std::string> replies;
  bool closed = false;
  bool input_ended = false;  // The server shut its sending side (it never does: it closes).
  bank::CloseReason close_reason = bank::CloseReason::local_close;
  std::string connect_error;

  void on_data(std::string_view bytes) override {
    decoder.feed(bytes);
    for (;;) {
      auto next = decoder.next();
      if (next.status != bank::FrameDecoder::Status::frame) break;
      replies.emplace_back(next.frame);
    }
  }
  void on_sent() override {}
  void on_input_ended() override { input_ended = true; }
  void on_closed(bank::CloseReason reason) override {
    closed = true;
    close_reason = reason;
  }
  void send_frame(std::string_view payload) {
    std::string bytes;
    bank::append_frame(bytes, payload);
    connection->send(bytes);
  }
};

class SimBank {
 public:
  explicit SimBank(std::uint64_t seed = 1, std::int64_t start_ms = 1'745'529'640'464,
                   bank::BankServerConfig config = default_config(), sim::NetworkConfig network_config = {},
                   sim::DiskConfig disk_config = {})
      : world(seed, start_ms, 1),
        network(world, network_config),
        disk(world, disk_config),
        clock(world),
        timers(world),
        config_(std::move(config)) {}

  ~SimBank() {
    clients.clear();
    server.reset();
  }

  static bank::BankServerConfig default_config() {
    bank::BankServerConfig config;
    config.port = 3000;
    return config;
  }

  bank::Status start() {
    network.set_up("bank");
    auto started = bank::BankServer::start(
        bank::BankEnvironment{clock, timers, network.node("bank"), disk, log}, config_);
    if (!started) return started.error();
    server = std::move(*started);
    return bank::ok_status();
  }

  // The process dies: server memory gone, connections reset; the page cache
  // (unsynced appends included) survives.
  void crash() {
    server.reset();
    timers.cancel_all();
    network.crash("bank");
  }
  // The power fails: as a crash, and unsynced writes are lost or torn.
  void power_loss() {
    crash();
    disk.power_loss();
  }

  TestClient& connect(const std::string& from = "client") {
    auto client = std::make_unique<TestClient>();
    TestClient* raw = client.get();
    clients.push_back(std::move(client));
    network.connect(from, "bank", config_.port,
                    [raw](bank::Result<std::unique_ptr<bank::Connection>> result) {
                      if (!result) {
                        raw->connect_error = result.error().message;
                        raw->closed = true;
                        return;
                      }
                      raw->connection = std::move(*result);
                      raw->connection->start(raw);
                    });
    run_until([raw] { return raw->connection != nullptr || raw->closed; });
    return *raw;
  }

  // Runs events until done() holds; false if events ran out or the bound hit.
  template <class Predicate>
  bool run_until(Predicate done, std::uint64_t events_max = 1'000'000) {
    for (std::uint64_t i = 0; i < events_max; ++i) {
      if (done()) return true;
      if (!world.run_next(INT64_MAX)) return done();
    }
    return done();
  }

  // Runs everything due in the next delta_ms of simulated time.
  void advance_ms(std::int64_t delta_ms) {
    bool reached = false;
    world.schedule_after(delta_ms, "test", [&reached] { reached = true; });
    run_until([&reached] { return reached; }, UINT64_MAX);
  }

  // Sends one frame and returns the next reply.
  std::string request(TestClient& client, std::string_view frame) {
    const std::size_t before = client.replies.size();
    client.send_frame(frame);
    if (!run_until([&] { return client.replies.size() > before || client.closed; })) return "<no reply>";
    if (client.replies.size() == before) return "<closed>";
    std::string reply = client.replies.back();
    return reply;
  }

  sim::World world;
  sim::SimNetwork network;
  sim::SimDisk disk;
  sim::SimClock clock;
  sim::SimTimers timers;
  CapturingLogger log;
  std::unique_ptr<bank::BankServer> server;
  std::vector<std::unique_ptr<TestClient>> clients;

 private:
  bank::BankServerConfig config_;
};

}  // namespace test_support
