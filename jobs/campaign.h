// queue_campaign: a message and a recipient list into the queue, as `send` (and `demo`, and next
// the service's API) takes them — the template parsed, the envelope Sender chosen, every row
// checked and queued durably, the campaign's size recorded. It may not deliver or print; errors
// are values that name the input at fault.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/route_config.h"
#include "storage/queue.h"
#include "util/result.h"

namespace ringmta::jobs {

struct CampaignInput {
  std::string raw_message;   // RFC 5322 text, {{field}} merge fields allowed
  std::string message_name;  // for errors: the file it came from
  std::string recipients_path;
  std::string rejects_path;  // "" = RECIPIENTS.rejects.csv
  // Queued through the service's API (recipients_path is its spool file): errors name the list
  // "recipients" and give the API's ways out, not the command line's.
  bool from_api = false;
  std::string campaign;  // "" = a new id
  // The campaign id was the user's (--campaign): the same message and list sent again with it
  // are already queued, and nothing is queued twice.
  bool campaign_given = false;
  // --new-campaign: queue the list again even while an earlier send of it is still queued.
  bool new_campaign = false;
  std::string sender;  // the envelope Sender (MAIL FROM); "" = the message's From:
  bool verp = false;
  bool skip_suppressed = true;
  storage::ListFields list;  // --unsubscribe-url, --unsubscribe-mailto, --list-id
  // `send --test-to`: the first test_rows rows' copies, each with its row's values, all to this
  // address (validated, normalised). A campaign of its own ("test-..."), never taken for the
  // list's campaign by the check against sending a list twice; suppression does not apply.
  std::string test_to;
  uint64_t test_rows = 0;
};

// What queueing found: the counts a summary reports, and where rejected rows went.
struct CampaignFacts {
  uint64_t rejected_rows = 0;
  uint64_t duplicates = 0;
  uint64_t accepted = 0;
  uint64_t suppressed = 0;   // on the suppression list, skipped
  std::string rejects_path;  // "" when no row was rejected
  std::string campaign;
  std::string envelope_sender;
  // The same message and list were queued before as this campaign (given again with --campaign):
  // nothing was queued now; accepted is the campaign's size.
  bool already_queued = false;
};

// "c<unix time hex><random>".
std::string new_campaign_id();

struct CampaignAddresses {
  std::string sender;       // the envelope Sender: input.sender, else the message's From:
  std::string from_domain;  // of the From: header ("" when it has no usable address): DKIM's
  // What the message says that the sender should know (MessageTemplate::warnings), each starting
  // with the message's name: "news.eml: line 12: ...".
  std::vector<std::string> warnings;
};
// Fails on a message that does not parse, or a Sender that --verp cannot tag. Needs no queue, so
// a command can check its input before it opens or creates one.
Result<CampaignAddresses> campaign_addresses(const CampaignInput& input);

// Whether the route's DKIM keys sign mail from from_domain. With keys configured and none for it:
// an error under --dkim-required (nothing may be queued), else a warning to print. "" when the
// copies will be signed, or when no key is configured at all.
Result<std::string> check_dkim_signing(const engine::RouteConfig& route,
                                       const std::string& from_domain);

// Queues the campaign with the envelope Sender campaign_addresses() chose for it. A message and
// list (by content) queued before as a campaign that still has recipients in the queue are refused
// (ErrorKind::kConflict),
// with the way out in the error (`ringmta run`, or --new-campaign) — a send stopped and typed
// again must not mail the list twice — unless the campaign is the one given with --campaign,
// which makes the send idempotent (already_queued).
Result<CampaignFacts> queue_campaign(storage::Queue& queue, const CampaignInput& input,
                                     const std::string& envelope_sender);

}  // namespace ringmta::jobs
