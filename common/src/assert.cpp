#include "bank/assert.hpp"

#include <cstdio>
#include <cstdlib>

namespace bank {

void assert_fail(const char* condition, const char* file, int line, const char* message) {
  std::fprintf(stderr, "assertion failed: %s\n  at %s:%d\n", condition, file, line);
  if (message != nullptr) std::fprintf(stderr, "  %s\n", message);
  std::fflush(stderr);
  std::abort();
}

}  // namespace bank
