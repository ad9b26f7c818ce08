// MessageComposer (see message_composer.h).
#include "engine/message_composer.h"

#include <cstdio>

#include "message/seven_bit.h"
#include "message/template.h"
#include "message/verp.h"
#include "unsubscribe/list_fields.h"

namespace ringmta::engine {

bool same_for_every_recipient(const LoadedMessage& message) {
  const storage::ListFields& list = message.stored.list;
  return message.tpl.fields().empty() && list.unsubscribe_url.empty() &&
         list.unsubscribe_mailto.empty();
}

std::string copy_message_id(const storage::QueueEntry& entry, const LoadedMessage& message,
                            uint64_t queue_identity, std::string_view domain) {
  char head[80];
  const uint64_t seq = same_for_every_recipient(message) ? 0 : entry.key.seq;
  std::snprintf(head, sizeof head, "<%llx.%llx.%016llx@", static_cast<unsigned long long>(seq),
                static_cast<unsigned long long>(entry.record.message),
                static_cast<unsigned long long>(queue_identity));
  std::string id(head);
  id += domain;
  id += '>';
  return id;
}

Result<void> MessageComposer::compose(std::string& out, const storage::QueueEntry& entry,
                                      const LoadedMessage& message, UnixSeconds now,
                                      bool seven_bit) {
  if (auto ok = message.tpl.check_values(entry.record.values); !ok) return ok;
  if (now != date_at_) {  // formatted once a second, not once a copy
    date_at_ = now;
    date_ = message::rfc5322_date(now);
  }
  extra_fields_.clear();
  if (const storage::ListFields& list = message.stored.list; list.any()) {
    std::string token;
    if (!list.unsubscribe_url.empty() || !list.unsubscribe_mailto.empty()) {
      if (tokens_ == nullptr ||
          (token = tokens_->make(message.stored.campaign, entry.record.address)).empty()) {
        return make_error("no unsubscribe token: the queue has no unsubscribe secret",
                          ErrorKind::kTemporary);
      }
    }
    unsubscribe::append_list_fields(extra_fields_, list, token);
  }
  // An 8-bit copy of a message that declares no Content-Type would be read as US-ASCII (RFC 2045
  // §5.2): it says UTF-8 (merge values are UTF-8 text), and can then be made 7-bit like any part.
  const bool eight_bit = message.tpl.eight_bit(entry.record.values);
  if (eight_bit && !message.tpl.has_field("content-type") && !message.stored.is_dsn) {
    if (!message.tpl.has_field("mime-version")) extra_fields_ += "MIME-Version: 1.0\r\n";
    extra_fields_ += "Content-Type: text/plain; charset=utf-8\r\n";
    if (!message.tpl.has_field("content-transfer-encoding")) {
      extra_fields_ += "Content-Transfer-Encoding: 8bit\r\n";
    }
  }
  const std::size_t start = out.size();
  message.tpl.render(out, entry.record.values,
                     copy_message_id(entry, message, queue_identity_, message_id_domain_), date_,
                     extra_fields_);
  const bool downgraded =
      seven_bit && eight_bit && message::downgrade_to_seven_bit(out, start).parts_converted > 0;
  if (signer_ == nullptr) return {};
  // Without a merge field in the body every copy of the message has the same body: hashed once
  // (not a 7-bit copy: its body differs from the copies that went to servers with 8BITMIME).
  const uint64_t body_identity =
      message.tpl.body_has_fields() || downgraded ? 0 : entry.record.message + 1;
  // A message the same for every recipient renders the same copy within a second (its Date).
  const uint64_t copy_identity =
      same_for_every_recipient(message) && !downgraded ? entry.record.message + 1 : 0;
  auto signed_copy = signer_->sign(out, start, now, body_identity, copy_identity);
  if (!signed_copy) {
    out.resize(start);
    return make_error("DKIM: " + signed_copy.error().message, ErrorKind::kTemporary);
  }
  // A DSN is sent unsigned when its domain has no key: refusing it would lose the bounce.
  if (*signed_copy == dkim::SignResult::kNoKey && dkim_required_ && !message.stored.is_dsn) {
    out.resize(start);
    return make_error(
        "no DKIM key for this message's From: domain, and --dkim-required: kept queued until "
        "a key for it is configured",
        ErrorKind::kTemporary);
  }
  return {};
}

std::string MessageComposer::envelope_sender(const storage::QueueEntry& entry,
                                             const LoadedMessage& message) const {
  // A DSN goes out with the null reverse-path (RFC 5321 §4.5.5), whatever --sender says.
  if (message.stored.is_dsn) return {};
  std::string sender = sender_override_.empty() ? message.stored.envelope_sender : sender_override_;
  if (message.stored.verp && !sender.empty()) {
    // --verp refused, up front, a sender that cannot be tagged.
    if (auto tagged = message::verp_encode(sender, entry.record.message, entry.record.address)) {
      return std::move(*tagged);
    }
  }
  return sender;
}

}  // namespace ringmta::engine
