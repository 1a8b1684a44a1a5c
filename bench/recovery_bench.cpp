// Recovery speed: time to rebuild the ledger from a journal of 1,000,000
// transactions, and memory held per transaction, next to the goal.

#include <malloc.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "bank/journal.hpp"

namespace {
// Heap bytes in use right now (glibc).
std::size_t heap_bytes() {
  const auto info = ::mallinfo2();
  return info.uordblks + info.hblkhd;  // Small blocks in use, and large ones mapped on their own.
}
}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t count = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  std::string journal;
  journal.reserve(count * 60);
  bank::Ledger writer;
  for (std::uint64_t i = 1; i <= count; ++i) {
    // Every tenth write voids the one before it; half carry an idempotency key.
    const std::int64_t now_s = 1'745'529'640 + static_cast<std::int64_t>(i / 100);
    const std::string key = i % 2 == 0 ? "banker" + std::to_string(i % 15) + "-" + std::to_string(i) : "";
    auto staged =
        (i % 10 == 0)
            ? writer.stage_void(i - 1, now_s, key)
            : writer.stage_create(bank::Money{static_cast<std::int64_t>(i % 100'000) - 50'000}, now_s, key);
    if (!staged.ok() || staged->id == 0) staged = writer.stage_create(bank::Money{1}, now_s, key + "x");
    writer.mark_durable(writer.staged_last_id());
    bank::encode_record(journal, *writer.get(writer.staged_last_id()));
  }
  const std::uint64_t transactions = writer.durable_count();
  writer = bank::Ledger{};
  const std::size_t heap_before = heap_bytes();
  const auto start = std::chrono::steady_clock::now();
  auto recovered = bank::recover_journal(journal, "bench.journal");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!recovered.ok()) {
    std::fprintf(stderr, "recovery failed: %s\n", recovered.error().message.c_str());
    return 1;
  }
  const std::size_t heap_after = heap_bytes();
  std::printf("recovery: %llu transactions (%.1f MB of journal) in %.3f s (goal: under 0.3 s), balance %s\n",
              static_cast<unsigned long long>(recovered->ledger.durable_count()),
              static_cast<double>(journal.size()) / 1e6, seconds,
              bank::format_money(recovered->ledger.balance()).c_str());
  std::printf(
      "memory: %.0f bytes of heap held per transaction (%.1f MB for %llu transactions: the ledger, its "
      "cached LIST text and the idempotency keys; the journal's bytes excluded)\n",
      static_cast<double>(heap_after - heap_before) / static_cast<double>(transactions),
      static_cast<double>(heap_after - heap_before) / 1e6, static_cast<unsigned long long>(transactions));
  return 0;
}
