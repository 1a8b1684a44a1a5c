// Fuzz target: journal recovery from arbitrary bytes. It either refuses with a
// reason or yields a ledger whose records, written again, are the file as
// Journal::open leaves it (torn tail cut, torn trailers mended) and recover
// the same.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "bank/journal.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto recovered = bank::recover_journal(bytes, "fuzz.journal");
  if (!recovered.ok()) {
    BANK_ASSERT(recovered.error().message.find("fuzz.journal") != std::string::npos);
    return 0;
  }
  BANK_ASSERT(recovered->valid_bytes + recovered->torn_bytes == size);
  // What Journal::open leaves: the torn tail cut, each torn trailer written again.
  std::string mended(bytes.substr(0, recovered->valid_bytes));
  for (const auto& repair : recovered->torn_trailers) {
    BANK_ASSERT(repair.offset + repair.bytes.size() <= mended.size());
    mended.replace(repair.offset, repair.bytes.size(), repair.bytes);
  }
  std::string rewritten;
  for (const auto& t : recovered->ledger.list()) bank::encode_record(rewritten, t);
  BANK_ASSERT(rewritten == mended);
  auto again = bank::recover_journal(rewritten, "fuzz.journal");
  BANK_ASSERT(again.ok());
  BANK_ASSERT(again->torn_trailers.empty() && again->torn_bytes == 0);
  BANK_ASSERT(again->ledger.durable_count() == recovered->ledger.durable_count());
  BANK_ASSERT(again->ledger.balance() == recovered->ledger.balance());
  return 0;
}
