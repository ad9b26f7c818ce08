// queue_campaign: template, envelope Sender, ingest and the campaign's size.
#include "jobs/campaign.h"

#include <openssl/evp.h>

#include <cstdio>
#include <fstream>
#include <random>

#include "dkim/signer.h"
#include "ingest/ingest.h"
#include "message/address.h"
#include "message/template.h"
#include "message/verp.h"
#include "unsubscribe/list_fields.h"
#include "unsubscribe/secret.h"
#include "util/time.h"

namespace ringmta::jobs {
namespace {

// The record that remembers which campaign a message and list were queued as.
constexpr std::string_view kSentPrefix = "campaign_content/";

// SHA-256 over the message, a separator and the recipient list, as bytes: the same newsletter
// to the same list, whatever the files are called.
Result<std::string> content_fingerprint(const CampaignInput& input) {
  std::ifstream list(input.recipients_path, std::ios::binary);
  if (!list) return make_error("cannot read --recipients " + input.recipients_path);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    return make_error("SHA-256 is not available");
  }
  EVP_DigestUpdate(ctx.get(), input.raw_message.data(), input.raw_message.size());
  EVP_DigestUpdate(ctx.get(), "\0", 1);
  std::vector<char> chunk(1 << 16);
  while (list.read(chunk.data(), static_cast<std::streamsize>(chunk.size())) || list.gcount() > 0) {
    EVP_DigestUpdate(ctx.get(), chunk.data(), static_cast<std::size_t>(list.gcount()));
  }
  if (list.bad()) return make_error("cannot read --recipients " + input.recipients_path);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &length);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    char two[3];
    std::snprintf(two, sizeof two, "%02x", digest[i]);
    hex += two;
  }
  return hex;
}

std::string plural(uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

std::string new_campaign_id() {
  std::random_device rd;
  char buf[32];
  std::snprintf(buf, sizeof buf, "c%llx%04x", static_cast<unsigned long long>(unix_now()),
                rd() & 0xffff);
  return buf;
}

Result<CampaignAddresses> campaign_addresses(const CampaignInput& input) {
  // The setting as the user gave it: a flag, or a field of the API's request.
  const auto named = [&input](const char* flag, const char* field) {
    return std::string(input.from_api ? field : flag);
  };
  auto tpl = message::MessageTemplate::parse(input.raw_message);
  if (!tpl) return make_error(input.message_name + ": " + tpl.error().message);
  std::string from_domain;
  if (auto from = tpl->from_address()) {
    if (auto parsed = message::parse_address(*from)) from_domain = parsed->domain;
  }
  if (auto ok = unsubscribe::check_list_fields(input.list); !ok) return ok.error();
  const bool unsubscribe =
      !input.list.unsubscribe_url.empty() || !input.list.unsubscribe_mailto.empty();
  for (const char* field : {"List-Unsubscribe", "List-Unsubscribe-Post", "List-Id"}) {
    const bool ours =
        field == std::string_view("List-Id") ? !input.list.list_id.empty() : unsubscribe;
    if (ours && tpl->has_field(field)) {
      return make_error(input.message_name + " has its own " + field +
                        ": header; remove it, or drop the " +
                        named("--unsubscribe-*/--list-id flags", "unsubscribe_*/list_id fields"));
    }
  }
  std::string sender = input.sender;
  if (sender.empty()) {
    if (!tpl->from_address()) {
      return make_error("no " + named("--sender", "\"sender\"") +
                        " given and the message has no usable From: address");
    }
    sender = *tpl->from_address();
  }
  if (input.verp && !message::verp_capable(sender)) {
    return make_error(named("--verp", "\"verp\"") +
                      " needs an envelope Sender without '+' in its local part (got " + sender +
                      ")");
  }
  std::vector<std::string> warnings;
  for (const std::string& w : tpl->warnings()) warnings.push_back(input.message_name + ": " + w);
  return CampaignAddresses{std::move(sender), std::move(from_domain), std::move(warnings)};
}

Result<std::string> check_dkim_signing(const engine::RouteConfig& route,
                                       const std::string& from_domain) {
  if (route.dkim_keys.empty()) return std::string();
  auto signer = dkim::Signer::create(route.dkim_keys);
  if (!signer) return signer.error();
  if (!from_domain.empty() && !signer.value()->keys_for(from_domain).empty()) {
    return std::string();
  }
  std::string problem = from_domain.empty()
                            ? "the message's From: has no address to choose a DKIM key by"
                            : "no DKIM key signs mail From: " + from_domain + " (keys are for " +
                                  route.dkim_keys.front().domain +
                                  (route.dkim_keys.size() > 1 ? ", ..." : "") + ")";
  if (route.dkim_required) return make_error(problem + "; --dkim-required: nothing queued");
  return "warning: " + problem +
         ": the copies go out unsigned, which Gmail, Yahoo and Outlook refuse or junk for bulk "
         "mail (--dkim-required refuses instead)";
}

namespace {

// The options every campaign's ingest has in common.
ingest::IngestOptions ingest_options(const CampaignInput& input, const std::string& sender,
                                     const std::string& campaign) {
  ingest::IngestOptions io;
  io.recipients_path = input.recipients_path;
  if (input.from_api) io.recipients_name = "recipients";
  io.rejects_path =
      input.rejects_path.empty() ? input.recipients_path + ".rejects.csv" : input.rejects_path;
  io.envelope_sender = sender;
  io.raw_message = input.raw_message;
  io.campaign = campaign;
  io.skip_suppressed = input.skip_suppressed;
  io.verp = input.verp;
  io.list = input.list;
  return io;
}

Result<void> make_unsubscribe_secret(storage::Queue& queue, const CampaignInput& input) {
  if (input.list.unsubscribe_url.empty() && input.list.unsubscribe_mailto.empty()) return {};
  // Made (once per queue) before the first copy that needs it can be claimed.
  if (auto secret = unsubscribe::queue_secret(queue, true); !secret) return secret.error();
  return {};
}

CampaignFacts facts_of(const ingest::IngestSummary& ingested, const ingest::IngestOptions& io,
                       const std::string& sender) {
  return CampaignFacts{.rejected_rows = ingested.rejected_rows,
                       .duplicates = ingested.duplicates,
                       .accepted = ingested.accepted,
                       .suppressed = ingested.suppressed,
                       .rejects_path = ingested.rejected_rows ? io.rejects_path : "",
                       .campaign = io.campaign,
                       .envelope_sender = sender};
}

// A test send: no record of the list's content (the real send must not be taken for a second
// copy of it), no suppression, every copy to the test address.
Result<CampaignFacts> queue_test_send(storage::Queue& queue, const CampaignInput& input,
                                      const std::string& sender) {
  auto to = message::parse_address(input.test_to);
  if (!to) return make_error("--test-to: " + to.error().message, ErrorKind::kInput);
  ingest::IngestOptions io = ingest_options(
      input, sender, input.campaign.empty() ? "test-" + new_campaign_id() : input.campaign);
  io.skip_suppressed = false;
  io.deliver_to = std::move(*to);
  io.max_rows = input.test_rows;
  if (auto made = make_unsubscribe_secret(queue, input); !made) return made.error();
  auto ingested = ingest::ingest(queue, io);
  if (!ingested) return ingested.error();
  if (auto sized = queue.add_campaign_size(io.campaign, ingested->accepted); !sized) {
    return sized.error();
  }
  return facts_of(*ingested, io, sender);
}

}  // namespace

Result<CampaignFacts> queue_campaign(storage::Queue& queue, const CampaignInput& input,
                                     const std::string& sender) {
  if (!input.test_to.empty()) return queue_test_send(queue, input, sender);
  const std::string campaign = input.campaign.empty() ? new_campaign_id() : input.campaign;
  auto fingerprint = content_fingerprint(input);
  if (!fingerprint) return fingerprint.error();
  const std::string sent_key = std::string(kSentPrefix) + *fingerprint;
  auto earlier = queue.get_records(std::span<const std::string>(&sent_key, 1));
  if (!earlier) return earlier.error();
  if (const auto& before = earlier->front(); before && !input.new_campaign) {
    if (input.campaign_given && *before == campaign) {
      auto size = queue.campaign_size(campaign);
      if (!size) return size.error();
      return CampaignFacts{.accepted = size->value_or(0),
                           .campaign = campaign,
                           .envelope_sender = sender,
                           .already_queued = true};
    }
    auto left = queue.campaign_counts(*before, unix_now());
    if (!left) return left.error();
    if (left->total() > 0) {
      const std::string way_out =
          input.from_api
              ? "the service delivers them; \"new_campaign\": true queues the whole list again "
                "(everyone gets it twice)"
              : "`ringmta run` with the same --queue delivers them; --new-campaign queues the "
                "whole list again (everyone gets it twice)";
      return make_error("this message and recipient list were already queued as campaign " +
                            *before + ", and " +
                            plural(left->total(), "recipient is", "recipients are") +
                            " still in the queue: " + way_out,
                        ErrorKind::kConflict);
    }
  }
  ingest::IngestOptions io = ingest_options(input, sender, campaign);
  if (auto made = make_unsubscribe_secret(queue, input); !made) return made.error();
  auto ingested = ingest::ingest(queue, io);
  if (!ingested) return ingested.error();
  // For `ringmta queue --campaign ID`: progress against the campaign's size.
  if (auto sized = queue.add_campaign_size(io.campaign, ingested->accepted); !sized) {
    return sized.error();
  }
  // Written once the whole list is queued. A send cut off while queueing (a second or two for a
  // million rows) or a crash before this write has no record yet: typed again, it queues the list
  // once more.
  const std::pair<std::string, std::string> sent{sent_key, io.campaign};
  if (auto noted = queue.write_records(std::span(&sent, 1), {}); !noted) return noted.error();
  return facts_of(*ingested, io, sender);
}

}  // namespace ringmta::jobs
