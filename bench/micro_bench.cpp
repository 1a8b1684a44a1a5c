// Micro-benchmarks of the hot paths under every request, with Google
// Benchmark: frame decoding, amount parsing and formatting, journal record
// encoding and decoding, and the simulator's event queue. They tell where a
// request's time goes before a change, and whether the change helped:
//   build/release/bench/micro_bench [--benchmark_filter=REGEX]

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bank/framing.hpp"
#include "bank/journal.hpp"
#include "bank/money.hpp"
#include "sim/world.hpp"

namespace {

// A pipelined burst as it comes off the wire: 64 requests in one read.
void frame_decoding(benchmark::State& state) {
  std::string wire;
  for (int i = 0; i < 16; ++i) {
    bank::append_frame(wire, "CREATE_TRANSACTION");
    bank::append_frame(wire, "125.50");
    bank::append_frame(wire, "GET_BALANCE");
    bank::append_frame(wire, "HEALTH");
  }
  bank::FrameDecoder decoder;
  for (auto _ : state) {
    decoder.feed(wire);
    for (auto next = decoder.next(); next.status == bank::FrameDecoder::Status::frame;
         next = decoder.next()) {
      benchmark::DoNotOptimize(next.frame.data());
    }
  }
  state.SetItemsProcessed(state.iterations() * 64);
}
BENCHMARK(frame_decoding);

void amount_parsing(benchmark::State& state) {
  const std::vector<std::string> amounts = {"125.50", "-0.05", "+0005.10", "12.5", " 99999.99\r\n", "7"};
  for (auto _ : state) {
    for (const auto& text : amounts) benchmark::DoNotOptimize(bank::parse_amount(text));
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(amounts.size()));
}
BENCHMARK(amount_parsing);

void amount_formatting(benchmark::State& state) {
  const auto amount = bank::parse_amount("-12345.67");
  std::string out;
  for (auto _ : state) {
    out.clear();
    bank::append_money(out, *amount);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(amount_formatting);

bank::Transaction sample_transaction() {
  bank::Transaction t;
  t.id = 123'456;
  t.created_at_s = 1'745'529'640;
  t.amount = *bank::parse_amount("125.50");
  t.key = "b3-17";
  return t;
}

void record_encoding(benchmark::State& state) {
  const bank::Transaction t = sample_transaction();
  std::string out;
  for (auto _ : state) {
    out.clear();
    bank::encode_record(out, t);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(out.size()));
}
BENCHMARK(record_encoding);

void record_decoding(benchmark::State& state) {
  std::string bytes;
  bank::encode_record(bytes, sample_transaction());
  for (auto _ : state) {
    auto decoded = bank::decode_record(bytes);
    benchmark::DoNotOptimize(decoded.record_bytes);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes.size()));
}
BENCHMARK(record_decoding);

// The simulator's event queue: `state.range(0)` events pending, each run
// schedules its successor a few steps later (as actors and links do).
void event_queue(benchmark::State& state) {
  sim::World world(42, 1'000'000, 1);
  const auto pending = state.range(0);
  std::int64_t delay = 0;
  std::function<void()> tick = [&] { world.schedule_after(1 + (delay++ % 7), "tick", tick); };
  for (std::int64_t i = 0; i < pending; ++i) world.schedule_after(i % 5, "tick", tick);
  for (auto _ : state) world.run_next(INT64_MAX);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(event_queue)->Arg(16)->Arg(256)->Arg(4096);

}  // namespace

BENCHMARK_MAIN();
