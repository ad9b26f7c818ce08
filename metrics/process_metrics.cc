// process_metrics_text (see process_metrics.h): /proc/self/stat, /proc/stat and /proc/self/fd.
#include "metrics/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "metrics/exposition.h"

namespace ringmta::metrics {
namespace {

std::string read_whole(const char* path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The fields of /proc/self/stat after the command name, numbered as in proc(5) from field 3.
std::vector<std::string> stat_fields() {
  const std::string stat = read_whole("/proc/self/stat");
  const std::size_t close = stat.rfind(')');
  std::vector<std::string> fields;
  if (close == std::string::npos) return fields;
  std::istringstream rest(stat.substr(close + 1));
  for (std::string field; rest >> field;) fields.push_back(field);
  return fields;
}

// Seconds since the epoch at which the machine booted ("btime" in /proc/stat); 0 if unknown.
double boot_time() {
  std::istringstream stat(read_whole("/proc/stat"));
  for (std::string line; std::getline(stat, line);) {
    if (line.starts_with("btime ")) return std::strtod(line.c_str() + 6, nullptr);
  }
  return 0;
}

}  // namespace

std::string process_metrics_text(std::string_view version, std::string_view revision) {
  Exposition e;
  e.family("ringmta_build_info", "The build that runs: version and source revision.", "gauge");
  e.sample("ringmta_build_info", {{"version", version}, {"revision", revision}}, uint64_t{1});
  const std::vector<std::string> f = stat_fields();
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  // proc(5) field N is f[N - 3]: utime 14, stime 15, starttime 22, vsize 23, rss 24.
  if (f.size() >= 22 && ticks > 0) {
    const double cpu =
        (std::strtod(f[11].c_str(), nullptr) + std::strtod(f[12].c_str(), nullptr)) / ticks;
    e.family("process_cpu_seconds_total", "User and system CPU time spent, in seconds.", "counter");
    e.sample("process_cpu_seconds_total", {}, cpu);
    if (const double boot = boot_time(); boot > 0) {
      e.family("process_start_time_seconds",
               "When the process started, in seconds since the epoch.", "gauge");
      e.sample("process_start_time_seconds", {},
               boot + std::strtod(f[19].c_str(), nullptr) / ticks);
    }
    e.family("process_virtual_memory_bytes", "Virtual memory size, in bytes.", "gauge");
    e.sample("process_virtual_memory_bytes", {},
             uint64_t{std::strtoull(f[20].c_str(), nullptr, 10)});
    e.family("process_resident_memory_bytes", "Resident memory size, in bytes.", "gauge");
    const uint64_t pages = std::strtoull(f[21].c_str(), nullptr, 10);
    e.sample("process_resident_memory_bytes", {},
             pages * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)));
  }
  if (DIR* fds = ::opendir("/proc/self/fd")) {
    uint64_t open = 0;
    while (const dirent* entry = ::readdir(fds)) {
      if (entry->d_name[0] != '.') ++open;
    }
    ::closedir(fds);
    e.family("process_open_fds", "Open file descriptors.", "gauge");
    e.sample("process_open_fds", {}, open - 1);  // less the one reading the directory
  }
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    e.family("process_max_fds", "The limit on open file descriptors.", "gauge");
    e.sample("process_max_fds", {}, static_cast<uint64_t>(limit.rlim_cur));
  }
  return e.text();
}

}  // namespace ringmta::metrics
