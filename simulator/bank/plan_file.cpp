#include "plan_file.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <vector>

#include "bank/journal.hpp"
#include "bank/planted_bugs.hpp"

namespace bank_sim {

std::string build_name() {
  const std::string planted = bank::planted_bugs::names();
  return planted.empty() ? "normal" : "bug_" + planted;
}

std::string format_plan_file(const Plans& plans) {
  const Knobs& k = plans.knobs;
  const Swarm& s = k.swarm;
  std::string out;
  auto line = [&out](std::string text) {
    out += text;
    out += '\n';
  };
  line("# dst_demo_server_simulator plan. Run it with: dst_demo_server_simulator --replay FILE");
  line(fmt::format("version {}", plan_file_version));
  line("build " + build_name());
  line(fmt::format("seed {}", k.seed));
  line(fmt::format("duration_steps {}", k.duration_steps));
  line(fmt::format("step_ms {}", k.step_ms));
  line(fmt::format("epoch_offset_ms {}", k.epoch_offset_ms));
  line(fmt::format(
      "swarm crashes={} power_losses={} partitions={} clogs={} disk_errors={} slow_disk={} "
      "clock_steps={} corruption={} network_corners={} fault_gap_ms_max={}",
      int{s.crashes}, int{s.power_losses}, int{s.partitions}, int{s.clogs}, int{s.disk_errors},
      int{s.slow_disk}, int{s.clock_steps}, int{s.corruption}, int{s.network_corners}, s.fault_gap_ms_max));
  line("parameters " + describe_parameters(k.parameters));
  line(fmt::format("health_interval_ms {}", plans.health_interval_ms));
  for (const Branch& b : plans.branches) line(fmt::format("branch at_event={} seed={}", b.at_event, b.seed));
  for (std::size_t b = 0; b < plans.bankers.size(); ++b) {
    line(fmt::format("banker {}", b));
    for (const auto& i : plans.bankers[b].interactions) line("  " + describe_interaction(i));
  }
  line("faults");
  for (const auto& f : plans.faults.faults) line("  " + describe_fault(f));
  line("end");
  return out;
}

namespace {

class Parser {
 public:
  Parser(std::string_view text, std::string_view source) : text_(text), source_(source) {}

  bank::Result<Plans> parse() {
    Plans plans;
    Knobs& k = plans.knobs;
    k.epoch_offset_reason = "from a plan file";
    enum class Section { header, banker, faults, done } section = Section::header;
    bool saw_version = false;
    while (next_line()) {
      if (words_.empty()) continue;
      const std::string_view head = words_[0];
      if (section == Section::done) return fail("nothing after 'end'");
      if (head == "version") {
        std::int64_t version = 0;
        if (!number(1, version)) return error_;
        if (version != plan_file_version) {
          return fail(fmt::format("version {} is not supported (this simulator reads version {})", version,
                                  plan_file_version));
        }
        saw_version = true;
        continue;
      }
      if (!saw_version) return fail(fmt::format("expected 'version {}' first", plan_file_version));
      if (section == Section::header) {
        const HeaderLine line = parse_header_line(plans, head);
        if (line == HeaderLine::malformed) return error_;
        if (line == HeaderLine::handled) continue;
      }
      if (head == "banker") {
        std::int64_t index = 0;
        if (!number(1, index, 0, banker_count_max - 1)) return error_;
        if (static_cast<std::size_t>(index) != plans.bankers.size()) {
          return fail(
              fmt::format("expected 'banker {}' (bankers are numbered in order)", plans.bankers.size()));
        }
        plans.bankers.emplace_back();
        section = Section::banker;
        continue;
      }
      if (head == "faults") {
        section = Section::faults;
        continue;
      }
      if (head == "end") {
        section = Section::done;
        continue;
      }
      if (section == Section::banker) {
        Interaction interaction;
        if (auto status = parse_interaction(interaction); !status) return status.error();
        plans.bankers.back().interactions.push_back(interaction);
        continue;
      }
      if (section == Section::faults) {
        Fault fault;
        if (auto status = parse_fault(fault, plans.bankers.size()); !status) return status.error();
        plans.faults.faults.push_back(fault);
        continue;
      }
      return fail(fmt::format("unknown line '{}'", head));
    }
    if (section != Section::done) return fail("expected 'end' as the last line");
    if (plans.bankers.empty()) return fail("a plan needs at least one banker");
    k.banker_count = static_cast<std::uint32_t>(plans.bankers.size());
    k.interactions_per_banker = interactions_per_banker_of(plans);
    return plans;
  }

 private:
  // A line of the header (the seed and knobs, branches); error_ says why a malformed one is.
  enum class HeaderLine { handled, not_one, malformed };
  HeaderLine parse_header_line(Plans& plans, std::string_view head) {
    Knobs& k = plans.knobs;
    std::int64_t value = 0;
    if (head == "seed") {
      bool read = words_.size() == 2;
      if (read) {
        const char* end = words_[1].data() + words_[1].size();
        const auto r = std::from_chars(words_[1].data(), end, k.seed);
        read = r.ec == std::errc{} && r.ptr == end;
      }
      if (!read) {
        fail("expected 'seed N'");
        return HeaderLine::malformed;
      }
      return HeaderLine::handled;
    }
    if (head == "duration_steps") {
      if (!number(1, value, 0, static_cast<std::int64_t>(duration_steps_max))) return HeaderLine::malformed;
      k.duration_steps = static_cast<std::uint64_t>(value);
      return HeaderLine::handled;
    }
    if (head == "step_ms") {
      if (!number(1, value, 1, step_ms_max)) return HeaderLine::malformed;
      k.step_ms = value;
      return HeaderLine::handled;
    }
    if (head == "epoch_offset_ms") {
      if (!number(1, value, 0, epoch_offset_ms_limit)) return HeaderLine::malformed;
      k.epoch_offset_ms = value;
      return HeaderLine::handled;
    }
    if (head == "build") {
      if (words_.size() != 2) {
        fail("expected 'build NAME' (normal, or bug_NAME for a zoo build)");
        return HeaderLine::malformed;
      }
      plans.build = std::string(words_[1]);
      return HeaderLine::handled;
    }
    if (head == "branch") {
      Branch branch;
      if (!unsigned_field(1, "at_event", branch.at_event) || !unsigned_field(2, "seed", branch.seed)) {
        fail("expected 'branch at_event=N seed=N'");
        return HeaderLine::malformed;
      }
      if (!plans.branches.empty() && branch.at_event < plans.branches.back().at_event) {
        fail("branches must come in the order of their events");
        return HeaderLine::malformed;
      }
      plans.branches.push_back(branch);
      return HeaderLine::handled;
    }
    if (head == "health_interval_ms") {
      if (!number(1, value, 1)) return HeaderLine::malformed;
      plans.health_interval_ms = value;
      return HeaderLine::handled;
    }
    if (head == "parameters") {
      if (!parse_parameters(k.parameters)) return HeaderLine::malformed;  // error_ says why.
      return HeaderLine::handled;
    }
    if (head == "swarm") {
      if (!parse_swarm(k.swarm)) return HeaderLine::malformed;
      return HeaderLine::handled;
    }
    return HeaderLine::not_one;
  }

  bool next_line() {
    if (at_ >= text_.size()) return false;
    const auto newline = text_.find('\n', at_);
    std::string_view line =
        text_.substr(at_, newline == std::string_view::npos ? std::string_view::npos : newline - at_);
    at_ = newline == std::string_view::npos ? text_.size() : newline + 1;
    ++line_number_;
    line_ = line;
    if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    words_.clear();
    std::size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
      const std::size_t start = i;
      while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
      if (i > start) words_.push_back(line.substr(start, i - start));
    }
    return true;
  }

  bank::Error fail(std::string what) {
    if (line_number_ == 0) {
      error_ =
          bank::Error{fmt::format("{}: the file is empty; a plan file starts with 'version {}' and ends with "
                                  "'end' (write one with --save-plan)",
                                  source_, plan_file_version)};
      return error_;
    }
    error_ = bank::Error{fmt::format("{}:{}: {}; the line is '{}'", source_, line_number_, what, line_)};
    return error_;
  }

  static bool to_int(std::string_view text, std::int64_t& value) {
    const auto r = std::from_chars(text.data(), text.data() + text.size(), value);
    return r.ec == std::errc{} && r.ptr == text.data() + text.size();
  }

  // words_[at] as an integer in [low, high]; records the error otherwise.
  bool number(std::size_t at, std::int64_t& value, std::int64_t low = INT64_MIN,
              std::int64_t high = INT64_MAX) {
    if (at >= words_.size() || !to_int(words_[at], value)) {
      fail(fmt::format("expected a number after '{}'", words_[0]));
      return false;
    }
    if (value < low || value > high) {
      fail(fmt::format("{} is out of range [{}, {}]", value, low, high));
      return false;
    }
    return true;
  }

  // words_[at] as "name=N".
  bool field(std::size_t at, std::string_view name, std::int64_t& value) {
    if (at >= words_.size() || words_[at].substr(0, name.size() + 1) != std::string(name) + "=" ||
        !to_int(words_[at].substr(name.size() + 1), value)) {
      fail(fmt::format("expected {}=N", name));
      return false;
    }
    return true;
  }

  // words_[at] as "name=N" with N an unsigned 64-bit number; no error of its own.
  bool unsigned_field(std::size_t at, std::string_view name, std::uint64_t& value) {
    if (at >= words_.size() || words_[at].substr(0, name.size() + 1) != std::string(name) + "=") return false;
    const std::string_view digits = words_[at].substr(name.size() + 1);
    const auto r = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    return r.ec == std::errc{} && r.ptr == digits.data() + digits.size() && !digits.empty();
  }

  // words_[at] as "name=LOW..HIGH".
  bool range_field(std::size_t at, std::string_view name, std::int64_t& low, std::int64_t& high) {
    const std::string prefix = std::string(name) + "=";
    if (at < words_.size() && words_[at].substr(0, prefix.size()) == prefix) {
      const std::string_view text = words_[at].substr(prefix.size());
      const auto dots = text.find("..");
      if (dots != std::string_view::npos && to_int(text.substr(0, dots), low) &&
          to_int(text.substr(dots + 2), high) && 0 <= low && low <= high) {
        return true;
      }
    }
    fail(fmt::format("expected {}=LOW..HIGH with 0 <= LOW <= HIGH", name));
    return false;
  }

  bool positive_field(std::size_t at, std::string_view name, std::int64_t& value, std::int64_t low) {
    if (!field(at, name, value)) return false;
    if (value < low) {
      fail(fmt::format("{} must be at least {}", name, low));
      return false;
    }
    return true;
  }

  bank::Status parse_parameters(Parameters& p) {
    // connections_max, group_commit_hold_ms and requests_in_flight_max came later: a plan
    // without them has the defaults.
    if (words_.size() < 8 || words_.size() > 11) {
      return fail(
          "expected 'parameters latency_ms=A..B pieces_per_send_max=N window_bytes=N "
          "append_latency_ms_max=N sync_latency_ms=A..B idle_timeout_ms=N send_queue_bytes_max=N "
          "connections_max=N group_commit_hold_ms=N requests_in_flight_max=N'");
    }
    if (!range_field(1, "latency_ms", p.latency_ms_min, p.latency_ms_max)) return error_;
    if (!positive_field(2, "pieces_per_send_max", p.pieces_per_send_max, 1)) return error_;
    if (!positive_field(3, "window_bytes", p.window_bytes, 1)) return error_;
    if (!positive_field(4, "append_latency_ms_max", p.append_latency_ms_max, 0)) return error_;
    if (!range_field(5, "sync_latency_ms", p.sync_latency_ms_min, p.sync_latency_ms_max)) return error_;
    if (!positive_field(6, "idle_timeout_ms", p.idle_timeout_ms, 1)) return error_;
    if (!positive_field(7, "send_queue_bytes_max", p.send_queue_bytes_max, 1)) return error_;
    if (words_.size() >= 9 && !positive_field(8, "connections_max", p.connections_max, 1)) return error_;
    if (words_.size() >= 10 && !positive_field(9, "group_commit_hold_ms", p.group_commit_hold_ms, 0))
      return error_;
    if (words_.size() == 11 && !positive_field(10, "requests_in_flight_max", p.requests_in_flight_max, 1))
      return error_;
    return bank::ok_status();
  }

  bank::Status parse_swarm(Swarm& swarm) {
    const char* names[] = {"crashes",   "power_losses", "partitions", "clogs",          "disk_errors",
                           "slow_disk", "clock_steps",  "corruption", "network_corners"};
    bool* flags[] = {&swarm.crashes,     &swarm.power_losses, &swarm.partitions,
                     &swarm.clogs,       &swarm.disk_errors,  &swarm.slow_disk,
                     &swarm.clock_steps, &swarm.corruption,   &swarm.network_corners};
    constexpr std::size_t flag_count = std::size(names);
    for (std::size_t i = 0; i < flag_count; ++i) {
      std::int64_t value = 0;
      if (!field(i + 1, names[i], value)) return error_;
      *flags[i] = value != 0;
    }
    std::int64_t gap = 0;
    if (!field(flag_count + 1, "fault_gap_ms_max", gap)) return error_;
    swarm.fault_gap_ms_max = gap;
    return bank::ok_status();
  }

  // The style words after an interaction's own: text=STYLE (creates); nokey, hangup,
  // hangup=close, hangup=close+create or hangup=shut, echo (writes); slow=N (reads); wait
  // (creates, gets and voids).
  bank::Status parse_style(Interaction& i, std::size_t from) {
    const bool write = i.op == BankerOp::create || i.op == BankerOp::void_;
    for (std::size_t at = from; at < words_.size(); ++at) {
      const std::string_view word = words_[at];
      if (write && word == "nokey") {
        i.keyless = true;
      } else if (write && (word == "hangup" || word == "hangup=close" || word == "hangup=close+create" ||
                           word == "hangup=shut")) {
        i.hang_up = true;
        i.polite = word != "hangup";
        i.shut = word == "hangup=shut";
        i.after_close = word == "hangup=close+create";
      } else if (i.op == BankerOp::create && word.substr(0, 5) == "text=") {
        const auto text = amount_text_named(word.substr(5));
        if (!text) return fail("expected text=canonical, plus, zeros, shortest or spaces");
        i.text = *text;
      } else if (write && word == "echo") {
        i.echo = true;
      } else if ((write || i.op == BankerOp::get) && word == "wait") {
        i.wait = true;
      } else if (!write && word.substr(0, 5) == "slow=") {
        std::int64_t value = 0;
        if (!to_int(word.substr(5), value) || value <= 0) return fail("expected slow=N with N > 0");
        i.slow_read_ms = value;
      } else {
        return fail(
            write ? fmt::format("expected text=STYLE, nokey, hangup, hangup=close, hangup=close+create, "
                                "hangup=shut, echo or wait after '{}', got '{}'",
                                words_[0], word)
            : i.op == BankerOp::get
                ? fmt::format("expected slow=N or wait after '{}', got '{}'", words_[0], word)
                : fmt::format("expected slow=N after '{}', got '{}'", words_[0], word));
      }
    }
    if (i.echo && (i.keyless || i.hang_up)) {
      return fail("echo is for a write with a key and no hangup");
    }
    if (i.wait && i.hang_up)
      return fail("wait is for a write with no hangup (a hangup comes with the prompt)");
    if (i.wait && i.slow_read_ms > 0) return fail("wait is for a get that reads at once (no slow=N)");
    return bank::ok_status();
  }

  bank::Status parse_interaction(Interaction& i) {
    const std::string_view op = words_[0];
    std::int64_t value = 0;
    if (op == "sleep") {
      if (!number(1, value, 0)) return error_;
      i.op = BankerOp::sleep;
      i.sleep_ms = value;
      return bank::ok_status();
    }
    if (op == "create") {
      if (words_.size() < 2) return fail("expected 'create AMOUNT'");
      auto amount = bank::parse_amount(words_[1]);
      if (!amount) return fail("expected 'create AMOUNT': " + amount.error().message);
      i.op = BankerOp::create;
      i.amount = *amount;
      return parse_style(i, 2);
    }
    if (op == "get" || op == "void") {
      if (words_.size() < 3 || (words_[1] != "known" && words_[1] != "id" && words_[1] != "next")) {
        return fail(fmt::format("expected '{} known N', '{} id N' or '{} next N'", op, op, op));
      }
      std::uint64_t pick = 0;
      const auto r = std::from_chars(words_[2].data(), words_[2].data() + words_[2].size(), pick);
      if (r.ec != std::errc{} || r.ptr != words_[2].data() + words_[2].size()) {
        return fail(fmt::format("expected '{} {} N' with N a number", op, words_[1]));
      }
      i.op = op == "get" ? BankerOp::get : BankerOp::void_;
      i.id = IdPick{words_[1] == "known", words_[1] == "next", pick};
      return parse_style(i, 3);
    }
    if (op == "list" || op == "balance") {
      i.op = op == "list" ? BankerOp::list : BankerOp::balance;
      return parse_style(i, 1);
    }
    if (op == "pipeline") {
      if (words_.size() != 2 || !number(1, value, 2, pipeline_requests_max)) {
        return fail(fmt::format("expected 'pipeline N' with N in [2, {}]", pipeline_requests_max));
      }
      i.op = BankerOp::pipeline;
      i.count = static_cast<std::uint32_t>(value);
      return bank::ok_status();
    }
    if (op == "garbage") {
      const Garbage kinds[] = {Garbage::unknown_action, Garbage::bad_amount, Garbage::bad_id,
                               Garbage::oversized,      Garbage::exit,       Garbage::bad_key,
                               Garbage::long_key,       Garbage::zero_id,    Garbage::huge_id,
                               Garbage::unterminated};
      for (Garbage kind : kinds) {
        if (words_.size() == 2 && words_[1] == describe(kind)) {
          i.op = BankerOp::garbage;
          i.garbage = kind;
          return bank::ok_status();
        }
      }
      return fail(
          "expected 'garbage "
          "unknown_action|bad_amount|bad_id|oversized|exit|bad_key|long_key|zero_id|huge_id|unterminated'");
    }
    return fail("expected an interaction: sleep, create, get, void, list, balance, pipeline or garbage");
  }

  bank::Status target(std::size_t at, std::size_t banker_count, std::int64_t& value) {
    if (at >= words_.size()) return fail("expected a target: all or bankerN");
    if (words_[at] == "all") {
      value = -1;
      return bank::ok_status();
    }
    if (words_[at].substr(0, 6) != "banker" || !to_int(words_[at].substr(6), value) || value < 0 ||
        static_cast<std::size_t>(value) >= banker_count) {
      return fail(fmt::format("expected a target: all or banker0..banker{}",
                              banker_count == 0 ? 0 : banker_count - 1));
    }
    return bank::ok_status();
  }

  // disk_errors EIO|ENOSPC ops=appends|syncs|both|reads for=N
  bank::Status parse_disk_errors(Fault& f) {
    if (words_.size() < 2 || (words_[1] != "EIO" && words_[1] != "ENOSPC")) {
      return fail("expected 'disk_errors EIO|ENOSPC ops=appends|syncs|both|reads for=N'");
    }
    f.op = FaultOp::disk_errors;
    f.error_code = words_[1] == "EIO" ? EIO : ENOSPC;
    const std::string_view ops = words_.size() < 3 ? std::string_view{} : words_[2];
    if (ops == "ops=appends") {
      f.disk_ops = DiskOps::appends;
    } else if (ops == "ops=syncs") {
      f.disk_ops = DiskOps::syncs;
    } else if (ops == "ops=both") {
      f.disk_ops = DiskOps::both;
    } else if (ops == "ops=reads") {
      f.disk_ops = DiskOps::reads;
    } else {
      return fail("expected 'disk_errors EIO|ENOSPC ops=appends|syncs|both|reads for=N'");
    }
    std::int64_t value = 0;
    if (!field(3, "for", value)) return error_;
    f.duration_ms = value;
    return bank::ok_status();
  }

  // corrupt bit_flip from_end=N bit=0..7 | corrupt aimed record=N byte=0..31 bit=0..7 |
  // corrupt misdirected pick=N
  bank::Status parse_corrupt(Fault& f) {
    f.op = FaultOp::corrupt;
    std::uint64_t pick = 0;
    std::int64_t bit = 0;
    if (words_.size() == 4 && words_[1] == "bit_flip" && unsigned_field(2, "from_end", pick) &&
        field(3, "bit", bit) && bit >= 0 && bit < 8) {
      f.corrupt_kind = CorruptKind::bit_flip;
      f.pick = pick;
      f.bit = static_cast<unsigned>(bit);
    } else if (std::int64_t byte = 0; words_.size() == 5 && words_[1] == "aimed" &&
                                      unsigned_field(2, "record", pick) && field(3, "byte", byte) &&
                                      byte >= 0 &&
                                      byte < 2 * static_cast<std::int64_t>(bank::journal_header_bytes) &&
                                      field(4, "bit", bit) && bit >= 0 && bit < 8) {
      f.corrupt_kind = CorruptKind::aimed;
      f.pick = pick;
      f.byte = static_cast<unsigned>(byte);
      f.bit = static_cast<unsigned>(bit);
    } else if (words_.size() == 3 && words_[1] == "misdirected" && unsigned_field(2, "pick", pick)) {
      f.corrupt_kind = CorruptKind::misdirected;
      f.pick = pick;
    } else {
      return fail(
          "expected 'corrupt bit_flip from_end=N bit=0..7', 'corrupt aimed record=N byte=0..31 bit=0..7' or "
          "'corrupt misdirected pick=N'");
    }
    return bank::ok_status();
  }

  bank::Status parse_fault(Fault& f, std::size_t banker_count) {
    const std::string_view op = words_[0];
    std::int64_t value = 0;
    if (op == "sleep") {
      if (!number(1, value, 0)) return error_;
      f.op = FaultOp::sleep;
      f.duration_ms = value;
    } else if (op == "crash" || op == "power_loss" || op == "stop") {
      if (!field(1, "restart_after", value)) return error_;
      f.op = op == "crash" ? FaultOp::crash : op == "stop" ? FaultOp::stop : FaultOp::power_loss;
      f.duration_ms = value;
      if (words_.size() > 3 || (words_.size() == 3 && words_[2] != "when=unsynced")) {
        return fail(
            fmt::format("expected '{} restart_after=N' or '{} restart_after=N when=unsynced'", op, op));
      }
      f.when_unsynced = words_.size() == 3;
    } else if (op == "partition" || op == "clog") {
      f.op = op == "partition" ? FaultOp::partition : FaultOp::clog;
      if (auto status = target(1, banker_count, f.target); !status) return status;
      if (!field(2, "for", value)) return error_;
      f.duration_ms = value;
    } else if (op == "disk_errors") {
      if (auto status = parse_disk_errors(f); !status) return status;
    } else if (op == "slow_disk") {
      f.op = FaultOp::slow_disk;
      if (!field(1, "extra", value)) return error_;
      f.delta_ms = value;
      if (!field(2, "for", value)) return error_;
      f.duration_ms = value;
    } else if (op == "one_way") {
      f.op = FaultOp::one_way;
      if (auto status = target(1, banker_count, f.target); !status) return status;
      if (words_.size() < 3 || (words_[2] != "toward=host" && words_[2] != "toward=client")) {
        return fail("expected 'one_way TARGET toward=host|client for=N'");
      }
      f.toward_host = words_[2] == "toward=host";
      if (!field(3, "for", value)) return error_;
      f.duration_ms = value;
    } else if (op == "vanish") {
      f.op = FaultOp::vanish;
      if (auto status = target(1, banker_count, f.target); !status) return status;
    } else if (op == "accept_failures") {
      f.op = FaultOp::accept_failures;
      if (!field(1, "for", value)) return error_;
      f.duration_ms = value;
    } else if (op == "corrupt") {
      if (auto status = parse_corrupt(f); !status) return status;
    } else if (op == "clock_step") {
      if (!number(1, value)) return error_;
      f.op = FaultOp::clock_step;
      f.delta_ms = value;
    } else {
      return fail(
          "expected a fault: sleep, crash, power_loss, stop, partition, clog, disk_errors, slow_disk, "
          "clock_step, corrupt, one_way, vanish or accept_failures");
    }
    if (f.duration_ms < 0) return fail("a duration cannot be negative");
    return bank::ok_status();
  }

  std::string_view text_;
  std::string_view source_;
  std::size_t at_ = 0;
  std::size_t line_number_ = 0;
  std::string_view line_;
  std::vector<std::string_view> words_;
  bank::Error error_;
};

}  // namespace

bank::Result<Plans> parse_plan_file(std::string_view text, std::string_view source) {
  return Parser(text, source).parse();
}

}  // namespace bank_sim
