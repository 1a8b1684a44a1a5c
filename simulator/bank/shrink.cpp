#include "shrink.hpp"

#include <fmt/format.h>

#include <functional>

namespace bank_sim {

namespace {

class Shrinker {
 public:
  Shrinker(const std::string& invariant, std::size_t runs_max) : invariant_(invariant), runs_max_(runs_max) {}

  // True when the plans still fail with the same invariant.
  bool fails(const Plans& plans) {
    if (runs_ >= runs_max_) return false;
    ++runs_;
    RunOptions options;
    options.log_level = bank::LogLevel::off;
    const RunResult result = run_simulation(plans, options);
    return result.failure && result.failure->invariant == invariant_;
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
    std::size_t low = 0;                // Prefixes this long or shorter were not tried, or passed.
    std::size_t high = items.size();    // A prefix this long fails.
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

  // Tries one change to a copy; keeps it if the failure stays.
  bool attempt(Plans& plans, const std::function<bool(Plans&)>& change) {
    Plans candidate = plans;
    if (!change(candidate)) return false;  // Nothing to change.
    if (!fails(candidate)) return false;
    plans = std::move(candidate);
    return true;
  }

  bool drop_bankers(Plans& plans) {
    bool shrunk = false;
    for (std::size_t b = plans.bankers.size(); b-- > 0 && plans.bankers.size() > 1;) {
      shrunk |= attempt(plans, [b](Plans& p) {
        p.bankers.erase(p.bankers.begin() + static_cast<std::ptrdiff_t>(b));
        p.knobs.banker_count = static_cast<std::uint32_t>(p.bankers.size());
        std::vector<Fault> faults;
        for (Fault f : p.faults.faults) {
          if (f.target == static_cast<std::int64_t>(b)) continue;  // Its target is gone.
          if (f.target > static_cast<std::int64_t>(b)) --f.target;
          faults.push_back(f);
        }
        p.faults.faults = std::move(faults);
        return true;
      });
    }
    return shrunk;
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

std::size_t plan_size(const Plans& plans) { return count_interactions(plans) + count_faults(plans); }

ShrinkResult shrink(const Plans& failing, const std::string& invariant, std::size_t runs_max) {
  Shrinker shrinker(invariant, runs_max);
  Plans plans = failing;
  for (bool progress = true; progress && shrinker.runs() < runs_max;) {
    progress = shrinker.cut_tail(plans, plans.faults.faults);
    for (std::size_t b = 0; b < plans.bankers.size(); ++b) {
      progress |= shrinker.cut_tail(plans, plans.bankers[b].interactions);
    }
    progress |= shrinker.drop_bankers(plans);
    progress |= shrinker.ddmin(plans, plans.faults.faults);
    for (std::size_t b = 0; b < plans.bankers.size(); ++b) {
      progress |= shrinker.ddmin(plans, plans.bankers[b].interactions);
    }
    if (!progress) progress = shrinker.simplify(plans);
  }
  plans.knobs.interactions_per_banker = 0;
  for (const auto& b : plans.bankers) {
    plans.knobs.interactions_per_banker =
        std::max<std::uint32_t>(plans.knobs.interactions_per_banker, static_cast<std::uint32_t>(b.interactions.size()));
  }
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
    out += fmt::format("  {:>3}. +{}.{:03}s  {}\n", ++number, at_ms / 1000, at_ms % 1000, line.substr(space + 1));
  }
  if (result.failure) {
    const std::int64_t at_ms = result.failure->time_ms - result.knobs.epoch_offset_ms;
    out += fmt::format("  {:>3}. +{}.{:03}s  the checker, on {}'s reply: '{}' broken: {}\n", ++number, at_ms / 1000,
                       at_ms % 1000, result.failure->actor, result.failure->invariant, result.failure->evidence);
  }
  return out;
}

}  // namespace bank_sim
