// `ringmta suppress add|remove|list|import`: the suppression list kept in a queue's database
// (storage/records.h). Hard bounces join it automatically; `send` skips what is on it. While a
// `ringmta serve` holds the queue, the same commands go through its API; while a `send` or `run`
// delivers from it, add and import go through the job's inbox (jobs/suppression_inbox.h). Wiring
// only: parsing arguments and files, printing.
#include <cstdio>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/open_queue.h"
#include "cli/output.h"
#include "cli/report.h"
#include "cli/service_client.h"
#include "http/url.h"
#include "jobs/suppression_inbox.h"
#include "message/address.h"
#include "message/csv.h"
#include "storage/records.h"
#include "util/time.h"

namespace ringmta::cli {
namespace {

struct SuppressOptions {
  std::string queue_dir = "./ringmta-queue";
  std::vector<std::string> addresses;
  std::string reason;
  std::string file;
  bool json = false;
};

// Where the list is: the queue, opened here, or the running service that holds it.
struct ListAccess {
  std::function<Result<void>(const std::vector<storage::SuppressionEntry>&)> add;
  std::function<Result<uint64_t>(const std::vector<std::string>&)> remove;
  std::function<Result<void>(const std::function<bool(const storage::SuppressionEntry&)>&)> list;
};

ListAccess local_list(storage::Queue& q) {
  return {[&q](const auto& entries) { return storage::SuppressionList(q).add(entries); },
          [&q](const auto& addresses) { return storage::SuppressionList(q).remove(addresses); },
          [&q](const auto& visit) { return storage::SuppressionList(q).list(visit); }};
}

ListAccess service_list(const RunningService& service) {
  return {[service](const std::vector<storage::SuppressionEntry>& entries) -> Result<void> {
            if (entries.empty()) return {};
            nlohmann::json addresses = nlohmann::json::array();
            for (const auto& e : entries) addresses.push_back(e.address);
            nlohmann::json body{{"addresses", addresses}};
            if (!entries.front().reason.empty()) body["reason"] = entries.front().reason;
            auto answer = ask_service(service, "POST", "/api/v1/suppressions", body);
            if (!answer) return answer.error();
            return {};
          },
          [service](const std::vector<std::string>& addresses) -> Result<uint64_t> {
            uint64_t removed = 0;
            for (const auto& a : addresses) {
              auto answer =
                  ask_service(service, "DELETE", "/api/v1/suppressions/" + http::percent_encode(a));
              if (!answer) return answer.error();
              removed += answer->value("removed", uint64_t{0});
            }
            return removed;
          },
          [service](
              const std::function<bool(const storage::SuppressionEntry&)>& visit) -> Result<void> {
            std::string after;
            for (;;) {
              auto page = ask_service(
                  service, "GET",
                  "/api/v1/suppressions?limit=10000" +
                      (after.empty() ? std::string() : "&after=" + http::percent_encode(after)));
              if (!page) return page.error();
              for (const auto& e : (*page)["suppressions"]) {
                if (!visit(storage::SuppressionEntry{.address = e.value("address", ""),
                                                     .category = e.value("category", ""),
                                                     .reason = e.value("reason", ""),
                                                     .campaign = e.value("campaign", ""),
                                                     .since = e.value("since", UnixSeconds{0})})) {
                  return {};
                }
              }
              if (!page->contains("next_after")) return {};
              after = (*page)["next_after"].get<std::string>();
            }
          }};
}

// A running send/run holds the queue: additions go through its inbox (jobs/suppression_inbox.h).
ListAccess job_list(const std::string& queue_dir, const Error& in_use) {
  return {
      [queue_dir, in_use](const std::vector<storage::SuppressionEntry>& entries) -> Result<void> {
        if (entries.empty()) return {};
        auto taken = jobs::SuppressionInbox::deliver(queue_dir, entries);
        if (!taken) return taken.error();
        if (!*taken) return in_use;  // that job takes none (it is queueing, or older)
        return {};
      },
      nullptr, nullptr};
}

// Addresses from the command line: each must parse; the first bad one stops the command.
Result<std::vector<std::string>> parse_addresses(const std::vector<std::string>& given) {
  std::vector<std::string> out;
  for (const auto& a : given) {
    auto parsed = message::parse_address(a);
    if (!parsed) return make_error("'" + printable(a) + "': " + parsed.error().message);
    out.push_back(parsed->str());
  }
  return out;
}

int add(const ListAccess& l, const SuppressOptions& o) {
  auto addresses = parse_addresses(o.addresses);
  if (!addresses) return usage_error(addresses.error().message);
  std::vector<storage::SuppressionEntry> entries;
  for (auto& a : addresses.value()) {
    entries.push_back(
        {.address = a, .category = "manual", .reason = o.reason, .since = unix_now()});
  }
  if (auto ok = l.add(entries); !ok) return usage_error(ok.error().message);
  std::printf("%zu address%s suppressed\n", entries.size(), entries.size() == 1 ? "" : "es");
  return 0;
}

int remove(const ListAccess& l, const SuppressOptions& o) {
  auto addresses = parse_addresses(o.addresses);
  if (!addresses) return usage_error(addresses.error().message);
  auto removed = l.remove(addresses.value());
  if (!removed) return usage_error(removed.error().message);
  std::printf("%llu of %zu removed from the suppression list\n",
              static_cast<unsigned long long>(*removed), addresses->size());
  return 0;
}

int list(const ListAccess& l, const SuppressOptions& o) {
  std::string line;
  if (!o.json) std::printf("address,category,since,campaign,reason\n");
  auto listed = l.list([&](const storage::SuppressionEntry& e) {
    if (o.json) {
      nlohmann::json j;
      j["address"] = e.address;
      j["category"] = e.category;
      j["since"] = rfc3339(e.since);
      j["campaign"] = e.campaign;
      j["reason"] = e.reason;
      std::printf("%s\n", dump(j).c_str());
      return true;
    }
    line.clear();
    const std::string since = rfc3339(e.since);
    for (std::string_view field :
         {std::string_view(e.address), std::string_view(e.category), std::string_view(since),
          std::string_view(e.campaign), std::string_view(e.reason)}) {
      if (!line.empty()) line += ',';
      message::append_csv_field(line, field);
    }
    std::printf("%s\n", line.c_str());
    return true;
  });
  if (!listed) return usage_error(listed.error().message);
  return 0;
}

// A file of addresses: a CSV with an "email" column, or one address per line (the first field).
// Bad lines are reported with their line number and skipped; good ones are added in batches.
int import(const ListAccess& l, const SuppressOptions& o) {
  std::FILE* f = std::fopen(o.file.c_str(), "rb");
  if (f == nullptr) return usage_error("cannot read " + o.file);
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(f, std::fclose);
  message::CsvReader reader(f);
  message::CsvRecord record;
  std::vector<storage::SuppressionEntry> batch;
  uint64_t added = 0, bad = 0;
  std::size_t column = 0;
  bool first = true;
  const UnixSeconds now = unix_now();
  auto flush = [&]() -> Result<void> {
    if (auto ok = l.add(batch); !ok) return ok;
    added += batch.size();
    batch.clear();
    return {};
  };
  for (;;) {
    auto status = reader.next(record);
    if (status == message::CsvReader::Status::kEnd) break;
    if (status == message::CsvReader::Status::kMalformed) {
      std::fprintf(stderr, "%s:%zu: malformed CSV: %s\n", o.file.c_str(), record.line,
                   reader.error().c_str());
      ++bad;
      continue;
    }
    if (first) {
      first = false;
      bool header = false;
      for (std::size_t c = 0; c < record.fields.size(); ++c) {
        if (record.fields[c] == "email" || record.fields[c] == "address") {
          column = c;
          header = true;
        }
      }
      if (header) continue;
    }
    if (record.fields.size() == 1 && record.fields[0].empty()) continue;  // blank line
    const std::string_view raw = column < record.fields.size()
                                     ? std::string_view(record.fields[column])
                                     : std::string_view();
    auto parsed = message::parse_address(raw);
    if (!parsed) {
      std::fprintf(stderr, "%s:%zu: '%s': %s\n", o.file.c_str(), record.line,
                   printable(raw).c_str(), parsed.error().message.c_str());
      ++bad;
      continue;
    }
    batch.push_back(
        {.address = parsed->str(), .category = "import", .reason = o.reason, .since = now});
    if (batch.size() >= storage::Queue::kAdminChunk) {
      if (auto ok = flush(); !ok) return usage_error(ok.error().message);
    }
  }
  if (std::ferror(f)) return usage_error("read error in " + o.file);
  if (auto ok = flush(); !ok) return usage_error(ok.error().message);
  std::printf("%llu address%s imported, %llu line%s skipped\n",
              static_cast<unsigned long long>(added), added == 1 ? "" : "es",
              static_cast<unsigned long long>(bad), bad == 1 ? "" : "s");
  return bad > 0 ? kSomeFailed : 0;
}

}  // namespace

Command add_suppress_command(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "suppress", "The suppression list: addresses `send` skips (hard bounces join it)");
  auto o = std::make_shared<SuppressOptions>();
  sub->add_option("--queue", o->queue_dir, "The RocksDB queue directory");
  sub->require_subcommand(1);
  auto* add_cmd = sub->add_subcommand("add", "Suppress addresses");
  add_cmd->add_option("addresses", o->addresses, "Addresses")->required();
  add_cmd->add_option("--reason", o->reason, "A note kept with the entries");
  auto* remove_cmd = sub->add_subcommand("remove", "Take addresses off the list");
  remove_cmd->add_option("addresses", o->addresses, "Addresses")->required();
  auto* list_cmd = sub->add_subcommand("list", "Print the list as CSV (or JSON lines)");
  list_cmd->add_flag("--json", o->json, "One JSON object per line");
  auto* import_cmd = sub->add_subcommand(
      "import", "Add the addresses of a file (a CSV with an email column, or one per line)");
  import_cmd->add_option("file", o->file, "The file")->required();
  import_cmd->add_option("--reason", o->reason, "A note kept with the entries");
  for (auto* c : {add_cmd, remove_cmd, list_cmd, import_cmd}) c->fallthrough();
  return {sub, [=]() -> int {
            // Adding may start a queue (a list before the first send); reading needs one.
            auto opened = add_cmd->parsed() || import_cmd->parsed()
                              ? open_queue(o->queue_dir)
                              : open_existing_queue(o->queue_dir);
            ListAccess access;
            if (opened) {
              access = local_list(*opened.value());
            } else {
              if (opened.error().kind != ErrorKind::kInUse) {
                return usage_error(opened.error().message);
              }
              auto service = running_service(o->queue_dir);
              if (!service) return usage_error(service.error().message);
              if (*service) {
                access = service_list(**service);
              } else if (add_cmd->parsed() || import_cmd->parsed()) {
                access = job_list(o->queue_dir, opened.error());
              } else {
                return usage_error(opened.error().message +
                                   " (suppress add and import go through the running job)");
              }
            }
            if (add_cmd->parsed()) return add(access, *o);
            if (remove_cmd->parsed()) return remove(access, *o);
            if (import_cmd->parsed()) return import(access, *o);
            return list(access, *o);
          }};
}

}  // namespace ringmta::cli
