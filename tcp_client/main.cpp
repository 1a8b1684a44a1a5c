// dst_demo_tcp_client: type a line, it is sent as one frame, the reply is
// printed. Line editing and history on a terminal; plain lines from a pipe.

#include <editline/readline.h>
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

// The lines a person types (with line editing on a terminal) or a pipe
// holds, read while the connection is watched too: what the server sends
// unasked is printed when it arrives, not when the next line is typed.
class LineSource {
 public:
  explicit LineSource(bool interactive) : interactive_(interactive) {}

  enum class Outcome { line, end, socket_readable };
  // Waits for a whole line from the input, or for the socket to have
  // something to read (or to close), whichever comes first.
  Outcome wait(int socket_fd, std::string& line) {
    if (interactive_) return wait_typed(socket_fd, line);
    for (;;) {
      if (take_line(line)) return Outcome::line;
      if (ended_) return Outcome::end;
      const int ready = wait_readable(socket_fd);
      if (ready == socket_fd) return Outcome::socket_readable;
      if (ready == STDIN_FILENO) read_input();
      if (ready < 0) return Outcome::end;
    }
  }

  // Prints a line from the client over the prompt.
  void print_over_prompt(const std::string& text) const {
    std::fprintf(stderr, "%sdst_demo_tcp_client: %s\n", interactive_ ? "\r\033[K" : "", text.c_str());
    std::fflush(stderr);
  }

 private:
  // Waits until stdin or the socket can be read; returns which (the socket
  // first), or -1 on an error.
  static int wait_readable(int socket_fd) {
    for (;;) {
      pollfd fds[2] = {{socket_fd, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
      const int ready = ::poll(fds, 2, -1);
      if (ready < 0 && errno == EINTR) continue;
      if (ready < 0) return -1;
      if (fds[0].revents != 0) return socket_fd;
      if (fds[1].revents != 0) return STDIN_FILENO;
    }
  }

  // libedit reads each key through this: a socket with something to say ends
  // the line being typed (as an end of input would), and wait_typed says why.
  static int getc_watching_socket(FILE*) {
    if (wait_readable(watched_socket_) == watched_socket_) {
      socket_spoke_ = true;
      return EOF;
    }
    unsigned char c = 0;
    for (;;) {
      const ssize_t got = ::read(STDIN_FILENO, &c, 1);
      if (got < 0 && errno == EINTR) continue;
      return got == 1 ? c : EOF;
    }
  }

  Outcome wait_typed(int socket_fd, std::string& line) {
    watched_socket_ = socket_fd;
    socket_spoke_ = false;
    rl_getc_function = &LineSource::getc_watching_socket;
    char* raw = ::readline("> ");
    if (raw == nullptr) return socket_spoke_ ? Outcome::socket_readable : Outcome::end;
    line = raw;
    std::free(raw);
    if (line.find_first_not_of(" \t\r\n") != std::string::npos) ::add_history(line.c_str());
    return Outcome::line;
  }

  void read_input() {
    char buffer[4096];
    const ssize_t got = ::read(STDIN_FILENO, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) return;
    if (got <= 0) {
      ended_ = true;
      // A last line without its newline is still a line.
      if (!pending_.empty() && pending_.back() != '\n') pending_ += '\n';
      return;
    }
    pending_.append(buffer, static_cast<std::size_t>(got));
  }

  bool take_line(std::string& line) {
    const auto newline = pending_.find('\n');
    if (newline == std::string::npos) return false;
    line = pending_.substr(0, newline);
    pending_.erase(0, newline + 1);
    return true;
  }

  // The getc hook's view of the connection (libedit takes a plain function).
  static inline int watched_socket_ = -1;
  static inline bool socket_spoke_ = false;
  bool interactive_;
  bool ended_ = false;
  std::string pending_;  // Input read, not yet handed out as lines.
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
  LineSource input(interactive);
  // What the server sent unasked (its idle-timeout notice before it closes
  // the connection) is shown as such, when it arrives, never as the reply to
  // the next line. True when the connection is gone.
  auto connection_lost = [&] {
    for (;;) {
      std::string notice;
      const auto outcome = reader.read_frame(0, notice);
      if (outcome == Reader::Outcome::timed_out) return false;
      if (outcome == Reader::Outcome::frame) {
        input.print_over_prompt("the server said, unasked: " + notice);
        continue;
      }
      input.print_over_prompt(outcome == Reader::Outcome::closed ? "connection closed by the server"
                                                                 : "connection to " + address + " failed: " +
                                                                       std::string(std::strerror(errno)));
      return true;
    }
  };
  int exit_code = 0;
  for (;;) {
    std::string line;
    const auto waited = input.wait(fd, line);
    if (waited == LineSource::Outcome::socket_readable) {
      if (connection_lost()) {
        exit_code = 1;
        break;
      }
      continue;
    }
    if (waited == LineSource::Outcome::end) break;
    const std::string_view frame = bank::trim_ascii_whitespace(line);
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
