// TokenBucket arithmetic (see token_bucket.h). Tokens are doubles refilled lazily from the time
// passed in; a tiny epsilon keeps next_available() and try_take() consistent under rounding.
// It may not read clocks.
#include "scheduler/token_bucket.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace ringmta::scheduler {
namespace {

constexpr double kEpsilon = 1e-9;

std::string format_count(double n) {
  if (n == std::floor(n) && n < 1e15) return std::to_string(static_cast<int64_t>(n));
  std::string s = std::to_string(n);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

}  // namespace

std::string Rate::str() const {
  if (unlimited()) return "unlimited";
  std::string unit = per_ms == 1000        ? "second"
                     : per_ms == 60'000    ? "minute"
                     : per_ms == 3'600'000 ? "hour"
                                           : std::to_string(per_ms) + "ms";
  return format_count(count) + "/" + unit;
}

Result<Rate> parse_rate(std::string_view text) {
  const auto slash = text.find('/');
  auto bad = [&] {
    return make_error("bad rate '" + std::string(text) +
                      "' (expected N/second, N/minute or N/hour)");
  };
  if (slash == std::string_view::npos) return bad();
  std::string_view number = text.substr(0, slash);
  std::string_view unit = text.substr(slash + 1);
  while (!number.empty() && number.back() == ' ') number.remove_suffix(1);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  double n = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), n);
  if (ec != std::errc() || end != number.data() + number.size() || !(n > 0) || !std::isfinite(n)) {
    return bad();
  }
  if (unit == "second" || unit == "sec" || unit == "s") return Rate::per_second(n);
  if (unit == "minute" || unit == "min" || unit == "m") return Rate::per_minute(n);
  if (unit == "hour" || unit == "h") return Rate::per_hour(n);
  return bad();
}

double TokenBucket::default_burst(Rate rate) {
  if (rate.unlimited()) return 1;
  return std::max(1.0, std::floor(rate.per_second_value()));
}

TokenBucket::TokenBucket(Rate rate, double burst, Millis now)
    : rate_(rate), burst_(burst > 0 ? burst : default_burst(rate)), last_(now) {
  tokens_ = burst_;
}

void TokenBucket::refill(Millis now) {
  if (now <= last_) return;  // never refill for time going backwards
  tokens_ = std::min(burst_, tokens_ + static_cast<double>(now - last_) * per_ms());
  last_ = now;
}

double TokenBucket::tokens(Millis now) const {
  if (unlimited()) return burst_;
  if (now <= last_) return tokens_;
  return std::min(burst_, tokens_ + static_cast<double>(now - last_) * per_ms());
}

bool TokenBucket::try_take(Millis now) {
  if (unlimited()) return true;
  refill(now);
  if (tokens_ + kEpsilon < 1.0) return false;
  tokens_ = std::max(0.0, tokens_ - 1.0);
  return true;
}

Millis TokenBucket::next_available(Millis now) const {
  if (unlimited()) return now;
  const double have = tokens(now);
  if (have + kEpsilon >= 1.0) return now;
  const Millis from = std::max(now, last_);
  // The first whole millisecond at which the missing fraction has been earned.
  auto wait = static_cast<Millis>(std::ceil((1.0 - have - kEpsilon) / per_ms()));
  wait = std::max<Millis>(wait, 1);
  while (tokens(from + wait) + kEpsilon < 1.0) ++wait;  // rounding: at most a step or two
  return from + wait;
}

void TokenBucket::set_rate(Rate rate, Millis now, double burst) {
  if (!unlimited()) refill(now);
  const bool was_unlimited = unlimited();
  rate_ = rate;
  if (burst > 0) {
    burst_ = burst;
  } else if (was_unlimited) {
    burst_ = default_burst(rate);
  }
  if (was_unlimited) tokens_ = burst_;
  tokens_ = std::min(tokens_, burst_);
  last_ = std::max(last_, now);
}

}  // namespace ringmta::scheduler
