#include "bank/assert.hpp"

#include <cstdio>
#include <cstdlib>

namespace bank {

namespace {
// Per thread, and set by a run only for its own duration: nothing is shared
// between runs through it.
thread_local AssertHandler assert_handler = nullptr;
}  // namespace

AssertHandler set_assert_handler_for_this_thread(AssertHandler handler) {
  const AssertHandler previous = assert_handler;
  assert_handler = handler;
  return previous;
}

void assert_fail(const char* condition, const char* file, int line, const char* message) {
  if (const AssertHandler handler = assert_handler) {
    assert_handler = nullptr;
    handler(condition, file, line, message);  // Throws; never returns.
  }
  std::fprintf(stderr, "assertion failed: %s\n  at %s:%d\n", condition, file, line);
  if (message != nullptr) std::fprintf(stderr, "  %s\n", message);
  std::fflush(stderr);
  std::abort();
}

}  // namespace bank
