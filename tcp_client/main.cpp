// dst_demo_tcp_client: type a line, it is sent as one frame, the reply is
// printed. Line editing and history on a terminal; plain lines from a pipe.

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>

#include "bank/framing.hpp"
#include "dst_demo/cli.hpp"
#include "dst_demo/prompt.hpp"

namespace {

constexpr std::size_t reply_bytes_max = 256 * 1024 * 1024;

void fail_line(const std::string& message) {
  std::fprintf(stderr, "dst_demo_tcp_client: %s\n", message.c_str());
}

// Splits "host:port", "[v6]:port" or "host" (port 3000).
bool split_address(const std::string& text, std::string& host, std::string& port) {
  port = "3000";
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos) return false;
    host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') return false;
      port = text.substr(close + 2);
    }
  } else {
    const auto colon = text.rfind(':');
    host = text.substr(0, colon);
    if (colon != std::string::npos) port = text.substr(colon + 1);
  }
  return !host.empty() && !port.empty();
}

// A port a client can connect to: 1..65535 in decimal (getaddrinfo would take
// 99999 and wrap it to another port).
bool valid_port(const std::string& port) {
  if (port.empty() || port.size() > 5) return false;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
  }
  const int value = std::stoi(port);
  return value >= 1 && value <= 65'535;
}

int connect_to(const std::string& host, const std::string& port, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* results = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &results); rc != 0) {
    error = ::gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (addrinfo* ai = results; ai != nullptr; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
    error = std::strerror(errno);
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(results);
  return fd;
}

class Reader {
 public:
  explicit Reader(int fd) : fd_(fd), decoder_(reply_bytes_max) {}
  enum class Outcome { frame, closed, timed_out, error };
  // Waits up to timeout_ms for one frame.
  Outcome read_frame(int timeout_ms, std::string& frame) {
    for (;;) {
      const auto next = decoder_.next();
      if (next.status == bank::FrameDecoder::Status::frame) {
        frame.assign(next.frame);
        return Outcome::frame;
      }
      if (next.status == bank::FrameDecoder::Status::too_large) return Outcome::error;
      pollfd pfd{fd_, POLLIN, 0};
      const int ready = ::poll(&pfd, 1, timeout_ms);
      if (ready < 0 && errno == EINTR) continue;
      if (ready == 0) return Outcome::timed_out;
      char buffer[65536];
      const ssize_t got = ::recv(fd_, buffer, sizeof buffer, 0);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) return Outcome::error;
      if (got == 0) return Outcome::closed;
      decoder_.feed(std::string_view(buffer, static_cast<std::size_t>(got)));
    }
  }

 private:
  int fd_;
  bank::FrameDecoder decoder_;
};

bool send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t sent = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(sent));
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "dst_demo_tcp_client: talk to a dst_demo_server. Each line you type is sent as one NUL-terminated "
      "frame\n"
      "and the server's reply is printed. Try HEALTH, CREATE_TRANSACTION (then an amount), "
      "VOID_TRANSACTION,\n"
      "GET_TRANSACTION (then an id), LIST_TRANSACTIONS, GET_BALANCE, CLOSE.\n"
      "Scriptable: printf 'HEALTH\\n' | dst_demo_tcp_client 127.0.0.1:3000\n"
      "Exit status: 0 every line was answered (or CLOSE ended it); 1 the connection failed, timed out or "
      "was\n"
      "closed by the server (an idle timeout, say); 2 a usage error (a bad flag or address).",
      "dst_demo_tcp_client"};
  std::string address = "127.0.0.1:3000";
  int timeout_s = 30;
  app.add_option("address", address, "Server address as HOST:PORT")->capture_default_str();
  app.add_option("--timeout-s", timeout_s, "How long to wait for each reply")
      ->check(CLI::Range(1, 86'400))
      ->capture_default_str();
  if (const auto exit_code = dst_demo::cli::parse(app, argc, argv)) return *exit_code;

  std::string host;
  std::string port;
  if (!split_address(address, host, port)) {
    fail_line("'" + address + "' is not an address; expected HOST:PORT such as 127.0.0.1:3000");
    return dst_demo::cli::usage_error_exit;
  }
  if (!valid_port(port)) {
    fail_line("'" + address + "': the port '" + port + "' is not a port from 1 to 65535");
    return dst_demo::cli::usage_error_exit;
  }
  std::string error;
  const int fd = connect_to(host, port, error);
  if (fd < 0) {
    fail_line("cannot connect to " + address + ": " + error);
    return 1;
  }
  const bool interactive = ::isatty(STDIN_FILENO) != 0;
  if (interactive) std::printf("connected to %s; type an action, Ctrl-D to quit\n", address.c_str());

  Reader reader(fd);
  // What the server sent unasked (its idle-timeout notice before it closes
  // the connection) is shown as such, never as the reply to the next line.
  // True when the connection is gone.
  auto connection_lost = [&] {
    for (;;) {
      std::string notice;
      const auto outcome = reader.read_frame(0, notice);
      if (outcome == Reader::Outcome::timed_out) return false;
      if (outcome == Reader::Outcome::frame) {
        fail_line("the server said, unasked: " + notice);
        continue;
      }
      fail_line(outcome == Reader::Outcome::closed
                    ? "connection closed by the server"
                    : "connection to " + address + " failed: " + std::string(std::strerror(errno)));
      return true;
    }
  };
  int exit_code = 0;
  for (;;) {
    auto line = dst_demo::read_prompt_line("> ", interactive);
    if (connection_lost()) {
      exit_code = 1;
      break;
    }
    if (!line) break;
    const std::string_view frame = bank::trim_ascii_whitespace(*line);
    if (frame.empty()) continue;
    std::string bytes;
    bank::append_frame(bytes, frame);
    if (!send_all(fd, bytes)) {
      fail_line("connection to " + address + " lost while sending");
      exit_code = 1;
      break;
    }
    const bool expects_close = frame == "CLOSE" || frame == "EXIT";
    std::string reply;
    const auto outcome = reader.read_frame(timeout_s * 1000, reply);
    if (outcome == Reader::Outcome::frame) {
      std::printf("%s\n", reply.c_str());
      std::fflush(stdout);
      continue;
    }
    if (outcome == Reader::Outcome::closed && expects_close) break;
    if (outcome == Reader::Outcome::closed) fail_line("connection closed by the server");
    if (outcome == Reader::Outcome::timed_out)
      fail_line("no reply within " + std::to_string(timeout_s) + " s");
    if (outcome == Reader::Outcome::error)
      fail_line("connection to " + address + " failed: " + std::strerror(errno));
    exit_code = 1;
    break;
  }
  ::close(fd);
  return exit_code;
}
