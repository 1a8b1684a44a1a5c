#pragma once
// The ERROR replies by kind (docs/PROTOCOL.md, "Errors by kind").
//
// The texts are the protocol's and stay as they are: a client of the original
// looks for "ERROR " and shows a person the rest. A program that must tell
// errors apart (the simulator, the tests, a client that retries) asks
// error_kind() and never matches the prose. The texts a program tells apart
// are built here, from the same stems error_kind() reads, so that rewording
// one changes its text and its classification together; tests/test_errors.cpp
// drives the server through every error it can send and checks each one's
// kind.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bank {

enum class ErrorKind : std::uint8_t {
  none,                  // Not an ERROR reply.
  request,               // A malformed request (unknown action; bad amount, id or key): nothing recorded.
  frame_too_large,       // A frame over the limit: the connection closes after this reply.
  already_voided,        // A VOID of a transaction voided before: nothing recorded.
  reversal,              // A VOID of a reversal: nothing recorded.
  overflow,              // The write would take the balance out of range: nothing recorded.
  disk,                  // The journal failed under this write: its outcome is unknown.
  writes_disabled,       // Writes are refused until a restart (a disk failed): nothing recorded.
  shutting_down,         // The server is stopping: nothing recorded.
  exit_disabled,         // EXIT without --allow-remote-exit.
  idle_timeout,          // Sent unasked: the connection was idle and closes.
  too_many_connections,  // Sent unasked: past the connection limit; the connection closes.
  unknown,               // An ERROR no stem matches (a server of another version).
};

// The kind's stable word, as docs/PROTOCOL.md lists it ("request", "disk", ...).
std::string_view error_kind_word(ErrorKind kind);
ErrorKind error_kind(std::string_view reply);
// Whether a write answered with this kind may have been recorded (only a disk
// failure leaves that unknown; every other ERROR records nothing).
inline bool outcome_unknown(ErrorKind kind) {
  return kind == ErrorKind::disk;
}

// The reasons (what follows "ERROR ") of the errors above that carry values.
namespace error_text {
std::string already_voided(std::uint64_t target_id, std::uint64_t by_id);
std::string reversal(std::uint64_t target_id, std::uint64_t original_id);
std::string create_overflow(std::string_view amount);
std::string void_overflow(std::uint64_t target_id);
std::string frame_too_large(std::size_t limit_bytes);
std::string disk_failed(std::string_view operation, std::string_view cause);
std::string writes_disabled();
std::string shutting_down();
std::string shutting_down_nothing_recorded();
std::string exit_disabled();
}  // namespace error_text

// A VOID refused by the ledger's rules, and the transactions it names.
struct VoidRefusal {
  ErrorKind kind = ErrorKind::none;  // already_voided or reversal.
  std::uint64_t target_id = 0;       // The transaction the VOID named.
  std::uint64_t other_id = 0;        // The reversal that voided it, or the original it reverses.
};
std::optional<VoidRefusal> parse_void_refusal(std::string_view reply);

}  // namespace bank
