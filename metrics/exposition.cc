// Exposition implementation.
#include "metrics/exposition.h"

#include <charconv>
#include <cmath>

namespace ringmta::metrics {

std::string Exposition::escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string Exposition::escape_help(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string Exposition::format_double(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : "NaN";
}

void Exposition::family(std::string_view name, std::string_view help, std::string_view type) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  out_ += escape_help(help);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void Exposition::write_labels(Labels labels, const Label* extra) {
  if (labels.size() == 0 && extra == nullptr) return;
  out_ += '{';
  bool first = true;
  auto one = [&](const Label& l) {
    if (!first) out_ += ',';
    first = false;
    out_ += l.first;
    out_ += "=\"";
    out_ += escape_label_value(l.second);
    out_ += '"';
  };
  for (const Label& l : labels) one(l);
  if (extra != nullptr) one(*extra);
  out_ += '}';
}

void Exposition::sample(std::string_view name, Labels labels, uint64_t value) {
  out_ += name;
  write_labels(labels);
  out_ += ' ';
  out_ += std::to_string(value);
  out_ += '\n';
}

void Exposition::sample(std::string_view name, Labels labels, double value) {
  out_ += name;
  write_labels(labels);
  out_ += ' ';
  out_ += format_double(value);
  out_ += '\n';
}

void Exposition::histogram(std::string_view name, Labels labels, const HistogramSnapshot& h) {
  std::string bucket = std::string(name) + "_bucket";
  uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= h.bounds.size() && i < h.counts.size(); ++i) {
    cumulative += h.counts[i];
    std::string le = i < h.bounds.size() ? format_double(h.bounds[i]) : "+Inf";
    Label extra{"le", le};
    out_ += bucket;
    write_labels(labels, &extra);
    out_ += ' ';
    out_ += std::to_string(cumulative);
    out_ += '\n';
  }
  sample(std::string(name) + "_sum", labels, h.sum_seconds);
  sample(std::string(name) + "_count", labels, cumulative);
}

}  // namespace ringmta::metrics
