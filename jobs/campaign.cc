// queue_campaign: template, envelope Sender, ingest and the campaign's size.
#include "jobs/campaign.h"

#include <cstdio>
#include <random>

#include "ingest/ingest.h"
#include "message/template.h"
#include "message/verp.h"
#include "util/time.h"

namespace ringmta::jobs {

std::string new_campaign_id() {
  std::random_device rd;
  char buf[32];
  std::snprintf(buf, sizeof buf, "c%llx%04x", static_cast<unsigned long long>(unix_now()),
                rd() & 0xffff);
  return buf;
}

Result<std::string> campaign_sender(const CampaignInput& input) {
  auto tpl = message::MessageTemplate::parse(input.raw_message);
  if (!tpl) return make_error(input.message_name + ": " + tpl.error().message);
  std::string sender = input.sender;
  if (sender.empty()) {
    if (!tpl->from_address()) {
      return make_error("no --sender given and the message has no usable From: address");
    }
    sender = *tpl->from_address();
  }
  if (input.verp && !message::verp_capable(sender)) {
    return make_error("--verp needs an envelope Sender without '+' in its local part (got " +
                      sender + ")");
  }
  return sender;
}

Result<CampaignFacts> queue_campaign(storage::Queue& queue, const CampaignInput& input,
                                     const std::string& sender) {
  ingest::IngestOptions io;
  io.recipients_path = input.recipients_path;
  io.rejects_path =
      input.rejects_path.empty() ? input.recipients_path + ".rejects.csv" : input.rejects_path;
  io.envelope_sender = sender;
  io.raw_message = input.raw_message;
  io.campaign = input.campaign.empty() ? new_campaign_id() : input.campaign;
  io.skip_suppressed = input.skip_suppressed;
  io.verp = input.verp;
  auto ingested = ingest::ingest(queue, io);
  if (!ingested) return ingested.error();
  // For `ringmta queue --campaign ID`: progress against the campaign's size.
  if (auto sized = queue.add_campaign_size(io.campaign, ingested->accepted); !sized) {
    return sized.error();
  }
  return CampaignFacts{.rejected_rows = ingested->rejected_rows,
                       .duplicates = ingested->duplicates,
                       .accepted = ingested->accepted,
                       .suppressed = ingested->suppressed,
                       .rejects_path = ingested->rejected_rows ? io.rejects_path : "",
                       .campaign = io.campaign,
                       .envelope_sender = sender};
}

}  // namespace ringmta::jobs
