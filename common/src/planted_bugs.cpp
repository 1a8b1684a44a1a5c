#include "bank/planted_bugs.hpp"

namespace bank::planted_bugs {

const char* names() {
#ifdef DST_DEMO_PLANTED_PATCH
  return DST_DEMO_PLANTED_PATCH;  // A zoo build: common/zoo/<this name>.patch applied to a copy of one
                                  // source.
#else
  return "";
#endif
}

}  // namespace bank::planted_bugs
