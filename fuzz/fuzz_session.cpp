// Fuzz target: bytes from a client, in chunks, through the frame decoder and
// the session, applied to a ledger whose invariants are checked throughout.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "bank/framing.hpp"
#include "bank/ledger.hpp"
#include "bank/session.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // The first byte picks the chunk size, so one input also tests framing splits.
  const std::size_t chunk_bytes = 1 + data[0] % 64;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  bank::FrameDecoder decoder(256);
  bank::Session session;
  bank::Ledger ledger;
  std::int64_t now_s = 1'745'529'640;
  for (std::size_t at = 0; at < input.size(); at += chunk_bytes) {
    decoder.feed(input.substr(at, chunk_bytes));
    for (;;) {
      const auto next = decoder.next();
      if (next.status == bank::FrameDecoder::Status::need_more) break;
      if (next.status == bank::FrameDecoder::Status::too_large) return 0;  // The server closes here.
      const bank::SessionAction action = session.handle_frame(next.frame);
      now_s += 1;
      if (action.kind == bank::SessionAction::Kind::create) {
        if (ledger.stage_create(action.amount, now_s, action.key).ok())
          ledger.mark_durable(ledger.staged_last_id());
      } else if (action.kind == bank::SessionAction::Kind::void_) {
        auto staged = ledger.stage_void(action.id, now_s, action.key);
        if (staged.ok() && staged->id != 0) ledger.mark_durable(ledger.staged_last_id());
      } else if (action.kind == bank::SessionAction::Kind::reply) {
        BANK_ASSERT(!action.reply.empty());
      }
    }
  }
  ledger.check_invariants();
  return 0;
}
