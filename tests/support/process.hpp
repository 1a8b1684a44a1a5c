#pragma once
// Real processes and real sockets for the integration tests: start the server
// binary on an ephemeral port with a fresh data dir, talk to it over TCP.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bank/framing.hpp"

extern char** environ;

namespace test_support {

inline std::string make_temp_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "dst_demo_test_XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return pattern;
}

struct SpawnResult {
  pid_t pid = -1;
  int stdout_fd = -1;
  int stdin_fd = -1;
};

// Starts argv[0] with stdout (and optionally stdin) on pipes; stderr goes to stderr_path.
inline SpawnResult spawn(const std::vector<std::string>& args, const std::string& stderr_path,
                         bool pipe_stdin = false) {
  int out[2];
  int in[2] = {-1, -1};
  if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  if (pipe_stdin && ::pipe2(in, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  if (pipe_stdin) posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  if (pipe_stdin) ::close(in[0]);
  if (rc != 0) throw std::runtime_error("posix_spawn failed: " + args[0]);
  return SpawnResult{pid, out[0], pipe_stdin ? in[1] : -1};
}

// Reads one line (blocking, with a deadline); nullopt on EOF or timeout.
inline std::optional<std::string> read_line(int fd, int timeout_ms = 20'000) {
  std::string line;
  for (;;) {
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, timeout_ms) <= 0) return std::nullopt;
    char c = 0;
    const ssize_t got = ::read(fd, &c, 1);
    if (got <= 0) return std::nullopt;
    if (c == '\n') return line;
    line.push_back(c);
  }
}

// A LIST_TRANSACTIONS reply's lines.
inline std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

inline std::string read_all(int fd) {
  std::string all;
  char buffer[4096];
  for (;;) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got <= 0) return all;
    all.append(buffer, static_cast<std::size_t>(got));
  }
}

inline int wait_exit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

class ServerProcess {
 public:
  // shell_setup, when not empty, runs in a shell that then execs the server:
  // `ulimit -n 64`, or `export LD_PRELOAD=...`.
  explicit ServerProcess(std::string data_dir, std::vector<std::string> extra = {},
                         std::string shell_setup = {})
      : data_dir_(std::move(data_dir)) {
    std::vector<std::string> args;
    if (!shell_setup.empty()) args = {"/bin/sh", "-c", shell_setup + " && exec \"$0\" \"$@\""};
    for (const std::string& a :
         {std::string(DST_DEMO_SERVER_PATH), std::string("--port"), std::string("0"), std::string("--addr"),
          std::string("127.0.0.1"), std::string("--data-dir"), data_dir_})
      args.push_back(a);
    for (auto& e : extra) args.push_back(e);
    // The server's log goes beside its data dir, for a failing test to show.
    const auto spawned =
        spawn(args, (std::filesystem::path(data_dir_).parent_path() / "server.log").string());
    pid_ = spawned.pid;
    stdout_fd_ = spawned.stdout_fd;
    const auto line = read_line(stdout_fd_);
    if (!line || line->rfind("listening on ", 0) != 0) {
      throw std::runtime_error("server did not start: " + line.value_or("<no output>"));
    }
    port_ = static_cast<std::uint16_t>(std::stoi(line->substr(line->rfind(':') + 1)));
  }
  ~ServerProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      wait_exit(pid_);
    }
    if (stdout_fd_ >= 0) ::close(stdout_fd_);
  }
  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  // Resident memory in KiB, from /proc.
  long rss_kib() const {
    std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    }
    return -1;
  }
  // Waits for the process to exit by itself; its exit code.
  int wait() {
    const int code = wait_exit(pid_);
    pid_ = -1;
    return code;
  }
  // Waits at most timeout_ms for the process to exit by itself: its exit
  // code, or nullopt (still running) on the deadline.
  std::optional<int> wait_for(int timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      int status = 0;
      const pid_t done = ::waitpid(pid_, &status, WNOHANG);
      if (done == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  void kill9() {
    ::kill(pid_, SIGKILL);
    wait_exit(pid_);
    pid_ = -1;
  }
  int terminate() {
    ::kill(pid_, SIGTERM);
    const int code = wait_exit(pid_);
    pid_ = -1;
    return code;
  }

 private:
  std::string data_dir_;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::uint16_t port_ = 0;
};

class TcpClient {
 public:
  explicit TcpClient(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~TcpClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  TcpClient(const TcpClient&) = delete;
  TcpClient& operator=(const TcpClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  bool send_raw(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (sent <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(sent));
    }
    return true;
  }
  bool send_frame(std::string_view payload) {
    std::string bytes;
    bank::append_frame(bytes, payload);
    return send_raw(bytes);
  }
  // The next frame; nullopt when the connection closed or nothing came in time.
  std::optional<std::string> read_frame(int timeout_ms = 20'000) {
    for (;;) {
      auto next = decoder_.next();
      if (next.status == bank::FrameDecoder::Status::frame) return std::string(next.frame);
      pollfd pfd{fd_, POLLIN, 0};
      if (::poll(&pfd, 1, timeout_ms) <= 0) return std::nullopt;
      char buffer[65536];
      const ssize_t got = ::recv(fd_, buffer, sizeof buffer, 0);
      if (got <= 0) return std::nullopt;
      decoder_.feed(std::string_view(buffer, static_cast<std::size_t>(got)));
    }
  }
  std::string request(std::string_view frame) {
    if (!send_frame(frame)) return "<send failed>";
    return read_frame().value_or("<no reply>");
  }
  // True when the server closed the connection (EOF) within timeout_ms.
  bool closed_by_peer(int timeout_ms = 20'000) {
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, timeout_ms) <= 0) return false;
    char c;
    return ::recv(fd_, &c, 1, 0) <= 0;
  }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  bank::FrameDecoder decoder_{1 << 26};
};

// Polls `done` until it holds or timeout_ms pass; false on the deadline. For
// waits on other threads or processes that must not become a hang.
template <class Done>
bool wait_until(Done done, int timeout_ms = 60'000) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// A reply a test client reads when the server is gone (killed, say).
inline bool server_gone(const std::string& reply) {
  return reply == "<no reply>" || reply == "<send failed>";
}

// A whole file's bytes; empty when it cannot be read.
inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Writes all of `bytes` to fd (a child's stdin, say); false if it could not.
inline bool write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t written = ::write(fd, bytes.data(), bytes.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(written));
  }
  return true;
}

// What a shell command printed (stdout, then stderr) and how it exited.
struct Ran {
  int exit_code;
  std::string out;
};

inline Ran run_shell(const std::string& command) {
  const auto dir = make_temp_dir();
  auto spawned = spawn({"/bin/sh", "-c", command}, dir + "/stderr.log");
  std::string out = read_all(spawned.stdout_fd);
  ::close(spawned.stdout_fd);
  const int code = wait_exit(spawned.pid);
  return Ran{code, out + read_file(dir + "/stderr.log")};
}

}  // namespace test_support
