#include "bank/planted_bugs.hpp"

namespace bank::planted_bugs {

const char* names() {
  if constexpr (epochalypse) return "epochalypse";
  return "";
}

}  // namespace bank::planted_bugs
