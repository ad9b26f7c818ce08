// The preview of one recipient's copy (see preview.h). It may not deliver, write a queue, or print.
#include "jobs/preview.h"

#include <filesystem>
#include <memory>
#include <random>

#include "dkim/signer.h"
#include "engine/message_composer.h"
#include "ingest/ingest.h"
#include "storage/queue.h"
#include "unsubscribe/secret.h"
#include "unsubscribe/token.h"
#include "util/time.h"

namespace ringmta::jobs {
namespace {

// The wire form back into the message a mailbox stores: the dot-stuffing of each line undone.
std::string unstuffed(const std::string& wire) {
  std::string out;
  out.reserve(wire.size());
  bool line_start = true;
  for (char c : wire) {
    if (line_start && c == '.') {
      line_start = false;
      continue;  // the stuffed dot; the line's own follows
    }
    out.push_back(c);
    line_start = c == '\n';
  }
  return out;
}

std::string example_secret() {
  std::random_device rd;
  std::string secret;
  while (secret.size() < unsubscribe::UnsubscribeTokens::kSecretBytes) {
    secret.push_back(static_cast<char>(rd() & 0xff));
  }
  return secret;
}

}  // namespace

Result<Preview> render_preview(const PreviewInput& in) {
  auto addresses = campaign_addresses(in.campaign);
  if (!addresses) return addresses.error();
  auto tpl = message::MessageTemplate::parse(in.campaign.raw_message);
  if (!tpl) return make_error(in.campaign.message_name + ": " + tpl.error().message);
  auto chosen = ingest::choose_row(in.campaign.recipients_path, in.campaign.recipients_path, *tpl,
                                   in.row, in.email);
  if (!chosen) return chosen.error();

  Preview out;
  out.row = chosen->row;
  out.line = chosen->line;
  out.notes = addresses->warnings;
  const std::string campaign = in.campaign.campaign.empty() ? "preview" : in.campaign.campaign;
  engine::LoadedMessage message{.stored = {.envelope_sender = addresses->sender,
                                           .raw = in.campaign.raw_message,
                                           .fields = tpl->fields(),
                                           .campaign = campaign,
                                           .created = unix_now(),
                                           .verp = in.campaign.verp,
                                           .list = in.campaign.list},
                                .tpl = std::move(tpl).value()};
  storage::QueueEntry entry;
  entry.key.seq = chosen->row;
  entry.domain = chosen->recipient.domain;
  entry.record.address = chosen->recipient.address;
  entry.record.message = 1;
  entry.record.values = std::move(chosen->recipient.values);

  // The queue, when there is one: its identity makes the Message-ID and its secret the tokens.
  std::unique_ptr<storage::Queue> queue;
  std::error_code ec;
  if (!in.queue_dir.empty() && std::filesystem::is_directory(in.queue_dir, ec)) {
    auto opened = storage::Queue::open(in.queue_dir);
    if (opened) queue = std::move(opened.value());
  }
  std::unique_ptr<unsubscribe::UnsubscribeTokens> tokens;
  const storage::ListFields& list = in.campaign.list;
  if (!list.unsubscribe_url.empty() || !list.unsubscribe_mailto.empty()) {
    std::string secret;
    if (queue != nullptr) {
      if (auto s = unsubscribe::queue_secret(*queue, false); s && !s->empty()) secret = *s;
    }
    if (secret.empty()) {
      secret = example_secret();
      out.notes.push_back("the unsubscribe link carries an example token: the queue " +
                          in.queue_dir + " has no unsubscribe secret yet (a send makes it)");
    } else if (in.campaign.campaign.empty()) {
      out.notes.push_back(
          "the unsubscribe token is made for campaign \"preview\": a send's token names its own "
          "campaign (give --campaign to see that one)");
    }
    auto made = unsubscribe::UnsubscribeTokens::create(secret);
    if (!made) return made.error();
    tokens = std::move(made.value());
  }
  std::unique_ptr<dkim::Signer> signer;
  if (!in.dkim_keys.empty()) {
    auto made = dkim::Signer::create(in.dkim_keys);
    if (!made) return made.error();
    signer = std::move(made.value());
  }
  engine::MessageComposer composer(in.message_id_domain, queue != nullptr ? queue->identity() : 0,
                                   in.sender_override, signer.get(), in.dkim_required,
                                   tokens.get());
  std::string wire;
  if (auto ok = composer.compose(wire, entry, message, unix_now(), in.seven_bit); !ok) {
    return make_error(in.campaign.recipients_path + ": line " + std::to_string(out.line) +
                      " (row " + std::to_string(out.row) + "): " + ok.error().message);
  }
  out.copy = unstuffed(wire);
  out.mail_from = composer.envelope_sender(entry, message);
  out.rcpt_to = entry.record.address;
  out.eight_bit = !in.seven_bit && message.tpl.eight_bit(entry.record.values);
  return out;
}

}  // namespace ringmta::jobs
