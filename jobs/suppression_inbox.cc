// SuppressionInbox (see suppression_inbox.h). One entry a line: category TAB since TAB address TAB
// reason (tabs and line breaks in the reason written as spaces).
#include "jobs/suppression_inbox.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace ringmta::jobs {
namespace {

namespace fs = std::filesystem;

std::string flat(std::string text) {
  for (char& c : text) {
    if (c == '\t' || c == '\r' || c == '\n') c = ' ';
  }
  return text;
}

}  // namespace

std::string SuppressionInbox::dir_of(const std::string& queue_dir) {
  return (fs::path(queue_dir) / "suppress-inbox").string();
}

SuppressionInbox::SuppressionInbox(std::string dir, storage::Queue& queue,
                                   std::shared_ptr<engine::SuppressionFeed> feed)
    : dir_(std::move(dir)), queue_(queue), feed_(std::move(feed)) {}

Result<std::unique_ptr<SuppressionInbox>> SuppressionInbox::watch(
    const std::string& queue_dir, storage::Queue& queue,
    std::shared_ptr<engine::SuppressionFeed> feed) {
  std::error_code ec;
  const std::string dir = dir_of(queue_dir);
  fs::create_directories(dir, ec);
  if (ec) return make_error("cannot make " + dir + ": " + ec.message());
  std::unique_ptr<SuppressionInbox> inbox(new SuppressionInbox(dir, queue, std::move(feed)));
  inbox->thread_ = std::thread([raw = inbox.get()] {
    while (!raw->stop_.load()) {
      raw->take_all();
      std::this_thread::sleep_for(std::chrono::milliseconds(kPollEvery));
    }
  });
  return inbox;
}

SuppressionInbox::~SuppressionInbox() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  take_all();
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void SuppressionInbox::take_all() {
  std::error_code ec;
  for (const fs::directory_entry& file : fs::directory_iterator(dir_, ec)) {
    if (file.path().extension() != ".entries") continue;  // ".tmp": still being written
    std::ifstream in(file.path());
    std::vector<storage::SuppressionEntry> entries;
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      storage::SuppressionEntry e;
      std::string since;
      if (!std::getline(fields, e.category, '\t') || !std::getline(fields, since, '\t') ||
          !std::getline(fields, e.address, '\t')) {
        continue;
      }
      std::getline(fields, e.reason);
      e.since = std::strtoll(since.c_str(), nullptr, 10);
      entries.push_back(std::move(e));
    }
    if (auto added = storage::SuppressionList(queue_).add(entries); !added) {
      // Left for the next round (the writer waits, then says it was not taken).
      std::fprintf(stderr, "ringmta: suppress-inbox %s: %s\n", file.path().c_str(),
                   added.error().message.c_str());
      continue;
    }
    for (const auto& e : entries) feed_->add(e.address);
    std::fprintf(stderr, "ringmta: %zu address%s suppressed (ringmta suppress, during the job)\n",
                 entries.size(), entries.size() == 1 ? "" : "es");
    fs::remove(file.path(), ec);
  }
}

Result<bool> SuppressionInbox::deliver(const std::string& queue_dir,
                                       const std::vector<storage::SuppressionEntry>& entries,
                                       Millis timeout) {
  const fs::path dir = dir_of(queue_dir);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return false;
  const std::string name = std::to_string(::getpid()) + "-" + std::to_string(unix_now_millis());
  const fs::path tmp = dir / (name + ".tmp"), ready = dir / (name + ".entries");
  {
    std::ofstream out(tmp);
    for (const auto& e : entries) {
      out << flat(e.category) << '\t' << e.since << '\t' << flat(e.address) << '\t'
          << flat(e.reason) << '\n';
    }
    out.flush();
    if (!out) return make_error("cannot write " + tmp.string());
  }
  fs::rename(tmp, ready, ec);
  if (ec) return make_error("cannot write " + ready.string() + ": " + ec.message());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout);
  while (fs::exists(ready, ec)) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return make_error("the running job did not take " + ready.string() + " within " +
                        std::to_string(timeout / 1000) + " s; it stays there for the job");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

}  // namespace ringmta::jobs
