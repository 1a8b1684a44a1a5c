// Simulator speed: fixed seeds, 15 bankers, one core. Reports bank
// interactions per wall second, simulated seconds per wall second, events per
// second and peak memory, next to the goals they are measured against, then
// runs per second at 1 and 2 threads.

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "plan.hpp"
#include "run.hpp"

namespace {

struct Totals {
  std::uint64_t interactions = 0;
  std::uint64_t events = 0;
  std::int64_t simulated_ms = 0;
  std::uint64_t failed = 0;
};

bank_sim::Plans plans_for(std::uint64_t seed, std::int64_t step_ms, std::uint32_t interactions) {
  bank_sim::KnobOverrides overrides;
  overrides.banker_count = 15;
  overrides.step_ms = step_ms;
  bank_sim::Knobs knobs = bank_sim::draw_knobs(seed, overrides);
  knobs.interactions_per_banker = interactions;
  return bank_sim::generate_plans(knobs);
}

void run_range(std::uint64_t first, std::uint64_t count, std::int64_t step_ms, std::uint32_t interactions,
               Totals& totals) {
  bank_sim::RunOptions options;
  options.log_level = bank::LogLevel::off;
  for (std::uint64_t seed = first; seed < first + count; ++seed) {
    const auto result = bank_sim::run_simulation(plans_for(seed, step_ms, interactions), options);
    totals.interactions += result.stats.interactions_done;
    totals.events += result.events;
    totals.simulated_ms += result.simulated_ms;
    totals.failed += result.passed() ? 0 : 1;
  }
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t runs = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 64;
  std::printf(
      "simulator benchmark: %llu fixed seeds (1..%llu), 15 bankers, step 1 ms, 120 interactions each\n",
      static_cast<unsigned long long>(runs), static_cast<unsigned long long>(runs));

  // One core.
  Totals one;
  auto start = std::chrono::steady_clock::now();
  run_range(1, runs, 1, 120, one);
  const double one_s = seconds_since(start);
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  std::printf(
      "  1 thread : %.2f s wall, %.0f interactions/s (goal 200000), %.0f simulated s per wall s, %.0f "
      "events/s, "
      "%llu failed runs\n",
      one_s, static_cast<double>(one.interactions) / one_s,
      static_cast<double>(one.simulated_ms) / 1e3 / one_s, static_cast<double>(one.events) / one_s,
      static_cast<unsigned long long>(one.failed));
  std::printf("  peak memory: %ld MiB (max RSS)\n", usage.ru_maxrss / 1024);

  // An hour of simulated traffic from 15 bankers, in one run.
  {
    bank_sim::RunOptions options;
    options.log_level = bank::LogLevel::off;
    bank_sim::KnobOverrides overrides;
    overrides.banker_count = 15;
    overrides.step_ms = 1;
    overrides.epoch_offset_ms = 1'745'529'640'464;
    overrides.duration_steps = 3'600'000;  // One hour of 1 ms steps.
    bank_sim::Knobs knobs = bank_sim::draw_knobs(7, overrides);
    knobs.swarm = bank_sim::Swarm{};            // Traffic only,
    knobs.parameters = bank_sim::Parameters{};  // with the default network and disk.
    auto plans = bank_sim::generate_plans(knobs);
    for (auto& banker : plans.bankers) {
      // Sleep-heavy bankers that keep going for the whole hour.
      banker.interactions.clear();
      for (int i = 0; i < 4'000; ++i) {
        banker.interactions.push_back(bank_sim::Interaction{bank_sim::BankerOp::sleep, 900, {}, {}});
        bank_sim::Interaction op;
        op.op = i % 3 == 0   ? bank_sim::BankerOp::create
                : i % 3 == 1 ? bank_sim::BankerOp::balance
                             : bank_sim::BankerOp::get;
        op.amount = bank::Money{1234};
        banker.interactions.push_back(op);
      }
    }
    start = std::chrono::steady_clock::now();
    const auto result = bank_sim::run_simulation(plans, options);
    const double hour_s = seconds_since(start);
    std::printf(
        "  an hour of traffic: %.1f simulated s, %llu interactions, in %.3f s wall (goal: under 0.2 s)%s\n",
        static_cast<double>(result.simulated_ms) / 1e3,
        static_cast<unsigned long long>(result.stats.interactions_done), hour_s,
        result.passed() ? "" : " FAILED");
  }

  // Runs per second at 1 and 2 threads (shorter runs).
  for (unsigned threads : {1u, 2u}) {
    const std::uint64_t each = runs / threads;
    std::vector<Totals> totals(threads);
    std::vector<std::thread> pool;
    start = std::chrono::steady_clock::now();
    for (unsigned t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] { run_range(1000 + t * each, each, 1, 40, totals[t]); });
    }
    for (auto& p : pool) p.join();
    const double s = seconds_since(start);
    std::printf("  %u thread%s: %.1f runs/s (%llu runs of 40 interactions per banker)\n", threads,
                threads == 1 ? " " : "s", static_cast<double>(each * threads) / s,
                static_cast<unsigned long long>(each * threads));
  }
  return 0;
}
