// dst_demo_bench: a load generator for dst_demo_server. Opens N connections,
// keeps up to D exchanges in flight on each (pipelining), mixes HEALTH,
// GET_BALANCE, GET_TRANSACTION and CREATE_TRANSACTION, and reports throughput
// and p50/p99/p99.9 latency, with a progress line on a terminal. With --resp
// it drives a Redis server instead (PING, GET, SET with the same mix and the
// same connection and pipelining loop), so a comparison measures both servers
// with one client.

#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include "bank/framing.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Exchange {
  Clock::time_point sent;
  int replies_left;
};

// Replies of Redis's protocol (RESP2), counted as they complete: a status,
// error or integer line, or a bulk string (possibly null).
class RespReplies {
 public:
  void feed(std::string_view bytes) { buffer_.append(bytes); }
  // Takes one complete reply off the front; false when none is complete yet.
  bool next(bool& is_error) {
    const auto line_end = buffer_.find("\r\n", at_);
    if (line_end == std::string::npos) return false;
    std::size_t end = line_end + 2;
    if (buffer_[at_] == '$') {
      const long length = std::strtol(buffer_.c_str() + at_ + 1, nullptr, 10);
      if (length >= 0) end += static_cast<std::size_t>(length) + 2;
      if (end > buffer_.size()) return false;
    }
    is_error = buffer_[at_] == '-';
    at_ = end;
    if (at_ == buffer_.size()) {
      buffer_.clear();
      at_ = 0;
    }
    return true;
  }

 private:
  std::string buffer_;
  std::size_t at_ = 0;
};

void append_resp(std::string& out, std::initializer_list<std::string_view> words) {
  out += fmt::format("*{}\r\n", words.size());
  for (std::string_view word : words) out += fmt::format("${}\r\n{}\r\n", word.size(), word);
}

struct Conn {
  int fd = -1;
  bank::FrameDecoder decoder{1 << 26};
  RespReplies resp;
  std::deque<Exchange> in_flight;
  std::string out;
};

int connect_to(const std::string& host, const std::string& port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* results = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &results) != 0) return -1;
  int fd = ::socket(results->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && ::connect(fd, results->ai_addr, results->ai_addrlen) != 0) {
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(results);
  if (fd >= 0) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dst_demo_bench: load for dst_demo_server; prints throughput and latency percentiles",
               "dst_demo_bench"};
  std::string address = "127.0.0.1:3000";
  int connections = 16;
  int pipeline = 1;
  std::uint64_t exchanges = 100'000;
  std::string mix = "health=1,balance=1,get=1,create=1";
  bool quiet = false;
  app.add_option("address", address, "Server HOST:PORT")->capture_default_str();
  app.add_option("-c,--connections", connections, "Connections")
      ->check(CLI::Range(1, 10'000))
      ->capture_default_str();
  app.add_option("-P,--pipeline", pipeline, "Exchanges in flight per connection")
      ->check(CLI::Range(1, 1'000))
      ->capture_default_str();
  app.add_option("-n,--exchanges", exchanges, "Exchanges in all (a CREATE is one exchange of two frames)")
      ->capture_default_str();
  app.add_option("--mix", mix, "Weights of health, balance, get and create")->capture_default_str();
  bool resp = false;
  app.add_flag("-q,--quiet", quiet, "One result line, no progress");
  app.add_flag(
      "--resp", resp,
      "Drive a Redis server instead, with the same mix: health as PING, balance as GET balance, get as "
      "GET of a key, create as SET balance 1.25 (one command, one reply)");
  CLI11_PARSE(app, argc, argv);

  int weights[4] = {0, 0, 0, 0};
  const char* names[4] = {"health", "balance", "get", "create"};
  for (std::size_t at = 0; at < mix.size();) {
    auto comma = mix.find(',', at);
    if (comma == std::string::npos) comma = mix.size();
    const std::string part = mix.substr(at, comma - at);
    const auto eq = part.find('=');
    bool known = false;
    for (int i = 0; i < 4; ++i) {
      if (eq != std::string::npos && part.substr(0, eq) == names[i]) {
        weights[i] = std::stoi(part.substr(eq + 1));
        known = true;
      }
    }
    if (!known) {
      std::fprintf(
          stderr, "dst_demo_bench: --mix: '%s' is not NAME=WEIGHT with NAME health, balance, get or create\n",
          part.c_str());
      return 2;
    }
    at = comma + 1;
  }
  const int weight_total = weights[0] + weights[1] + weights[2] + weights[3];
  if (weight_total <= 0) {
    std::fprintf(stderr, "dst_demo_bench: --mix needs a positive weight\n");
    return 2;
  }
  const auto colon = address.rfind(':');
  const std::string host = address.substr(0, colon);
  const std::string port = colon == std::string::npos ? "3000" : address.substr(colon + 1);

  std::vector<Conn> conns(static_cast<std::size_t>(connections));
  const int epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  for (std::size_t i = 0; i < conns.size(); ++i) {
    conns[i].fd = connect_to(host, port);
    if (conns[i].fd < 0) {
      std::fprintf(stderr, "dst_demo_bench: cannot connect to %s\n", address.c_str());
      return 1;
    }
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = i;
    ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, conns[i].fd, &event);
  }

  std::mt19937_64 random(1);  // Load shape only.
  std::uint64_t issued = 0;
  std::uint64_t completed = 0;
  std::uint64_t errors = 0;
  std::vector<std::uint32_t> latencies_us;
  latencies_us.reserve(exchanges);
  // Each kind's request, made once (a GET_TRANSACTION's id is drawn each time):
  // HEALTH / PING, GET_BALANCE / GET balance, and CREATE / SET.
  std::string fixed[4];
  if (resp) {
    append_resp(fixed[0], {"PING"});
    append_resp(fixed[1], {"GET", "balance"});
    append_resp(fixed[3], {"SET", "balance", "1.25"});
  } else {
    bank::append_frame(fixed[0], "HEALTH");
    bank::append_frame(fixed[1], "GET_BALANCE");
    bank::append_frame(fixed[3], "CREATE_TRANSACTION");
    bank::append_frame(fixed[3], "1.25");
  }
  auto issue = [&](Conn& c) {
    const int pick = static_cast<int>(random() % static_cast<std::uint64_t>(weight_total));
    int kind = 0;
    for (int acc = weights[0]; pick >= acc; acc += weights[++kind]) {
    }
    if (kind != 2) {
      c.out += fixed[kind];
    } else if (resp) {
      append_resp(c.out, {"GET", fmt::format("tx:{}", 1 + random() % 1000)});
    } else {
      bank::append_frame(c.out, "GET_TRANSACTION");
      bank::append_frame(c.out, std::to_string(1 + random() % 1000));
    }
    // Our GET_TRANSACTION and CREATE are two frames, each answered; a Redis command is one.
    c.in_flight.push_back(Exchange{Clock::now(), !resp && kind >= 2 ? 2 : 1});
    ++issued;
  };
  auto flush = [&](Conn& c) {
    while (!c.out.empty()) {
      const ssize_t sent = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (sent <= 0) return false;
      c.out.erase(0, static_cast<std::size_t>(sent));
    }
    return true;
  };
  const auto start = Clock::now();
  for (auto& c : conns) {
    for (int d = 0; d < pipeline && issued < exchanges; ++d) issue(c);
    flush(c);
  }
  const bool progress = !quiet && ::isatty(STDERR_FILENO);
  auto last_progress = start;
  std::vector<epoll_event> events(conns.size());
  char buffer[1 << 16];
  while (completed < exchanges) {
    const int ready = ::epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), 10'000);
    if (ready <= 0) {
      std::fprintf(stderr, "dst_demo_bench: no reply for 10 s; %llu of %llu exchanges done\n",
                   static_cast<unsigned long long>(completed), static_cast<unsigned long long>(exchanges));
      return 1;
    }
    for (int e = 0; e < ready; ++e) {
      Conn& c = conns[events[e].data.u64];
      const ssize_t got = ::recv(c.fd, buffer, sizeof buffer, 0);
      if (got <= 0) {
        std::fprintf(stderr, "dst_demo_bench: the server closed a connection\n");
        return 1;
      }
      const std::string_view bytes(buffer, static_cast<std::size_t>(got));
      if (resp) {
        c.resp.feed(bytes);
      } else {
        c.decoder.feed(bytes);
      }
      for (;;) {
        if (resp) {
          bool is_error = false;
          if (!c.resp.next(is_error)) break;
          if (is_error) ++errors;
        } else {
          const auto next = c.decoder.next();
          if (next.status != bank::FrameDecoder::Status::frame) break;
          if (next.frame.substr(0, 6) == "ERROR ") ++errors;
        }
        Exchange& x = c.in_flight.front();
        if (--x.replies_left > 0) continue;
        latencies_us.push_back(static_cast<std::uint32_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - x.sent).count()));
        c.in_flight.pop_front();
        ++completed;
        if (issued < exchanges) issue(c);
      }
      flush(c);
    }
    if (progress && Clock::now() - last_progress > std::chrono::seconds(1)) {
      last_progress = Clock::now();
      const double s = std::chrono::duration<double>(last_progress - start).count();
      std::fprintf(stderr, "\r\033[K%llu/%llu exchanges, %.0f/s", static_cast<unsigned long long>(completed),
                   static_cast<unsigned long long>(exchanges), static_cast<double>(completed) / s);
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (progress) std::fprintf(stderr, "\r\033[K");
  std::sort(latencies_us.begin(), latencies_us.end());
  auto pct = [&](double p) {
    return latencies_us[std::min(latencies_us.size() - 1,
                                 static_cast<std::size_t>(p * static_cast<double>(latencies_us.size())))];
  };
  std::printf(
      "%s: %llu exchanges on %d connections (pipeline %d) in %.2f s: %.0f exchanges/s, p50 %u us, p99 %u us, "
      "p99.9 %u us, %llu errors\n",
      mix.c_str(), static_cast<unsigned long long>(completed), connections, pipeline, seconds,
      static_cast<double>(completed) / seconds, pct(0.50), pct(0.99), pct(0.999),
      static_cast<unsigned long long>(errors));
  return errors == 0 ? 0 : 1;
}
