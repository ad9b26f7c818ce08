// ClusterCampaigns: the API's side of a cluster of nodes (issue 20). A campaign injected into any
// node is split by destination domain across the live nodes that take parts (those started with
// `serve --cluster-listen`, cluster/campaign_split.h); each other node's part goes to its cluster
// listener as the API's own multipart upload (POST /cluster/v1/campaigns, with the API's bearer
// token, which the cluster's nodes share) and is queued there, in that node's queue, with the
// same checks. The nodes that took a part are recorded in Redis (PREFIX:campaign_nodes:ID), so
// that GET campaigns/{id} and pause, resume and cancel on any node reach every part.
// A part that its node does not take (down, unreachable, silent past the timeout, a 5xx or 429
// answer — after one retry, which the campaign id makes idempotent) is queued here instead, and
// the answer says so: nothing is lost or held because a node or Redis is away. Without Redis
// nothing is split: the campaign is queued where it arrived.
// A node's cluster listener never calls out itself, so two nodes splitting campaigns at the same
// moment cannot wait on each other.
// It may not: queue anything itself (the API does, with ingest's checks), or run on a shard.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/campaign_split.h"
#include "cluster/membership.h"
#include "cluster/redis_connection.h"
#include "http/client.h"
#include "service/campaign_request.h"
#include "util/result.h"
#include "util/time.h"

namespace ringmta::service {

struct ClusterSettings {
  cluster::RedisOptions redis;
  std::string prefix = "ringmta";  // the cluster's Redis keys (--cluster-name)
  std::string node;                // this node's name
  std::string token;               // the API's bearer token, the same on every node
  std::string pinned_cert;         // https:// nodes present this certificate (this node's own)
  Millis timeout = 30'000;         // each request to another node, of inactivity
};

// Where one other node's part went.
struct PartOutcome {
  std::string node;
  uint64_t rows = 0;
  int status = 0;          // the node's HTTP answer (0: none)
  nlohmann::json answer;   // its body (the counts, its rejected rows by the part's lines)
  std::string error;       // why the node did not take it ("" = taken)
  bool kept_here = false;  // queued on this node instead
  const cluster::ListPart* part = nullptr;  // its rows' lines in the list
};

struct Spread {
  bool split = false;
  std::string note;  // why nothing was split, when worth saying ("" = one node alone)
  std::optional<cluster::SplitList> list;  // the parts (when split); this node's is `local`
  std::size_t local = 0;
  std::vector<PartOutcome> others;
};

class ClusterCampaigns {
 public:
  explicit ClusterCampaigns(ClusterSettings settings) : settings_(std::move(settings)) {}
  const std::string& node() const { return settings_.node; }

  // Splits the list at list_path among the live nodes and sends the others their parts with the
  // request's fields, `campaign` and `message`; the rows of parts that no other node took are
  // appended to this node's part.
  Spread spread(const CampaignRequest& request, const std::string& campaign,
                const std::string& message, const std::string& list_path, const std::string& dir);
  // Records the nodes that queued a part of `campaign` (this one included).
  void record(const std::string& campaign, const std::vector<std::string>& nodes);

  struct NodeAnswer {
    std::string node;
    std::optional<http::CallAnswer> answer;  // none: it did not answer
    std::string error;
  };
  // `method` `path` (a /cluster/v1/... path) asked of every other node that took a part of
  // `campaign` (as recorded; the live nodes when Redis has no record).
  std::vector<NodeAnswer> ask_others(const std::string& campaign, std::string_view method,
                                     const std::string& path);

 private:
  // The connection to Redis, made again after an error; null (and why) when Redis is away.
  cluster::RedisConnection* redis(std::string& why);
  PartOutcome send_part(const cluster::Member& member, const cluster::ListPart& part,
                        const CampaignRequest& request, const std::string& campaign,
                        const std::string& message);

  ClusterSettings settings_;
  std::unique_ptr<cluster::RedisConnection> redis_;
};

}  // namespace ringmta::service
