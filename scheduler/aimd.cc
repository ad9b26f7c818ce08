// Aimd arithmetic (see aimd.h). It may not read clocks or log.
#include "scheduler/aimd.h"

#include <algorithm>
#include <cmath>

namespace ringmta::scheduler {

Aimd::Aimd(AimdOptions options) : options_(std::move(options)) {
  options_.floor = std::max(0.0, options_.floor);
  options_.ceiling = std::max(options_.floor, options_.ceiling);
  if (!(options_.decrease > 0 && options_.decrease < 1)) options_.decrease = 0.5;
  if (!(options_.step > 0)) options_.step = 1;
  options_.successes_per_step = std::max<uint32_t>(1, options_.successes_per_step);
  value_ = options_.initial < 0 ? options_.ceiling
                                : std::clamp(options_.initial, options_.floor, options_.ceiling);
}

std::optional<AimdChange> Aimd::on_slow_down(std::string_view reason, Millis now) {
  successes_ = 0;
  if (last_decrease_ && now >= *last_decrease_ && now - *last_decrease_ < options_.decrease_hold) {
    return std::nullopt;
  }
  if (value_ <= options_.floor) return std::nullopt;
  AimdChange c{
      options_.name,       value_, std::max(options_.floor, value_ * options_.decrease), true,
      std::string(reason), now};
  value_ = c.new_value;
  last_decrease_ = now;
  return c;
}

std::optional<AimdChange> Aimd::on_success(Millis now) {
  if (value_ >= options_.ceiling) {
    successes_ = 0;
    return std::nullopt;
  }
  if (++successes_ < options_.successes_per_step) return std::nullopt;
  AimdChange c{options_.name,
               value_,
               std::min(options_.ceiling, value_ + options_.step),
               false,
               std::to_string(successes_) + " successes",
               now};
  successes_ = 0;
  value_ = c.new_value;
  return c;
}

uint32_t Aimd::whole() const {
  const double v = std::max({1.0, options_.floor, std::floor(value_ + 1e-9)});
  return static_cast<uint32_t>(std::min(v, 4294967295.0));
}

void Aimd::set_ceiling(double ceiling) {
  options_.ceiling = std::max(options_.floor, ceiling);
  value_ = std::clamp(value_, options_.floor, options_.ceiling);
}

}  // namespace ringmta::scheduler
