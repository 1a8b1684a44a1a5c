// dst_demo_server: the bank over TCP, on the system clock and a POSIX journal.

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include "bank/bank_server.hpp"
#include "dst_demo/cli.hpp"
#include "posix_disk.hpp"
#include "system_runtime.hpp"

namespace {

class SpdLogger final : public bank::Logger {
 public:
  SpdLogger(bank::LogLevel level, std::shared_ptr<spdlog::logger> sink)
      : Logger(level), sink_(std::move(sink)) {}

 protected:
  void write(bank::LogLevel level, std::string_view message) override {
    sink_->log(to_spdlog(level), "{}", message);
  }

 private:
  static spdlog::level::level_enum to_spdlog(bank::LogLevel level) {
    switch (level) {
      case bank::LogLevel::trace:
        return spdlog::level::trace;
      case bank::LogLevel::debug:
        return spdlog::level::debug;
      case bank::LogLevel::info:
        return spdlog::level::info;
      case bank::LogLevel::warn:
        return spdlog::level::warn;
      case bank::LogLevel::error:
        return spdlog::level::err;
      case bank::LogLevel::off:
        return spdlog::level::off;
    }
    return spdlog::level::info;
  }
  std::shared_ptr<spdlog::logger> sink_;
};

}  // namespace

// Descriptors the server needs besides one per connection: stdio, the
// journal, the listener, the loop's own, a spare, and room for a few more.
constexpr rlim_t descriptors_reserved = 32;

// Each connection holds a descriptor. Raise the soft open-files limit toward
// the hard one so that --max-connections fits (as Redis does); if it cannot,
// serve fewer connections and say so, rather than fail accepts later.
void fit_connections_to_descriptors(bank::BankServerConfig& config, SpdLogger& log) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  const rlim_t wanted = static_cast<rlim_t>(config.connections_max) + descriptors_reserved;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted) {
    const rlim_t before = limit.rlim_cur;
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max == RLIM_INFINITY ? wanted : std::min(limit.rlim_max, wanted);
    if (raised.rlim_cur > before && ::setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      limit = raised;
      log.info("raised the open-files limit from {} to {}", before, limit.rlim_cur);
    }
  }
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted) {
    const std::size_t fits = limit.rlim_cur > descriptors_reserved
                                 ? static_cast<std::size_t>(limit.rlim_cur - descriptors_reserved)
                                 : 1;
    log.warn(
        "the open-files limit is {} (hard limit {}): serving at most {} connections instead of {}; raise it "
        "with ulimit -n to serve more",
        limit.rlim_cur,
        limit.rlim_max == RLIM_INFINITY ? std::string("unlimited") : std::to_string(limit.rlim_max), fits,
        config.connections_max);
    config.connections_max = fits;
  }
}

// Logged when a sync never returned before the shutdown's bound, whichever
// thread was waiting in it: nothing it held had been acknowledged.
constexpr const char* disk_stuck_at_shutdown =
    "the disk did not finish a sync within the shutdown bound; exiting without waiting for it";

int main(int argc, char** argv) {
  CLI::App app{
      "dst_demo_server: the bank over TCP (NUL-framed text protocol; see docs/PROTOCOL.md).\n"
      "Every CREATE_TRANSACTION and VOID_TRANSACTION is answered only once its record is synced to the\n"
      "journal in --data-dir; a restart rebuilds the ledger from it.\n"
      "On start it prints 'listening on ADDR:PORT' on stdout. SIGINT/SIGTERM shut it down cleanly.\n"
      "Exit status: 0 a clean shutdown; 1 it could not start or serve (the reason is logged: a port in use, "
      "a\n"
      "damaged journal, ...); 2 a usage error (a bad flag, value or environment variable).",
      "dst_demo_server"};
  int port = 3000;
  std::string address = "0.0.0.0";
  std::string data_dir = "data";
  std::string log_level_flag;
  bank::BankServerConfig config;
  std::int64_t idle_timeout_s = config.idle_timeout_ms / 1000;
  app.add_option("--port", port, "TCP port to listen on; 0 picks a free one")
      ->envname("PORT")
      ->check(CLI::Range(0, 65'535))
      ->capture_default_str();
  app.add_option("--addr", address, "Address to bind to")->envname("ADDR")->capture_default_str();
  app.add_option("--data-dir", data_dir, "Directory holding the journal (bank.journal); created when missing")
      ->envname("DATA_DIR")
      ->capture_default_str();
  app.add_option("--log-level", log_level_flag,
                 "trace, debug, info, warn, error or off. Unset: SPDLOG_LEVEL, else RUST_LOG, else info");
  app.add_option("--max-connections", config.connections_max,
                 "Connections served at once; more are told 'ERROR too many connections' and closed")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  app.add_option("--idle-timeout-s", idle_timeout_s,
                 "Close a connection that sends nothing for this many seconds (0: never)")
      ->check(CLI::Range(0, 86'400 * 365))
      ->capture_default_str();
  app.add_option(
         "--max-frame-bytes", config.frame_bytes_max,
         "Largest frame accepted; a longer one gets 'ERROR frame too large' and the connection is closed")
      ->check(CLI::Range(64, 64 * 1024 * 1024))
      ->capture_default_str();
  app.add_option("--group-commit-hold-ms", config.group_commit_hold_ms,
                 "A batch of writes waits at most this long for the clients the last sync answered, so "
                 "that they share the next sync (0: sync at once)")
      ->check(CLI::Range(0, 1'000))
      ->capture_default_str();
  app.add_flag("--allow-remote-exit", config.allow_remote_exit,
               "Let a client's EXIT shut the server down (off: EXIT gets an ERROR reply)");
  if (const auto exit_code = dst_demo::cli::parse(app, argc, argv)) return *exit_code;

  // --log-level, else SPDLOG_LEVEL, else RUST_LOG (what the original's users type), else info.
  const auto log_level = bank::resolve_log_level({{"--log-level", log_level_flag.c_str()},
                                                  {"SPDLOG_LEVEL", std::getenv("SPDLOG_LEVEL")},
                                                  {"RUST_LOG", std::getenv("RUST_LOG")}},
                                                 bank::LogLevel::info);
  if (!log_level.ok) {
    std::fprintf(stderr,
                 "dst_demo_server: %s has an unknown log level; use trace, debug, info, warn, error or off\n",
                 log_level.source);
    return dst_demo::cli::usage_error_exit;
  }
  auto sink = spdlog::stderr_color_mt("dst_demo_server");
  sink->set_level(spdlog::level::trace);
  sink->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %v");
  SpdLogger log(log_level.level, sink);

  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    log.error("cannot create data directory '{}': {}", data_dir, ec.message());
    return 1;
  }

  fit_connections_to_descriptors(config, log);
  // A file-size limit (ulimit -f) reached by the journal is a disk error the
  // server answers (EFBIG: writes refused, reads served), not a signal that
  // kills it with replies in flight.
  std::signal(SIGXFSZ, SIG_IGN);
  config.address = address;
  config.port = static_cast<std::uint16_t>(port);
  config.idle_timeout_ms = idle_timeout_s * 1000;

  dst_demo::SystemRuntime runtime;
  runtime.set_warning_sink([&log](const std::string& message) { log.warn("{}", message); });
  dst_demo::PosixDisk disk(data_dir, runtime);
  std::unique_ptr<bank::BankServer> server;
  bool stopping = false;
  auto stop = [&](const char* why) {
    if (stopping) return;
    stopping = true;
    log.info("{}: shutting down", why);
    if (server) {
      server->shutdown([&runtime] { runtime.stop(); });
    } else {
      runtime.stop();
    }
  };
  // Before the disk starts its threads (they must not take the signals). The
  // bound: the server's grace for work in flight, then the wait for a disk
  // worker, with room; only a loop stuck in the disk needs it.
  const auto shutdown_bound = std::chrono::milliseconds(config.shutdown_grace_ms) +
                              dst_demo::PosixDisk::worker_stop_bound + std::chrono::seconds(3);
  runtime.on_shutdown_signal(
      [&](int signal_number) { stop(signal_number == SIGINT ? "SIGINT" : "SIGTERM"); }, shutdown_bound,
      [&log, counters = disk.counters(), shutdown_bound] {
        if (counters->syncs_in_progress > 0) {
          log.error("{}", disk_stuck_at_shutdown);
        } else {
          log.error("shutdown did not finish within {} ms; exiting without waiting for it",
                    shutdown_bound.count());
        }
        spdlog::shutdown();
      });
  bank::BankEnvironment environment{runtime, runtime, runtime, disk, log};
  auto started = bank::BankServer::start(environment, config);
  if (!started) {
    log.error("cannot start: {}", started.error().message);
    return 1;
  }
  server = std::move(*started);
  std::printf("listening on %s:%u\n", address.c_str(), static_cast<unsigned>(server->port()));
  std::fflush(stdout);
  server->set_on_exit_requested([&] { stop("EXIT"); });
  runtime.run();
  const auto& stats = server->stats();
  log.info(
      "served {} connections ({} refused), {} requests, {} writes in {} syncs; disk batches: {} on the "
      "loop, {} on the disk thread",
      stats.connections_accepted, stats.connections_refused, stats.requests, stats.writes_staged, stats.syncs,
      disk.counters()->batches_on_loop.load(), disk.counters()->batches_on_worker.load());
  server.reset();
  if (disk.abandoned_workers() > 0) {
    // The disk is stuck in a sync: nothing it holds was acknowledged. Exit
    // now rather than wait for it (threads stuck in the kernel end with us).
    log.error("{}", disk_stuck_at_shutdown);
    spdlog::shutdown();
    std::_Exit(1);
  }
  return 0;
}
