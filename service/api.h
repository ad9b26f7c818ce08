// ServiceApi: the HTTP/JSON API of `ringmta serve`, for applications. Every request must carry
// `Authorization: Bearer TOKEN` (401 otherwise); answers are JSON, errors {"error": ..., "field":
// ...} naming the field at fault.
//
//   POST   /api/v1/campaigns            a message and its recipients (service/campaign_request.h);
//                                       201 once every accepted recipient is durably queued, with
//                                       the counts and the rejected rows; 200 for a campaign id
//                                       given again (idempotent); 409 for the same message and
//                                       list still queued under another campaign; as
//                                       multipart/form-data (service/campaign_upload.h) the list
//                                       is a CSV file of any size, streamed to the spool
//   GET    /api/v1/campaigns/{id}       its size, what is still queued (ready, deferred), failures,
//                                       and its state: active, paused or cancelled; in a cluster
//                                       the whole campaign, every node's part summed and listed
//   POST   /api/v1/campaigns/{id}/pause   held back, recipients kept (recorded in the queue)
//   POST   /api/v1/campaigns/{id}/resume  delivered again from where it stopped
//   POST   /api/v1/campaigns/{id}/cancel  what is not yet sent is removed; the count is answered
//   POST   /api/v1/domains/{domain}/pause|resume  a destination domain held back (a provider block)
//   GET    /api/v1/suppressions         the list (?limit=N&after=ADDRESS), or ?address=A: one entry
//   POST   /api/v1/suppressions         {"addresses": [...], "reason": "..."}: added, synced
//   DELETE /api/v1/suppressions/{addr}  removed, synced
//   GET    /api/v1/queue                what is queued: ready, deferred, the busiest domains, the
//                                       paused domains
//
// Recipients are queued with the same checks as `send` (jobs::queue_campaign), through a CSV file
// in the spool directory that lives only for the request. Requests are handled one at a time on
// the listener's thread; a large campaign holds the next request until it is queued.
// It may not: deliver, print, or answer before what it reports is durable.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "engine/delivery_control.h"
#include "engine/route_config.h"
#include "engine/suppression_feed.h"
#include "http/admin_server.h"
#include "jobs/campaign_report.h"
#include "scheduler/token_bucket.h"
#include "service/campaign_request.h"
#include "service/cluster_campaigns.h"
#include "service/event_log.h"
#include "storage/queue.h"

namespace ringmta::service {

struct ApiSettings {
  std::string token;      // the bearer token (from --api-token-file)
  std::string spool_dir;  // where a request's recipients are written while they are queued
  // The route's envelope Sender override (--sender), "" for none; a request's "sender" wins.
  std::string sender_override;
  const engine::RouteConfig* route = nullptr;  // for the DKIM check; must outlive the API
  // Addresses suppressed through the API, told to the running delivery (null: none).
  std::shared_ptr<engine::SuppressionFeed> suppression_feed;
  // The running delivery's holds, set anew from the queue's records after each change (null:
  // only recorded, for the next delivery).
  std::shared_ptr<engine::DeliveryControl> control;
  // Requests answered at most (429 beyond, before the token is looked at: also a bound on guessing
  // it); unlimited by default.
  scheduler::Rate max_requests;
  EventLog* log = nullptr;             // the service's log (null: none); must outlive the API
  std::size_t max_message = 64 << 20;  // an upload's message part (--api-max-body)
  // In a cluster (service/cluster_campaigns.h): campaigns split across the nodes, and reported,
  // paused, resumed and cancelled as a whole. Null: this node's queue only (also the API that a
  // node's cluster listener serves to the others).
  std::shared_ptr<ClusterCampaigns> cluster;
};

// {"campaign", "failed", "hard", "by_category", "unsubscribed"}: `report --json` and the API's
// GET campaigns/{id}/report say the same.
nlohmann::json report_json(std::string_view campaign, const jobs::CampaignReport& report);

class ServiceApi {
 public:
  static constexpr std::string_view kPathPrefix = "/api/";
  static constexpr std::string_view kCampaignsPath = "/api/v1/campaigns";
  static constexpr std::size_t kMaxRejectedRows = 100;  // listed in an answer; all are counted

  ServiceApi(storage::Queue& queue, ApiSettings settings)
      : queue_(queue),
        settings_(std::move(settings)),
        requests_(settings_.max_requests, 0, monotonic_now()) {}

  http::HttpAnswer handle(const http::HttpRequest& request);
  // POST /api/v1/campaigns as multipart/form-data (service/campaign_upload.h): streamed, for
  // lists of any size. The token and the request rate are checked on the head, before the body.
  static bool is_upload(const http::HttpRequest& head);
  http::StreamStart open_upload(const http::HttpRequest& head);

 private:
  // 429 or 401, or nothing when the request may go on.
  std::optional<http::HttpAnswer> admit(const http::HttpRequest& request);
  http::HttpAnswer post_campaign(const http::HttpRequest& request);
  // The request's recipients (a CSV file) queued with its message; rejected rows are named by
  // their recipient's index (a JSON request) or by their line (an upload).
  http::HttpAnswer queue_request(CampaignRequest& request, const std::string& recipients_path,
                                 bool rows_by_index);
  http::HttpAnswer get_campaign(std::string_view id);
  // This node's part of a campaign as GET campaigns/{id} reports it; 404 and 503 as answers.
  http::HttpAnswer local_campaign(std::string_view id);
  http::HttpAnswer get_report(std::string_view id);   // `ringmta report` --json's counts
  http::HttpAnswer get_bounces(std::string_view id);  // `ringmta report --bounces`'s CSV
  http::HttpAnswer hold_campaign(std::string_view id, std::string_view action);
  http::HttpAnswer local_hold(std::string_view id, std::string_view action);
  http::HttpAnswer hold_domain(std::string_view domain, std::string_view action);
  // The holds recorded in the queue, handed to the running delivery.
  Result<void> refresh_control();
  http::HttpAnswer get_suppressions(const http::HttpRequest& request);
  http::HttpAnswer post_suppressions(const http::HttpRequest& request);
  http::HttpAnswer delete_suppression(std::string_view address);
  http::HttpAnswer get_queue();
  // Deferred recipients due now (all, or one domain's): `ringmta queue flush` through the API.
  http::HttpAnswer flush_queue(const http::HttpRequest& request);

  storage::Queue& queue_;
  ApiSettings settings_;
  scheduler::TokenBucket requests_;
};

}  // namespace ringmta::service
