#include "shrink.hpp"

#include <fmt/format.h>

#include <functional>

namespace bank_sim {

std::size_t plan_size(const Plans& plans) {
  return count_interactions(plans) + count_faults(plans);
}

namespace {

// How many universes a shrink candidate is tried in before it counts as passing.
constexpr std::uint64_t universes_per_candidate = 3;
// cut_all_tails keeps k/fraction_steps of every list.
constexpr std::size_t fraction_steps = 64;

class Shrinker {
 public:
  Shrinker(const std::string& invariant, std::size_t runs_max) : invariant_(invariant), runs_max_(runs_max) {}

  // True when the plans still fail with the same invariant. Removing one
  // interaction shifts every random draw after it (latencies, event order), so
  // a smaller plan that would fail often misses by luck alone: a candidate
  // also gets a few other universes (seeds for the world's randomness, the
  // plans unchanged), and keeps the seed of the first one that fails.
  bool fails(Plans& plans) {
    const std::uint64_t seed = plans.knobs.seed;
    for (std::uint64_t universe = 0; universe < universes_per_candidate && runs_ < runs_max_; ++universe) {
      ++runs_;
      plans.knobs.seed = universe == 0 ? seed : sim::mix64(seed + universe);
      RunOptions options;
      options.log_level = bank::LogLevel::off;
      const RunResult result = run_simulation(plans, options);
      if (result.failure && result.failure->invariant == invariant_) return true;
    }
    plans.knobs.seed = seed;
    return false;
  }

  // Delta debugging over one list of a plan, chunks first, then one by one.
  template <class Item>
  bool ddmin(Plans& plans, std::vector<Item>& items) {
    bool shrunk = false;
    std::size_t parts = 2;
    while (!items.empty() && runs_ < runs_max_) {
      const std::size_t chunk = (items.size() + parts - 1) / parts;
      bool removed = false;
      for (std::size_t start = 0; start < items.size() && runs_ < runs_max_; start += chunk) {
        std::vector<Item> kept = items;
        kept.erase(kept.begin() + static_cast<std::ptrdiff_t>(start),
                   kept.begin() + static_cast<std::ptrdiff_t>(std::min(items.size(), start + chunk)));
        std::swap(items, kept);
        if (fails(plans)) {
          removed = shrunk = true;
          parts = std::max<std::size_t>(parts - 1, 2);
          break;
        }
        std::swap(items, kept);
      }
      if (!removed) {
        if (parts >= items.size()) break;
        parts = std::min(items.size(), parts * 2);
      }
    }
    return shrunk;
  }

  // Cuts the end of a list at once: what happens after the failure cannot
  // matter to it, yet one by one it would cost a run per item. Binary search
  // for the shortest prefix that still fails.
  template <class Item>
  bool cut_tail(Plans& plans, std::vector<Item>& items) {
    std::size_t low = 0;              // Prefixes this long or shorter were not tried, or passed.
    std::size_t high = items.size();  // A prefix this long fails.
    const std::vector<Item> all = items;
    while (low + 1 < high && runs_ < runs_max_) {
      const std::size_t middle = low + (high - low) / 2;
      items.assign(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(middle));
      if (fails(plans)) {
        high = middle;
      } else {
        low = middle;
      }
    }
    items.assign(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(high));
    return high < all.size();
  }

  // cut_tail for every list at once: each keeps the same fraction of itself.
  // One binary search over the fraction instead of one per list.
  bool cut_all_tails(Plans& plans) {
    const Plans all = plans;
    std::size_t low = 0;
    std::size_t high = fraction_steps;  // Keeping everything fails.
    auto keep = [&all](Plans& p, std::size_t steps) {
      auto cut = [steps](auto& items, std::size_t size) {
        items.resize((size * steps + fraction_steps - 1) / fraction_steps);
      };
      cut(p.faults.faults, all.faults.faults.size());
      for (std::size_t b = 0; b < p.bankers.size(); ++b)
        cut(p.bankers[b].interactions, all.bankers[b].interactions.size());
    };
    while (low + 1 < high && runs_ < runs_max_) {
      const std::size_t middle = low + (high - low) / 2;
      Plans candidate = all;
      keep(candidate, middle);
      if (plan_size(candidate) == plan_size(plans)) {
        low = middle;  // Too little to cut at this fraction: nothing to try.
        continue;
      }
      if (fails(candidate)) {
        high = middle;
        plans = std::move(candidate);
      } else {
        low = middle;
      }
    }
    return plan_size(plans) < plan_size(all);
  }

  // Delta debugging over the bankers: whole halves first, then fewer at a time.
  bool drop_banker_groups(Plans& plans) {
    bool shrunk = false;
    std::size_t parts = 2;
    while (plans.bankers.size() > 1 && runs_ < runs_max_) {
      const std::size_t count = plans.bankers.size();
      const std::size_t chunk = (count + parts - 1) / parts;
      bool removed = false;
      for (std::size_t start = 0; start < count && runs_ < runs_max_; start += chunk) {
        const std::size_t end = std::min(count, start + chunk);
        if (end - start == count) continue;  // Keep at least one banker.
        removed = attempt(plans, [start, end](Plans& p) {
          p.bankers.erase(p.bankers.begin() + static_cast<std::ptrdiff_t>(start),
                          p.bankers.begin() + static_cast<std::ptrdiff_t>(end));
          p.knobs.banker_count = static_cast<std::uint32_t>(p.bankers.size());
          std::vector<Fault> faults;
          for (Fault f : p.faults.faults) {
            if (f.target >= static_cast<std::int64_t>(start) && f.target < static_cast<std::int64_t>(end))
              continue;
            if (f.target >= static_cast<std::int64_t>(end))
              f.target -= static_cast<std::int64_t>(end - start);
            faults.push_back(f);
          }
          p.faults.faults = std::move(faults);
          return true;
        });
        if (removed) break;
      }
      if (removed) {
        shrunk = true;
        parts = std::max<std::size_t>(parts - 1, 2);
      } else {
        if (parts >= count) break;
        parts = std::min(count, parts * 2);
      }
    }
    return shrunk;
  }

  // Tries one change to a copy; keeps it if the failure stays.
  bool attempt(Plans& plans, const std::function<bool(Plans&)>& change) {
    Plans candidate = plans;
    if (!change(candidate)) return false;  // Nothing to change.
    if (!fails(candidate)) return false;
    plans = std::move(candidate);
    return true;
  }

  bool simplify(Plans& plans) {
    bool shrunk = false;
    for (std::size_t b = 0; b < plans.bankers.size(); ++b) {
      for (std::size_t i = 0; i < plans.bankers[b].interactions.size(); ++i) {
        shrunk |= attempt(plans, [b, i](Plans& p) {
          Interaction& x = p.bankers[b].interactions[i];
          if (x.op == BankerOp::sleep && x.sleep_ms > 1) {
            x.sleep_ms /= 2;
            return true;
          }
          if (x.op == BankerOp::create && x.amount.cents % 100 != 0) {
            x.amount.cents -= x.amount.cents % 100;  // Whole amounts...
            return true;
          }
          if (x.op == BankerOp::create && (x.amount.cents > 100 || x.amount.cents < -100)) {
            x.amount.cents = x.amount.cents > 0 ? 100 : -100;  // ...then 1.00.
            return true;
          }
          if ((x.op == BankerOp::get || x.op == BankerOp::void_) && x.id.known && x.id.pick != 0) {
            x.id.pick = 0;  // The first id the banker knows.
            return true;
          }
          return false;
        });
      }
    }
    for (std::size_t f = 0; f < plans.faults.faults.size(); ++f) {
      shrunk |= attempt(plans, [f](Plans& p) {
        Fault& x = p.faults.faults[f];
        if (x.duration_ms > 1) {
          x.duration_ms /= 2;
          return true;
        }
        return false;
      });
    }
    return shrunk;
  }

  std::size_t runs() const { return runs_; }

 private:
  std::string invariant_;
  std::size_t runs_max_;
  std::size_t runs_ = 0;
};

}  // namespace

ShrinkResult shrink(const Plans& failing, const std::string& invariant, std::size_t runs_max) {
  Shrinker shrinker(invariant, runs_max);
  Plans plans = failing;
  // Simplifying (shorter sleeps, rounder amounts) rarely enables a removal:
  // it gets a bounded number of rounds, so the budget goes to removals.
  std::size_t simplify_rounds_left = 2;
  for (bool progress = true; progress && shrinker.runs() < runs_max;) {
    progress = shrinker.cut_all_tails(plans);
    progress |= shrinker.drop_banker_groups(plans);
    progress |= shrinker.cut_tail(plans, plans.faults.faults);
    for (std::size_t b = 0; b < plans.bankers.size(); ++b) {
      progress |= shrinker.cut_tail(plans, plans.bankers[b].interactions);
    }
    progress |= shrinker.ddmin(plans, plans.faults.faults);
    for (std::size_t b = 0; b < plans.bankers.size(); ++b) {
      progress |= shrinker.ddmin(plans, plans.bankers[b].interactions);
    }
    if (!progress && simplify_rounds_left > 0) {
      --simplify_rounds_left;
      progress = shrinker.simplify(plans);
    }
  }
  plans.knobs.interactions_per_banker = interactions_per_banker_of(plans);
  ShrinkResult result;
  result.runs = shrinker.runs();
  result.budget_spent = shrinker.runs() >= runs_max;
  RunOptions options;
  options.log_level = bank::LogLevel::off;
  options.keep_trace = true;
  options.record_timeline = true;
  result.result = run_simulation(plans, options);
  result.minimal = std::move(plans);
  return result;
}

std::string tell_story(const RunResult& result) {
  std::string out;
  std::size_t number = 0;
  for (const std::string& line : result.trace_lines) {
    // Trace lines are "<ms since the epoch> <what happened>".
    const auto space = line.find(' ');
    const std::int64_t at_ms = std::stoll(line.substr(0, space)) - result.knobs.epoch_offset_ms;
    out += fmt::format("  {:>3}. +{}.{:03}s  {}\n", ++number, at_ms / 1000, at_ms % 1000,
                       line.substr(space + 1));
  }
  if (result.failure) {
    const std::int64_t at_ms = result.failure->time_ms - result.knobs.epoch_offset_ms;
    out += fmt::format("  {:>3}. +{}.{:03}s  the checker, on {}'s reply: '{}' broken: {}\n", ++number,
                       at_ms / 1000, at_ms % 1000, result.failure->actor, result.failure->invariant,
                       result.failure->evidence);
  }
  return out;
}

}  // namespace bank_sim
