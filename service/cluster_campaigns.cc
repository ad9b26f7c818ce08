// ClusterCampaigns (see cluster_campaigns.h): the split, the parts sent, and the questions asked
// of the other nodes.
#include "service/cluster_campaigns.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "cluster/membership.h"
#include "http/url.h"

namespace ringmta::service {
namespace {

constexpr Millis kRetryAfter = 200;
constexpr const char* kPartsPath = "/cluster/v1/campaigns";
constexpr long long kRecordSeconds = 90LL * 24 * 3600;  // a campaign's nodes are remembered

bool taken(int status) {
  return status == 200 || status == 201;
}
// Worth one more try, then queued here: the node may take it a moment later, and if it did take
// it already, the campaign id makes the second try a no-op.
bool retry(int status) {
  return status == 0 || status == 429 || status >= 500;
}

}  // namespace

cluster::RedisConnection* ClusterCampaigns::redis(std::string& why) {
  if (redis_) return redis_.get();
  auto made = cluster::RedisConnection::connect(settings_.redis);
  if (!made) {
    why = made.error().message;
    return nullptr;
  }
  redis_ = std::move(made.value());
  return redis_.get();
}

PartOutcome ClusterCampaigns::send_part(const cluster::Member& member,
                                        const cluster::ListPart& part,
                                        const CampaignRequest& request, const std::string& campaign,
                                        const std::string& message) {
  PartOutcome out{.node = member.node, .rows = part.rows(), .part = &part};
  std::vector<std::pair<std::string, std::string>> fields{
      {"campaign", campaign},
      {"verp", request.verp ? "true" : "false"},
      {"ignore_suppression", request.ignore_suppression ? "true" : "false"},
      {"new_campaign", request.new_campaign ? "true" : "false"}};
  for (const auto& [name, value] : {std::pair{"sender", &request.sender},
                                    {"unsubscribe_url", &request.list.unsubscribe_url},
                                    {"unsubscribe_mailto", &request.list.unsubscribe_mailto},
                                    {"list_id", &request.list.list_id}}) {
    if (!value->empty()) fields.emplace_back(name, *value);
  }
  fields.emplace_back("message", message);
  const http::UploadBody body = http::multipart_form(fields, {{"recipients", part.path()}});
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(kRetryAfter));
    auto answer = http::http_upload(member.url, "POST", kPartsPath, settings_.token, body,
                                    settings_.timeout, settings_.pinned_cert);
    if (!answer) {
      out.status = 0;
      out.error = answer.error().message;
      continue;
    }
    out.status = answer->status;
    out.answer = nlohmann::json::parse(answer->body, nullptr, false);
    if (taken(out.status)) {
      out.error.clear();
      return out;
    }
    out.error = "answered " + std::to_string(out.status);
    if (out.answer.is_object() && out.answer.contains("error")) {
      out.error += ": " + out.answer["error"].dump();
    }
    if (!retry(out.status)) return out;
  }
  return out;
}

Spread ClusterCampaigns::spread(const CampaignRequest& request, const std::string& campaign,
                                const std::string& message, const std::string& list_path,
                                const std::string& dir) {
  Spread out;
  std::string why;
  cluster::RedisConnection* r = redis(why);
  if (r == nullptr) {
    out.note = "not split across the cluster (Redis is away: " + why + "); all queued here";
    return out;
  }
  auto live = cluster::live_members(*r, settings_.prefix);
  if (!live) {
    redis_.reset();
    out.note = "not split across the cluster (" + live.error().message + "); all queued here";
    return out;
  }
  std::vector<cluster::Member> members;
  for (cluster::Member& m : *live) {
    if (!m.url.empty() || m.node == settings_.node) members.push_back(std::move(m));
  }
  // This node takes its share even before its first heartbeat has told Redis its URL.
  if (std::none_of(members.begin(), members.end(),
                   [this](const cluster::Member& m) { return m.node == settings_.node; })) {
    members.push_back({settings_.node, ""});
  }
  if (members.size() < 2) return out;
  std::sort(members.begin(), members.end(),
            [](const cluster::Member& a, const cluster::Member& b) { return a.node < b.node; });
  std::vector<std::string> names;
  for (const cluster::Member& m : members) names.push_back(m.node);
  out.local = static_cast<std::size_t>(std::find(names.begin(), names.end(), settings_.node) -
                                       names.begin());
  auto list = cluster::split_list(list_path, names, dir);
  if (!list) {
    out.note = "not split across the cluster (" + list.error().message + "); all queued here";
    return out;
  }
  if (!list->split) return out;  // no "email" column: refused here, with ingest's words
  out.split = true;
  out.list = std::move(*list);
  cluster::ListPart& local = out.list->parts[out.local];
  for (std::size_t i = 0; i < members.size(); ++i) {
    if (i == out.local) continue;
    const cluster::ListPart& part = out.list->parts[i];
    if (part.rows() == 0) continue;
    PartOutcome sent = send_part(members[i], part, request, campaign, message);
    if (!sent.error.empty() && retry(sent.status)) {
      if (auto kept = local.take_rows_of(part); kept) {
        sent.kept_here = true;
      } else {
        sent.error += "; and it could not be kept here: " + kept.error().message;
      }
    }
    out.others.push_back(std::move(sent));
  }
  if (auto closed = local.close(); !closed) {
    out.note = closed.error().message;
  }
  return out;
}

void ClusterCampaigns::record(const std::string& campaign, const std::vector<std::string>& nodes) {
  std::string why;
  cluster::RedisConnection* r = redis(why);
  if (r == nullptr || nodes.empty()) return;
  const std::string key = settings_.prefix + ":campaign_nodes:" + campaign;
  std::vector<std::string> args{"SADD", key};
  args.insert(args.end(), nodes.begin(), nodes.end());
  if (!r->command(args) || !r->command({"EXPIRE", key, std::to_string(kRecordSeconds)})) {
    redis_.reset();
  }
}

std::vector<ClusterCampaigns::NodeAnswer> ClusterCampaigns::ask_others(const std::string& campaign,
                                                                       std::string_view method,
                                                                       const std::string& path) {
  std::vector<NodeAnswer> answers;
  std::string why;
  cluster::RedisConnection* r = redis(why);
  if (r == nullptr) {
    answers.push_back({"", std::nullopt, "Redis is away (" + why + "): this node's part only"});
    return answers;
  }
  std::vector<std::string> nodes;
  auto recorded = r->command({"SMEMBERS", settings_.prefix + ":campaign_nodes:" + campaign});
  if (!recorded) {
    redis_.reset();
    answers.push_back({"", std::nullopt, recorded.error().message + ": this node's part only"});
    return answers;
  }
  if (recorded->type == cluster::RedisReply::Type::kArray) {
    for (const cluster::RedisReply& e : recorded->elements) nodes.push_back(e.text);
  }
  if (nodes.empty()) {
    auto live = cluster::live_members(*r, settings_.prefix);
    if (live) {
      for (const cluster::Member& m : *live) nodes.push_back(m.node);
    }
  }
  std::erase(nodes, settings_.node);
  std::sort(nodes.begin(), nodes.end());
  auto urls = cluster::member_urls(*r, settings_.prefix, nodes);
  if (!urls) {
    redis_.reset();
    answers.push_back({"", std::nullopt, urls.error().message + ": this node's part only"});
    return answers;
  }
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    NodeAnswer a{nodes[i], std::nullopt, ""};
    if ((*urls)[i].empty()) {
      continue;  // a node that takes no parts holds none of this campaign
    }
    auto answer = http::http_call((*urls)[i], method, path, settings_.token, {}, settings_.timeout,
                                  settings_.pinned_cert);
    if (answer) {
      a.answer = std::move(*answer);
    } else {
      a.error = answer.error().message;
    }
    answers.push_back(std::move(a));
  }
  return answers;
}

}  // namespace ringmta::service
