#include "bank/planted_bugs.hpp"

namespace bank::planted_bugs {

const char* names() {
#ifdef DST_DEMO_PLANTED_PATCH
  // A bug planted by a patch to a copy of one source (common/zoo/).
  return DST_DEMO_PLANTED_PATCH;
#endif
  // At most one bug is planted per build.
  if constexpr (epochalypse) return "epochalypse";
  if constexpr (balance_not_rebuilt) return "balance_not_rebuilt";
  if constexpr (reply_before_sync) return "reply_before_sync";
  if constexpr (keys_ignored) return "keys_ignored";
  if constexpr (void_twice) return "void_twice";
  if constexpr (recovery_trusts_page_cache) return "recovery_trusts_page_cache";
  if constexpr (skips_directory_sync) return "skips_directory_sync";
  if constexpr (keeps_failed_writes) return "keeps_failed_writes";
  if constexpr (cuts_rotten_records) return "cuts_rotten_records";
  return "";
}

}  // namespace bank::planted_bugs
