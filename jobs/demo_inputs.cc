// The demo's built-in newsletter and recipient list.
#include "jobs/demo_inputs.h"

#include <fstream>

namespace ringmta::jobs {
namespace {

constexpr const char* kNewsletter =
    "From: Ringmta Demo <newsletter@demo.ringmta.test>\n"
    "To: {{first_name}} <{{email}}>\n"
    "Subject: {{first_name}}, your November digest\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "\n"
    "Hello {{first_name}},\n"
    "\n"
    "Here is what happened in {{city}} this month.\n"
    ". A line that starts with a dot, stuffed on the wire.\n"
    "\n"
    "-- \n"
    "You receive this because you subscribed. Unsubscribe: https://demo.ringmta.test/u\n";

constexpr const char* kCities[] = {"Lisbon", "Oslo", "Kyoto", "Quito", "Accra", "Perth"};

}  // namespace

const char* demo_newsletter() {
  return kNewsletter;
}

Result<void> write_demo_recipients(const std::string& path, uint64_t recipients, int domains) {
  std::ofstream csv(path);
  csv << "email,first_name,city\n";
  for (uint64_t i = 0; i < recipients; ++i) {
    csv << "reader" << i << "@news" << (i % static_cast<uint64_t>(domains)) << ".demo.test,Reader"
        << i << "," << kCities[i % 6] << "\n";
  }
  csv.close();
  if (!csv) return make_error("cannot write the demo's recipient list " + path);
  return {};
}

}  // namespace ringmta::jobs
