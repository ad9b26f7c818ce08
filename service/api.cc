// ServiceApi implementation: authentication, routing, and each endpoint's answer.
#include "service/api.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <mutex>
#include <nlohmann/json.hpp>
#include <vector>

#include "http/url.h"
#include "jobs/campaign.h"
#include "message/address.h"
#include "message/csv.h"
#include "service/campaign_request.h"
#include "service/campaign_upload.h"
#include "storage/holds.h"
#include "storage/records.h"
#include "util/errno_text.h"
#include "util/strings.h"
#include "util/time.h"

namespace ringmta::service {
namespace {

using json = nlohmann::json;
using http::HttpAnswer;

constexpr std::string_view kCampaigns = ServiceApi::kCampaignsPath;
constexpr std::string_view kSuppressions = "/api/v1/suppressions";
constexpr std::string_view kQueue = "/api/v1/queue";
constexpr std::string_view kDomains = "/api/v1/domains";
constexpr std::size_t kMaxListed = 10'000;  // suppressions in one GET page
constexpr std::size_t kDomainsListed = 100;

HttpAnswer reply(int status, const json& body, std::string extra_headers = {}) {
  return HttpAnswer{status, "application/json", body.dump() + "\n", std::move(extra_headers)};
}

HttpAnswer error(int status, std::string_view message, std::string_view field = {}) {
  json body{{"error", message}};
  if (!field.empty()) body["field"] = field;
  return reply(status, body);
}

HttpAnswer method_not_allowed(std::string_view allowed) {
  return reply(405, json{{"error", "method not allowed here; allowed: " + std::string(allowed)}},
               "Allow: " + std::string(allowed) + "\r\n");
}

// A campaign's state as the API names it.
const char* hold_name(storage::CampaignHold hold) {
  switch (hold) {
    case storage::CampaignHold::kPaused:
      return "paused";
    case storage::CampaignHold::kCancelled:
      return "cancelled";
    case storage::CampaignHold::kNone:
      break;
  }
  return "active";
}

bool authorized(const http::HttpRequest& request, const std::string& token) {
  const std::string* given = request.header("authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (given == nullptr || token.empty() || !given->starts_with(kBearer)) return false;
  const std::string_view presented = std::string_view(*given).substr(kBearer.size());
  return presented.size() == token.size() &&
         CRYPTO_memcmp(presented.data(), token.data(), token.size()) == 0;
}

// A file in dir that lives as long as this object.
class SpoolFile {
 public:
  Result<void> create(const std::string& dir, const std::string& suffix) {
    std::string templ = dir + "/ringmta-api-XXXXXX" + suffix;
    const int fd = ::mkstemps(templ.data(), static_cast<int>(suffix.size()));
    if (fd < 0) return make_error("cannot create a file in " + dir + ": " + errno_text(errno));
    path_ = templ;
    fd_ = fd;
    return {};
  }
  Result<void> write(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return make_error("cannot write " + path_ + ": " + errno_text(errno));
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
  }
  const std::string& path() const { return path_; }
  ~SpoolFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }

 private:
  std::string path_;
  int fd_ = -1;
};

// The rejected rows ingest wrote ("line,reason,email"): at most `limit`, each named by its
// recipient's index in a JSON request (by_index), else by its line in the uploaded CSV (the lines
// of `part` when ingest read a part of the list).
// A row named by its line in the list (`line`) as the answer names it: by its recipient's index in
// a JSON request (by_index), else by its line.
json row_at(std::size_t line, const CampaignRequest* by_index, std::string_view email,
            std::string_view reason) {
  json row{{"email", email}, {"reason", reason}};
  if (by_index != nullptr) {
    row["index"] = by_index->recipient_at_line(line);
  } else {
    row["line"] = line;
  }
  return row;
}

json rejected_rows(const std::string& path, const CampaignRequest* by_index, std::size_t limit,
                   const cluster::ListPart* part = nullptr) {
  json rows = json::array();
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!file) return rows;
  message::CsvReader reader(file.get());
  message::CsvRecord record;
  bool header = true;
  while (rows.size() < limit && reader.next(record) == message::CsvReader::Status::kRecord) {
    if (header || record.fields.size() != 3) {
      header = false;
      continue;
    }
    std::size_t line = std::strtoul(record.fields[0].c_str(), nullptr, 10);
    if (part != nullptr) line = part->list_line(line);  // a part's line: the list's
    rows.push_back(row_at(line, by_index, record.fields[2], record.fields[1]));
  }
  return rows;
}

// An upload's body streamed into a spool file as it arrives, then queued by `queue`.
class UploadReader : public http::BodyReader {
 public:
  using Queue = std::function<HttpAnswer(CampaignRequest&, const std::string& recipients_path)>;
  UploadReader(std::string boundary, std::size_t max_message, Queue queue)
      : upload_(std::move(boundary), max_message,
                [this](std::string_view bytes) { return recipients_.write(bytes); }),
        queue_(std::move(queue)) {}
  Result<void> open(const std::string& dir) { return recipients_.create(dir, ".csv"); }

  std::optional<HttpAnswer> consume(std::string_view piece) override {
    if (auto bad = upload_.consume(piece)) return answer(*bad);
    return std::nullopt;
  }
  HttpAnswer finish() override {
    if (auto bad = upload_.finish()) return answer(*bad);
    return queue_(upload_.request(), recipients_.path());
  }

 private:
  static HttpAnswer answer(const UploadError& bad) {
    return error(bad.status, bad.error.message, bad.error.field);
  }
  SpoolFile recipients_;
  CampaignUpload upload_;
  Queue queue_;
};

// A split campaign's answer: this node's counts (in `body`) with the other nodes' added, their
// rejected rows named by the list's lines, and where every part went. Whether anything was newly
// queued anywhere (201).
bool add_parts(json& body, const Spread& spread, const jobs::CampaignFacts& here,
               const std::string& self, const CampaignRequest* by_index) {
  bool anything_new = !here.already_queued;
  bool all_already = here.already_queued;
  json nodes = json::array();
  nodes.push_back({{"node", self},
                   {"rows", spread.list->parts[spread.local].rows()},
                   {"accepted", here.accepted}});
  json& rows = body["rejected_rows"];
  for (const cluster::UnreadableRow& bad : spread.list->unreadable) {
    body["rejected"] = body["rejected"].get<uint64_t>() + 1;
    if (rows.size() < ServiceApi::kMaxRejectedRows) {
      rows.push_back(row_at(bad.line, by_index, "", bad.reason));
    }
  }
  for (const PartOutcome& part : spread.others) {
    json entry{{"node", part.node}, {"rows", part.rows}};
    if (part.kept_here) {
      entry["kept_here"] = true;
      entry["why"] = part.error;
    } else if (!part.error.empty()) {
      entry["error"] = part.error;
      all_already = false;
    } else {
      const json& a = part.answer;
      for (const char* count : {"accepted", "rejected", "duplicates", "suppressed"}) {
        const uint64_t n = a.is_object() && a.contains(count) && a[count].is_number_unsigned()
                               ? a[count].get<uint64_t>()
                               : 0;
        body[count] = body[count].get<uint64_t>() + n;
        if (std::string_view(count) == "accepted") entry["accepted"] = n;
      }
      const bool already = a.value("already_queued", false);
      anything_new = anything_new || !already;
      all_already = all_already && already;
      if (a.contains("rejected_rows") && a["rejected_rows"].is_array()) {
        for (const json& row : a["rejected_rows"]) {
          if (rows.size() >= ServiceApi::kMaxRejectedRows) break;
          const std::size_t line = part.part->list_line(row.value("line", std::size_t{0}));
          rows.push_back(row_at(line, by_index, row.value("email", ""), row.value("reason", "")));
        }
      }
    }
    nodes.push_back(std::move(entry));
  }
  body["already_queued"] = all_already;
  body["nodes"] = std::move(nodes);
  return anything_new;
}

// The other nodes' answers about a campaign: the parts of those that hold one (200), and an entry
// naming each node that did not answer or failed (a 404 holds no part: left out).
struct NodeParts {
  std::vector<std::pair<std::string, json>> known;
  json failed = json::array();
};
NodeParts sort_answers(const std::vector<ClusterCampaigns::NodeAnswer>& answers) {
  NodeParts out;
  for (const auto& a : answers) {
    json part = a.answer ? json::parse(a.answer->body, nullptr, false) : json();
    if (a.answer && a.answer->status == 200 && part.is_object()) {
      out.known.emplace_back(a.node, std::move(part));
    } else if (!a.answer || a.answer->status != 404) {
      std::string why = a.error;
      if (a.answer) {
        why = "answered " + std::to_string(a.answer->status);
        if (part.is_object() && part.contains("error")) why += ": " + part.value("error", "");
      }
      out.failed.push_back({{"node", a.node}, {"error", why}});
    }
  }
  return out;
}
}  // namespace

json report_json(std::string_view campaign, const jobs::CampaignReport& report) {
  return json{{"campaign", campaign},
              {"failed", report.failed},
              {"hard", report.hard},
              {"by_category", report.by_category},
              {"unsubscribed", report.unsubscribed}};
}

std::optional<HttpAnswer> ServiceApi::admit(const http::HttpRequest& request) {
  if (!requests_.try_take(monotonic_now())) {
    return reply(429, json{{"error", "too many requests: at most " + requests_.rate().str()}},
                 "Retry-After: 1\r\n");
  }
  if (!authorized(request, settings_.token)) {
    return reply(401, json{{"error", "missing or wrong bearer token (Authorization: Bearer ...)"}},
                 "WWW-Authenticate: Bearer realm=\"ringmta\"\r\n");
  }
  return std::nullopt;
}

bool ServiceApi::is_upload(const http::HttpRequest& head) {
  const std::string* type = head.header("content-type");
  return head.method == "POST" && head.path == kCampaigns && type != nullptr &&
         istarts_with(*type, "multipart/form-data");
}

http::StreamStart ServiceApi::open_upload(const http::HttpRequest& head) {
  if (auto refused = admit(head)) return {nullptr, std::move(*refused)};
  auto boundary = http::multipart_boundary(*head.header("content-type"));
  if (!boundary) {
    return {nullptr,
            error(400, "multipart/form-data without a valid boundary parameter", "Content-Type")};
  }
  auto reader = std::make_unique<UploadReader>(std::move(*boundary), settings_.max_message,
                                               [this](CampaignRequest& r, const std::string& path) {
                                                 return queue_request(r, path, false);
                                               });
  if (auto opened = reader->open(settings_.spool_dir); !opened) {
    return {nullptr, error(507, opened.error().message)};
  }
  return {std::move(reader), {}};
}

HttpAnswer ServiceApi::handle(const http::HttpRequest& request) {
  if (auto refused = admit(request)) return std::move(*refused);
  const std::string& path = request.path;
  const std::string& method = request.method;
  if (path == kCampaigns) {
    if (method != "POST") return method_not_allowed("POST");
    return post_campaign(request);
  }
  if (path.starts_with(kCampaigns) && path[kCampaigns.size()] == '/') {
    std::string_view rest = std::string_view(path).substr(kCampaigns.size() + 1);
    std::string_view action;
    if (const std::size_t slash = rest.rfind('/'); slash != std::string_view::npos) {
      action = rest.substr(slash + 1);
      rest = rest.substr(0, slash);
    }
    auto id = http::percent_decode(rest);
    if (!id || id->empty()) return error(400, "a campaign id after /campaigns/", "id");
    if (action.empty()) {
      if (method != "GET") return method_not_allowed("GET");
      return get_campaign(*id);
    }
    if (action == "report" || action == "bounces") {
      if (method != "GET") return method_not_allowed("GET");
      return action == "report" ? get_report(*id) : get_bounces(*id);
    }
    if (action != "pause" && action != "resume" && action != "cancel") {
      return error(404,
                   "no such action; campaigns/{id}/pause, /resume, /cancel, /report or /bounces");
    }
    if (method != "POST") return method_not_allowed("POST");
    return hold_campaign(*id, action);
  }
  if (path.starts_with(kDomains) && path[kDomains.size()] == '/') {
    std::string_view rest = std::string_view(path).substr(kDomains.size() + 1);
    const std::size_t slash = rest.rfind('/');
    const std::string_view action =
        slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    auto domain = http::percent_decode(rest.substr(0, slash));
    if (!domain || domain->empty() || (action != "pause" && action != "resume")) {
      return error(404, "domains/{domain}/pause or /resume");
    }
    if (method != "POST") return method_not_allowed("POST");
    return hold_domain(*domain, action);
  }
  if (path == kSuppressions) {
    if (method == "GET") return get_suppressions(request);
    if (method == "POST") return post_suppressions(request);
    return method_not_allowed("GET, POST");
  }
  if (path.starts_with(kSuppressions) && path[kSuppressions.size()] == '/') {
    if (method != "DELETE") return method_not_allowed("DELETE");
    auto address = http::percent_decode(std::string_view(path).substr(kSuppressions.size() + 1));
    if (!address || address->empty()) {
      return error(400, "an address after /suppressions/ (percent-encoded)", "address");
    }
    return delete_suppression(*address);
  }
  if (path == kQueue) {
    if (method != "GET") return method_not_allowed("GET");
    return get_queue();
  }
  if (path == std::string(kQueue) + "/flush") {
    if (method != "POST") return method_not_allowed("POST");
    return flush_queue(request);
  }
  return error(404, "no such endpoint; see /api/v1/campaigns, /api/v1/suppressions, /api/v1/queue");
}

HttpAnswer ServiceApi::get_report(std::string_view id) {
  auto report = jobs::campaign_report(queue_, id);
  if (!report) return error(500, report.error().message);
  if (!report->known) return error(404, "no such campaign in this queue", "id");
  return reply(200, report_json(id, *report));
}

HttpAnswer ServiceApi::get_bounces(std::string_view id) {
  auto report = jobs::campaign_report(queue_, id);
  if (!report) return error(500, report.error().message);
  if (!report->known) return error(404, "no such campaign in this queue", "id");
  HttpAnswer answer{.status = 200, .content_type = "text/csv; charset=utf-8"};
  auto rows = jobs::bounces_csv(queue_, id, [&answer](std::string_view piece) {
    answer.body.append(piece);
    return true;
  });
  if (!rows) return error(500, rows.error().message);
  return answer;
}

HttpAnswer ServiceApi::post_campaign(const http::HttpRequest& request) {
  ParsedCampaign parsed = parse_campaign_request(request.body);
  if (!parsed.ok) return error(400, parsed.error.message, parsed.error.field);
  CampaignRequest& r = parsed.request;
  SpoolFile recipients;
  if (auto made = recipients.create(settings_.spool_dir, ".csv"); !made) {
    return error(507, made.error().message);
  }
  if (auto written = recipients.write(r.csv); !written) return error(507, written.error().message);
  r.csv.clear();
  r.csv.shrink_to_fit();
  return queue_request(r, recipients.path(), true);
}

HttpAnswer ServiceApi::queue_request(CampaignRequest& r, const std::string& recipients_path,
                                     bool rows_by_index) {
  SpoolFile rejects;
  if (auto made = rejects.create(settings_.spool_dir, ".rejects.csv"); !made) {
    return error(507, made.error().message);
  }
  jobs::CampaignInput input{.raw_message = std::move(r.message),
                            .message_name = "message",
                            .recipients_path = recipients_path,
                            .rejects_path = rejects.path(),
                            .from_api = true,
                            .campaign = r.campaign.empty() ? jobs::new_campaign_id() : r.campaign,
                            .campaign_given = !r.campaign.empty(),
                            .new_campaign = r.new_campaign,
                            .sender = settings_.sender_override,
                            .verp = r.verp,
                            .skip_suppressed = !r.ignore_suppression,
                            .list = r.list};
  if (!r.sender.empty()) {
    auto sender = message::parse_address(r.sender);
    if (!sender) return error(400, sender.error().message, "sender");
    input.sender = sender->str();
  }
  // A generated id is new: only a given one can be held already.
  storage::CampaignHold hold = storage::CampaignHold::kNone;
  if (input.campaign_given) {
    auto recorded = storage::campaign_hold(queue_, input.campaign);
    if (!recorded) return error(503, recorded.error().message);
    hold = *recorded;
    // More for a cancelled campaign would be queued only to be removed at once.
    if (hold == storage::CampaignHold::kCancelled) {
      return error(409, "campaign " + input.campaign + " was cancelled; give another id",
                   "campaign");
    }
  }
  auto addresses = jobs::campaign_addresses(input);
  if (!addresses) return error(400, addresses.error().message, "message");
  std::string warning;
  if (settings_.route != nullptr) {
    auto signable = jobs::check_dkim_signing(*settings_.route, addresses->from_domain);
    if (!signable) return error(422, signable.error().message, "message");
    warning = *signable;
  }
  // In a cluster: the other nodes' domains to their nodes first; this node queues its own part
  // (with the rows of any part no other node took).
  Spread spread;
  if (settings_.cluster) {
    spread = settings_.cluster->spread(r, input.campaign, input.raw_message, recipients_path,
                                       settings_.spool_dir);
    if (spread.split) input.recipients_path = spread.list->parts[spread.local].path();
  }
  auto facts = jobs::queue_campaign(queue_, input, addresses->sender);
  if (!facts) {
    const Error& e = facts.error();
    if (e.kind == ErrorKind::kConflict) return error(409, e.message, "new_campaign");
    // The message parsed above: what ingest finds wrong now is the list (a column the message
    // uses that no recipient has).
    if (e.kind == ErrorKind::kInput) return error(400, e.message, "recipients");
    return error(503, "queueing failed: " + e.message);
  }
  if (hold == storage::CampaignHold::kPaused) {
    (void)refresh_control();  // a paused campaign's new message is held too
  }
  if (settings_.log != nullptr && !facts->already_queued) {
    settings_.log->emit("campaign_queued", {{"campaign", facts->campaign},
                                            {"accepted", facts->accepted},
                                            {"rejected", facts->rejected_rows},
                                            {"duplicates", facts->duplicates},
                                            {"suppressed", facts->suppressed}});
  }
  json body{{"campaign", facts->campaign},
            {"accepted", facts->accepted},
            {"rejected", facts->rejected_rows},
            {"duplicates", facts->duplicates},
            {"suppressed", facts->suppressed},
            {"envelope_sender", facts->envelope_sender},
            {"already_queued", facts->already_queued}};
  if (!warning.empty()) body["warning"] = warning;
  if (!addresses->warnings.empty()) body["message_warnings"] = addresses->warnings;
  const cluster::ListPart* local = spread.split ? &spread.list->parts[spread.local] : nullptr;
  body["rejected_rows"] =
      facts->rejected_rows > 0
          ? rejected_rows(rejects.path(), rows_by_index ? &r : nullptr, kMaxRejectedRows, local)
          : json::array();
  if (!spread.note.empty()) body["cluster"] = spread.note;
  if (!spread.split) return reply(facts->already_queued ? 200 : 201, body);
  const bool anything_new =
      add_parts(body, spread, *facts, settings_.cluster->node(), rows_by_index ? &r : nullptr);
  std::vector<std::string> holders{settings_.cluster->node()};
  for (const PartOutcome& part : spread.others) {
    if (part.error.empty()) holders.push_back(part.node);
  }
  settings_.cluster->record(facts->campaign, holders);
  return reply(anything_new ? 201 : 200, body);
}

HttpAnswer ServiceApi::get_campaign(std::string_view id) {
  HttpAnswer here = local_campaign(id);
  if (!settings_.cluster || (here.status != 200 && here.status != 404)) return here;
  const auto answers = settings_.cluster->ask_others(
      std::string(id), "GET", "/cluster/v1/campaigns/" + http::percent_encode(id));
  NodeParts others = sort_answers(answers);
  std::vector<std::pair<std::string, json>> parts;  // the nodes that know the campaign
  if (here.status == 200) parts.emplace_back(settings_.cluster->node(), json::parse(here.body));
  std::move(others.known.begin(), others.known.end(), std::back_inserter(parts));
  const bool complete = others.failed.empty();
  json nodes = std::move(others.failed);
  if (parts.empty()) {
    return complete ? here : error(503, "no node that answered knows this campaign", "id");
  }
  json whole{{"campaign", id}};
  std::string state;
  for (const char* count :
       {"accepted", "queued", "ready", "deferred", "failed", "delivered_or_withdrawn"}) {
    uint64_t sum = 0;
    for (const auto& [node, part] : parts) sum += part.value(count, uint64_t{0});
    whole[count] = sum;
  }
  for (const auto& [node, part] : parts) {
    const std::string s = part.value("state", "");
    state = state.empty() || state == s ? s : "mixed";
    nodes.push_back({{"node", node},
                     {"state", s},
                     {"accepted", part.value("accepted", uint64_t{0})},
                     {"queued", part.value("queued", uint64_t{0})},
                     {"failed", part.value("failed", uint64_t{0})}});
  }
  whole["state"] = state;
  whole["finished"] = complete && whole["queued"].get<uint64_t>() == 0;
  whole["complete"] = complete;  // every node that holds a part answered
  whole["nodes"] = std::move(nodes);
  return reply(200, whole);
}

HttpAnswer ServiceApi::local_campaign(std::string_view id) {
  auto size = queue_.campaign_size(id);
  if (!size) return error(503, size.error().message);
  if (!size->has_value()) return error(404, "no such campaign in this queue", "id");
  auto counts = queue_.campaign_counts(id, unix_now());
  if (!counts) return error(503, counts.error().message);
  uint64_t failed = 0;
  auto visited = storage::visit_failures(queue_, id, [&](const storage::FailureRecord&) {
    ++failed;
    return true;
  });
  if (!visited) return error(503, visited.error().message);
  const uint64_t queued = counts->total();
  const uint64_t accepted = **size;
  // Whatever has left the queue and did not fail was delivered (or withdrawn: suppressed since).
  const uint64_t done = accepted >= queued + failed ? accepted - queued - failed : 0;
  auto hold = storage::campaign_hold(queue_, id);
  if (!hold) return error(503, hold.error().message);
  return reply(200, json{{"campaign", id},
                         {"state", hold_name(*hold)},
                         {"accepted", accepted},
                         {"queued", queued},
                         {"ready", counts->ready},
                         {"deferred", counts->deferred},
                         {"failed", failed},
                         {"delivered_or_withdrawn", done},
                         {"finished", queued == 0}});
}

Result<void> ServiceApi::refresh_control() {
  if (!settings_.control) return {};
  // The API and a node's cluster listener both change holds: the state read last is set last.
  static std::mutex serialised;
  std::lock_guard lock(serialised);
  auto state = engine::control_state(queue_);
  if (!state) return state.error();
  settings_.control->set(std::move(*state));
  return {};
}

HttpAnswer ServiceApi::hold_campaign(std::string_view id, std::string_view action) {
  HttpAnswer here = local_hold(id, action);
  if (!settings_.cluster || (here.status != 200 && here.status != 404)) return here;
  const auto answers = settings_.cluster->ask_others(
      std::string(id), "POST",
      "/cluster/v1/campaigns/" + http::percent_encode(id) + "/" + std::string(action));
  const char* count = action == "cancel" ? "removed" : "queued";
  json whole = here.status == 200 ? json::parse(here.body) : json{{"campaign", id}, {count, 0}};
  bool known = here.status == 200;
  json nodes = json::array();
  if (known) nodes.push_back({{"node", settings_.cluster->node()}, {count, whole[count]}});
  NodeParts others = sort_answers(answers);
  for (const auto& [node, part] : others.known) {
    known = true;
    whole["state"] = part.value("state", "");
    whole[count] = whole[count].get<uint64_t>() + part.value(count, uint64_t{0});
    nodes.push_back({{"node", node}, {count, part.value(count, uint64_t{0})}});
  }
  for (json& failed : others.failed) nodes.push_back(std::move(failed));
  if (!known) return here;
  whole["nodes"] = std::move(nodes);
  return reply(200, whole);
}

HttpAnswer ServiceApi::local_hold(std::string_view id, std::string_view action) {
  auto size = queue_.campaign_size(id);
  if (!size) return error(503, size.error().message);
  if (!size->has_value()) return error(404, "no such campaign in this queue", "id");
  auto hold = storage::campaign_hold(queue_, id);
  if (!hold) return error(503, hold.error().message);
  if (*hold == storage::CampaignHold::kCancelled) {
    return error(409, "the campaign was cancelled; what was left of it is removed", "id");
  }
  auto counts = queue_.campaign_counts(id, unix_now());
  if (!counts) return error(503, counts.error().message);
  const storage::CampaignHold next = action == "pause"    ? storage::CampaignHold::kPaused
                                     : action == "cancel" ? storage::CampaignHold::kCancelled
                                                          : storage::CampaignHold::kNone;
  if (auto set = storage::set_campaign_hold(queue_, id, next); !set) {
    return error(503, set.error().message);
  }
  if (auto told = refresh_control(); !told) return error(503, told.error().message);
  json body{{"campaign", id}, {"state", hold_name(next)}};
  // Cancel: what is queued now is removed by the shards within moments (a copy already on its
  // way to the server still goes); GET shows it leave.
  body[action == "cancel" ? "removed" : "queued"] = counts->total();
  if (settings_.log != nullptr) {
    settings_.log->emit(action == "pause"    ? "campaign_paused"
                        : action == "cancel" ? "campaign_cancelled"
                                             : "campaign_resumed",
                        {{"campaign", id}, {"queued", counts->total()}});
  }
  return reply(200, body);
}

HttpAnswer ServiceApi::hold_domain(std::string_view domain, std::string_view action) {
  const std::string name = lower(domain);
  if (name.find('@') != std::string::npos || name.find('.') == std::string::npos) {
    return error(400, "a domain name, e.g. gmail.com", "domain");
  }
  if (auto set = storage::set_domain_paused(queue_, name, action == "pause"); !set) {
    return error(503, set.error().message);
  }
  if (auto told = refresh_control(); !told) return error(503, told.error().message);
  if (settings_.log != nullptr) {
    settings_.log->emit(action == "pause" ? "domain_paused" : "domain_resumed", {{"domain", name}});
  }
  return reply(200, json{{"domain", name}, {"state", action == "pause" ? "paused" : "active"}});
}

HttpAnswer ServiceApi::get_suppressions(const http::HttpRequest& request) {
  storage::SuppressionList list(queue_);
  if (auto one = http::query_param(request.target, "address")) {
    auto parsed = message::parse_address(*one);
    if (!parsed) return error(400, parsed.error().message, "address");
    const std::string address = parsed->str();
    auto found = list.contains(std::span<const std::string>(&address, 1));
    if (!found) return error(503, found.error().message);
    return reply(200,
                 json{{"address", address}, {"suppressed", static_cast<bool>(found->front())}});
  }
  std::size_t limit = 1000;
  if (auto given = http::query_param(request.target, "limit")) {
    char* end = nullptr;
    const unsigned long n = std::strtoul(given->c_str(), &end, 10);
    if (given->empty() || *end != '\0' || n == 0 || n > kMaxListed) {
      return error(400, "must be a number from 1 to " + std::to_string(kMaxListed), "limit");
    }
    limit = n;
  }
  const std::string after = storage::suppression_address(
      http::query_param(request.target, "after").value_or(std::string()));
  json entries = json::array();
  std::string last;
  bool more = false;
  auto visited = list.list([&](const storage::SuppressionEntry& e) {
    const std::string key = storage::suppression_address(e.address);
    if (!after.empty() && key <= after) return true;
    if (entries.size() == limit) {
      more = true;
      return false;
    }
    entries.push_back(json{{"address", e.address},
                           {"category", e.category},
                           {"reason", e.reason},
                           {"campaign", e.campaign},
                           {"since", e.since}});
    last = key;
    return true;
  });
  if (!visited) return error(503, visited.error().message);
  json body{{"suppressions", entries}};
  if (more) body["next_after"] = last;
  return reply(200, body);
}

HttpAnswer ServiceApi::post_suppressions(const http::HttpRequest& request) {
  json body = json::parse(request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return error(400,
                 "the body must be a JSON object: {\"addresses\": [...], \"reason\": \"...\"}");
  }
  for (const auto& [key, value] : body.items()) {
    if (key != "addresses" && key != "reason") {
      return error(400, "unknown field (known: addresses, reason)", key);
    }
  }
  if (!body.contains("addresses") || !body["addresses"].is_array() || body["addresses"].empty()) {
    return error(400, "must be a non-empty array of addresses", "addresses");
  }
  std::string reason = "added through the API";
  if (body.contains("reason")) {
    if (!body["reason"].is_string()) return error(400, "must be a string", "reason");
    reason = body["reason"].get<std::string>();
  }
  std::vector<storage::SuppressionEntry> entries;
  const json& addresses = body["addresses"];
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    const std::string field = "addresses[" + std::to_string(i) + "]";
    if (!addresses[i].is_string()) return error(400, "must be a string", field);
    auto parsed = message::parse_address(addresses[i].get<std::string>());
    if (!parsed) return error(400, parsed.error().message, field);
    entries.push_back(storage::SuppressionEntry{
        .address = parsed->str(), .category = "manual", .reason = reason, .since = unix_now()});
  }
  if (auto added = storage::SuppressionList(queue_).add(entries); !added) {
    return error(503, "the suppression list could not be written: " + added.error().message);
  }
  if (settings_.suppression_feed) {
    for (const auto& e : entries) settings_.suppression_feed->add(e.address);
  }
  if (settings_.log != nullptr) {
    settings_.log->emit("suppressions_added", {{"count", entries.size()}, {"reason", reason}});
  }
  return reply(200, json{{"added", entries.size()}});
}

HttpAnswer ServiceApi::delete_suppression(std::string_view address) {
  const std::string key(address);
  auto removed = storage::SuppressionList(queue_).remove(std::span<const std::string>(&key, 1));
  if (!removed) return error(503, removed.error().message);
  return reply(200, json{{"address", key}, {"removed", *removed}});
}

HttpAnswer ServiceApi::flush_queue(const http::HttpRequest& request) {
  std::string domain;
  if (!request.body.empty()) {
    const json body = json::parse(request.body, nullptr, false);
    if (body.is_discarded() || !body.is_object())
      return error(400, "the body is not a JSON object");
    if (body.contains("domain")) {
      if (!body["domain"].is_string()) return error(400, "domain must be a string", "domain");
      domain = lower(body["domain"].get<std::string>());
    }
  }
  auto moved = queue_.flush(unix_now(), domain);
  if (!moved) return error(503, moved.error().message);
  if (settings_.log != nullptr) {
    settings_.log->emit("queue_flushed", {{"recipients", *moved}, {"domain", domain}});
  }
  return reply(200, json{{"flushed", *moved}, {"domain", domain.empty() ? json() : json(domain)}});
}

HttpAnswer ServiceApi::get_queue() {
  auto domains = queue_.counts_by_domain(unix_now());
  if (!domains) return error(503, domains.error().message);
  uint64_t ready = 0, deferred = 0;
  for (const auto& d : *domains) {
    ready += d.ready;
    deferred += d.deferred;
  }
  std::sort(domains->begin(), domains->end(),
            [](const auto& a, const auto& b) { return a.total() > b.total(); });
  json busiest = json::array();
  for (std::size_t i = 0; i < domains->size() && i < kDomainsListed; ++i) {
    const auto& d = (*domains)[i];
    busiest.push_back(json{{"domain", d.domain}, {"ready", d.ready}, {"deferred", d.deferred}});
  }
  auto holds = storage::load_holds(queue_);
  if (!holds) return error(503, holds.error().message);
  return reply(200, json{{"queued", ready + deferred},
                         {"ready", ready},
                         {"deferred", deferred},
                         {"domains", busiest},
                         {"paused_domains", holds->paused_domains},
                         {"paused_campaigns", holds->paused_campaigns}});
}

}  // namespace ringmta::service
