#include "sweep.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "bank/planted_bugs.hpp"
#include "record.hpp"
#include "run_one.hpp"
#include "summary.hpp"

namespace bank_sim::sweep {

namespace {

// Set by SIGINT: start no more runs, drop the ones in flight, print the summary.
volatile std::sig_atomic_t interrupted = 0;

// A third SIGINT ends the process at once. Not the second: one Ctrl-C may
// arrive twice (timeout(1) signals the process and then its group).
extern "C" void on_sigint(int) {
  if (interrupted >= 2) ::_exit(interrupted_exit);
  interrupted = interrupted + 1;
}

void catch_sigint() {
  struct sigaction action {};
  action.sa_handler = on_sigint;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // No SA_RESTART: poll returns at once with EINTR.
  ::sigaction(SIGINT, &action, nullptr);
}

// A run in a child process: a crash of the simulated server (a wild pointer,
// an abort) ends that run alone, and the sweep reports it and goes on. The
// parent stays single-threaded while it forks (a fork while another thread
// holds a lock, the allocator's under a sanitizer say, leaves the child
// waiting forever); parallel runs are parallel processes.
struct Child {
  pid_t pid = -1;
  int fd = -1;
  std::uint64_t index = 0;
  std::string bytes;
  double started_s = 0;  // Wall seconds.
  // When the child said its run had ended (what follows is its shrink); 0
  // before then.
  double run_ended_s = 0;
};

// The byte a child sends when its run has ended, ahead of its message
// (which is JSON, so never begins with it).
constexpr char run_ended_marker = '\x01';

// Starts run `index` in a child process; nullopt when no process could be
// made (the caller then runs it in this process).
std::optional<Child> start_child(const Settings& settings, std::uint64_t index) {
  int fds[2];
  if (::pipe(fds) != 0) return std::nullopt;
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return std::nullopt;
  }
  if (pid == 0) {
    // A Ctrl-C reaches the whole process group: the parent decides what ends.
    ::signal(SIGINT, SIG_IGN);
    ::close(fds[0]);
    Settings told = settings;
    const int fd = fds[1];
    told.run_ended = [fd] {
      // If the parent cannot hear it, the bound on the run still holds: no harm.
      while (::write(fd, &run_ended_marker, 1) < 0 && errno == EINTR) {
      }
    };
    Outcome outcome = run_one(told, index);
    const std::string bytes = to_child_message(outcome.record, outcome.report);
    std::string_view left = bytes;
    while (!left.empty()) {
      const ssize_t written = ::write(fds[1], left.data(), left.size());
      if (written < 0 && errno == EINTR) continue;
      if (written <= 0) ::_exit(3);
      left.remove_prefix(static_cast<std::size_t>(written));
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  Child child;
  child.pid = pid;
  child.fd = fds[0];
  child.index = index;
  child.started_s = settings.real.wall_seconds();
  return child;
}

// Reads what a child has sent; true once it has closed its end.
bool read_child(Child& child) {
  char buffer[1 << 16];
  for (;;) {
    const ssize_t got = ::read(child.fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got > 0) {
      child.bytes.append(buffer, static_cast<std::size_t>(got));
      return false;
    }
    return true;
  }
}

int reap(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

// Ends a child that has not finished (a hang, or a sweep interrupted).
void kill_child(Child& child) {
  ::kill(child.pid, SIGKILL);
  ::close(child.fd);
  reap(child.pid);
}

// Reaps a child whose pipe has closed and returns its run's outcome.
Outcome finish_child(const Settings& settings, Child& child) {
  ::close(child.fd);
  const int status = reap(child.pid);
  Outcome outcome;
  std::string_view message = child.bytes;
  if (!message.empty() && message.front() == run_ended_marker) message.remove_prefix(1);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
      from_child_message(std::string(message), outcome.record, outcome.report)) {
    return outcome;
  }
  const std::string how = WIFSIGNALED(status) ? fmt::format("was killed by signal {} ({})", WTERMSIG(status),
                                                            ::strsignal(WTERMSIG(status)))
                                              : fmt::format("exited with status {}", WEXITSTATUS(status));
  return died_outcome(settings, child.index, how);
}

std::string format_seconds(double s) {
  if (s < 120) return fmt::format("{:.0f} s", s);
  if (s < 7200) return fmt::format("{:.1f} min", s / 60);
  return fmt::format("{:.1f} h", s / 3600);
}

// One sweep in progress: what has finished, printed in run order.
class Sweep {
 public:
  explicit Sweep(const Settings& settings)
      : settings_(settings),
        next_to_start_(settings.shard.index),
        next_to_print_(settings.shard.index),
        terminal_(::isatty(STDERR_FILENO) != 0),
        start_(settings.real.wall_seconds()),
        last_progress_(start_) {}

  bool open_report(std::string& error) {
    if (settings_.report_json.empty()) return true;
    json_.open(settings_.report_json, std::ios::binary | std::ios::trunc);
    if (!json_) {
      error =
          fmt::format("--report-json: cannot write '{}': {}", settings_.report_json, std::strerror(errno));
      return false;
    }
    return true;
  }

  // Whether another run may start, and which.
  std::optional<std::uint64_t> next_run() {
    if (interrupted || next_to_start_ >= settings_.runs) return std::nullopt;
    if (settings_.time_budget_s && elapsed() >= *settings_.time_budget_s) return std::nullopt;
    if (settings_.until_failures && failed_ >= *settings_.until_failures) return std::nullopt;
    const std::uint64_t index = next_to_start_;
    next_to_start_ = index + settings_.shard.count < index ? settings_.runs : index + settings_.shard.count;
    return index;
  }

  void finished(Outcome outcome) {
    failed_ += outcome.record.passed ? 0 : 1;
    const std::uint64_t index = outcome.record.index;
    pending_.emplace(index, std::move(outcome));
    clear_progress();
    while (!pending_.empty() && pending_.begin()->first == next_to_print_) {
      emit(pending_.begin()->second);
      pending_.erase(pending_.begin());
      next_to_print_ += settings_.shard.count;
    }
    std::fflush(stdout);
    progress(false);
  }

  // Ends the sweep: the runs that finished after a gap (left by an
  // interruption) are printed too, then the summary.
  int finish(std::uint64_t dropped) {
    clear_progress();
    for (auto& [index, outcome] : pending_) emit(outcome);
    pending_.clear();
    const double wall_s = elapsed();
    if (interrupted) {
      std::printf("interrupted: %llu run%s in flight dropped; the summary of the runs that finished:\n",
                  static_cast<unsigned long long>(dropped), dropped == 1 ? "" : "s");
    }
    std::fputs(format_summary(summary_, fmt::format("in {:.2f} s wall", wall_s)).c_str(), stdout);
    std::fflush(stdout);
    if (json_.is_open()) {
      json_ << summary_json_line(summary_, wall_s, interrupted != 0) << '\n';
      json_.close();
      if (!json_) {
        std::fprintf(stderr, "dst_demo_server_simulator: --report-json: could not write '%s' whole\n",
                     settings_.report_json.c_str());
        output_failed_ = true;
      }
    }
    if (summary_.failed > 0) return 1;
    if (output_failed_) {
      std::fprintf(stderr,
                   "dst_demo_server_simulator: a file asked for could not be written (see 'error:' above)\n");
      return output_error_exit;
    }
    return interrupted ? interrupted_exit : 0;
  }

  // How long poll may wait before the progress line or the budget needs a look.
  int poll_timeout_ms() const {
    double wait_s = terminal_ ? progress_refresh_s : progress_line_period_s;
    if (settings_.time_budget_s)
      wait_s = std::min(wait_s, std::max(0.0, *settings_.time_budget_s - elapsed()));
    return static_cast<int>(wait_s * 1000) + 1;
  }

  void progress(bool tick) {
    const double now = settings_.real.wall_seconds();
    const double since = now - last_progress_;
    if (terminal_ ? since < progress_refresh_s && !tick : since < progress_line_period_s) return;
    last_progress_ = now;
    const double seconds = elapsed();
    const std::uint64_t done = summary_.runs + pending_.size();
    std::string line = fmt::format("{} run{}, {:.1f} runs/s, {} failed", done, done == 1 ? "" : "s",
                                   seconds > 0 ? static_cast<double>(done) / seconds : 0.0, failed_);
    if (settings_.runs_bounded) line += fmt::format(", {} to go", shard_runs() - done);
    if (settings_.time_budget_s) {
      line += fmt::format(", {} left", format_seconds(std::max(0.0, *settings_.time_budget_s - seconds)));
    }
    if (terminal_) {
      std::fprintf(stderr, "\r\033[K[%s]", line.c_str());
      shown_ = true;
    } else {
      std::fprintf(stderr, "dst_demo_server_simulator: %s\n", line.c_str());
    }
    std::fflush(stderr);
  }

  bool output_failed() const { return output_failed_; }

 private:
  double elapsed() const { return settings_.real.wall_seconds() - start_; }

  std::uint64_t shard_runs() const {
    const auto& shard = settings_.shard;
    return settings_.runs <= shard.index ? 0 : (settings_.runs - shard.index + shard.count - 1) / shard.count;
  }

  void clear_progress() {
    if (!shown_) return;
    std::fprintf(stderr, "\r\033[K");
    shown_ = false;
  }

  void emit(const Outcome& outcome) {
    if (!settings_.quiet || !outcome.record.passed) std::fputs(outcome.report.c_str(), stdout);
    summary_.add(outcome.record);
    output_failed_ = output_failed_ || outcome.record.output_failed;
    if (json_.is_open()) {
      json_ << to_json_line(outcome.record) << '\n';
      json_.flush();
    }
  }

  const Settings& settings_;
  std::uint64_t next_to_start_;
  std::uint64_t next_to_print_;
  std::map<std::uint64_t, Outcome> pending_;  // Finished, waiting for an earlier run to print.
  Summary summary_;
  std::uint64_t failed_ = 0;
  std::ofstream json_;
  bool output_failed_ = false;
  bool terminal_;
  bool shown_ = false;
  double start_;  // Wall seconds.
  double last_progress_;
};

// Up to `parallel` child processes at once, each one run; this process only
// forks, waits and prints. Returns how many runs an interruption dropped.
std::uint64_t run_in_children(const Settings& settings, Sweep& sweep, std::uint32_t parallel) {
  std::vector<Child> running;
  for (;;) {
    while (running.size() < parallel) {
      const auto index = sweep.next_run();
      if (!index) break;
      if (auto child = start_child(settings, *index)) {
        running.push_back(std::move(*child));
      } else {
        sweep.finished(run_one(settings, *index));
      }
    }
    if (running.empty()) return 0;
    if (interrupted) break;
    // A run past its wall-time bound is killed and reported as a hang. Once
    // the run has ended, its shrink has a bound of its own.
    const double now_s = settings.real.wall_seconds();
    double first_deadline_s = now_s + settings.run_timeout_s;
    for (std::size_t i = running.size(); i-- > 0;) {
      const double deadline_s = running[i].run_ended_s > 0
                                    ? running[i].run_ended_s + shrink_timeout_runs * settings.run_timeout_s
                                    : running[i].started_s + settings.run_timeout_s;
      if (now_s < deadline_s) {
        first_deadline_s = std::min(first_deadline_s, deadline_s);
        continue;
      }
      Child hung = std::move(running[i]);
      running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
      kill_child(hung);
      sweep.finished(hung_outcome(settings, hung.index, now_s - hung.started_s));
    }
    if (running.empty()) continue;
    std::vector<pollfd> watched;
    for (const Child& child : running) watched.push_back(pollfd{child.fd, POLLIN, 0});
    const int until_deadline_ms = static_cast<int>(std::max(0.0, first_deadline_s - now_s) * 1000) + 1;
    const int ready =
        ::poll(watched.data(), watched.size(), std::min(sweep.poll_timeout_ms(), until_deadline_ms));
    if (ready < 0 && errno != EINTR) {
      std::perror("dst_demo_server_simulator: poll");
      break;
    }
    if (ready <= 0) {
      sweep.progress(true);
      continue;
    }
    for (std::size_t i = watched.size(); i-- > 0;) {
      if (watched[i].revents == 0) continue;
      const bool closed = read_child(running[i]);
      if (running[i].run_ended_s == 0 && !running[i].bytes.empty()) {
        running[i].run_ended_s = settings.real.wall_seconds();
      }
      if (!closed) continue;
      Child done = std::move(running[i]);
      running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
      sweep.finished(finish_child(settings, done));
    }
  }
  for (Child& child : running) {
    kill_child(child);
  }
  return running.size();
}

// Every run in this process, on `parallel` threads (--no-isolation).
void run_in_threads(const Settings& settings, Sweep& sweep, std::uint32_t parallel) {
  std::mutex mutex;
  auto worker = [&] {
    for (;;) {
      std::optional<std::uint64_t> index;
      {
        std::lock_guard lock(mutex);
        index = sweep.next_run();
      }
      if (!index) return;
      Outcome outcome = run_one(settings, *index);
      std::lock_guard lock(mutex);
      sweep.finished(std::move(outcome));
    }
  };
  settings.real.run_on_threads(parallel, worker);
}

std::string describe_sweep(const Settings& settings, std::uint32_t parallel) {
  std::string out =
      fmt::format("dst_demo_server_simulator: seed={} runs={} threads={}", *settings.seed,
                  settings.runs_bounded ? std::to_string(settings.runs) : "unbounded", parallel);
  if (settings.shard.count > 1) {
    out += fmt::format(" shard={}/{}", settings.shard.index, settings.shard.count);
    if (settings.shard.source != "--shard") out += fmt::format(" (from {})", settings.shard.source);
  }
  if (settings.time_budget_s) out += fmt::format(" time_budget={}", format_seconds(*settings.time_budget_s));
  if (settings.check_determinism) out += " check_determinism=each seed twice";
  if (settings.until_failures) out += fmt::format(" until_failures={}", *settings.until_failures);
  const std::string planted = bank::planted_bugs::names();
  if (!planted.empty()) out += fmt::format(" (bank built with the PLANTED BUG '{}')", planted);
  if (settings.quiet) out += "\n  printing the reports of failing runs only (--verbose: every run's)";
  return out + "\n";
}

}  // namespace

int run_sweep(const Settings& settings) {
  const std::uint64_t shard_runs =
      settings.runs <= settings.shard.index
          ? 0
          : (settings.runs - settings.shard.index + settings.shard.count - 1) / settings.shard.count;
  const auto parallel = static_cast<std::uint32_t>(std::min<std::uint64_t>(
      settings.max_parallel,
      std::max<std::uint64_t>(1, settings.runs_bounded ? shard_runs : settings.max_parallel)));
  report_aborts();
  catch_sigint();
  std::fputs(describe_sweep(settings, parallel).c_str(), stdout);
  std::fflush(stdout);
  Sweep sweep(settings);
  std::string error;
  if (!sweep.open_report(error)) {
    std::fprintf(stderr, "dst_demo_server_simulator: %s\n", error.c_str());
    return output_error_exit;
  }
  std::uint64_t dropped = 0;
  if (settings.isolate) {
    dropped = run_in_children(settings, sweep, parallel);
  } else {
    run_in_threads(settings, sweep, parallel);
  }
  return sweep.finish(dropped);
}

int merge_reports(const std::vector<std::string>& files, const std::string& report_json) {
  std::map<std::uint64_t, RunRecord> runs;  // By seed: a run found twice counts once.
  std::uint64_t duplicates = 0;
  double wall_s = 0;
  std::optional<std::string> build;
  for (const std::string& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "dst_demo_server_simulator: --merge: cannot read '%s': %s\n", file.c_str(),
                   std::strerror(errno));
      return 2;
    }
    std::string line;
    for (std::size_t number = 1; std::getline(in, line); ++number) {
      if (line.empty()) continue;
      ParseError problem;
      auto parsed = parse_json_line(line, problem);
      if (!parsed) {
        std::fprintf(stderr, "dst_demo_server_simulator: --merge: %s:%zu: %s\n", file.c_str(), number,
                     problem.message.c_str());
        return 2;
      }
      if (parsed->kind == ParsedLine::Kind::summary) {
        wall_s = std::max(wall_s, parsed->summary_wall_s);  // Shards run side by side.
        continue;
      }
      if (build && *build != parsed->run.planted_bug) {
        std::fprintf(
            stderr,
            "dst_demo_server_simulator: --merge: %s:%zu: a run of a build with planted bug '%s' among "
            "runs of a build with '%s'; merge the records of one build\n",
            file.c_str(), number, parsed->run.planted_bug.c_str(), build->c_str());
        return 2;
      }
      build = parsed->run.planted_bug;
      const std::uint64_t seed = parsed->run.seed;
      if (!runs.emplace(seed, std::move(parsed->run)).second) ++duplicates;
    }
  }
  // In run order, as the sweep that made them printed them.
  std::vector<const RunRecord*> ordered;
  for (const auto& [seed, record] : runs) ordered.push_back(&record);
  std::sort(ordered.begin(), ordered.end(), [](const RunRecord* a, const RunRecord* b) {
    return a->index != b->index ? a->index < b->index : a->seed < b->seed;
  });
  Summary summary;
  for (const RunRecord* record : ordered) summary.add(*record);
  std::printf("dst_demo_server_simulator: merged %zu file%s: %zu runs%s\n", files.size(),
              files.size() == 1 ? "" : "s", runs.size(),
              duplicates > 0 ? fmt::format(" ({} found twice, counted once)", duplicates).c_str() : "");
  std::fputs(format_summary(summary, fmt::format("in {:.2f} s wall (the longest file's)", wall_s)).c_str(),
             stdout);
  for (const auto& [key, group] : summary.groups) {
    if (group.story.empty()) continue;
    std::printf("the minimal story of '%s' %s (seed %llu):\n%s", key.first.c_str(), key.second.c_str(),
                static_cast<unsigned long long>(group.first_runs.front().second), group.story.c_str());
  }
  if (!report_json.empty()) {
    std::ofstream out(report_json, std::ios::binary | std::ios::trunc);
    for (const RunRecord* record : ordered) out << to_json_line(*record) << '\n';
    out << summary_json_line(summary, wall_s, false) << '\n';
    out.close();
    if (!out) {
      std::fprintf(stderr, "dst_demo_server_simulator: --report-json: cannot write '%s'\n",
                   report_json.c_str());
      return output_error_exit;
    }
  }
  return summary.failed > 0 ? 1 : 0;
}

}  // namespace bank_sim::sweep
