// MessageComposer: one recipient's copy of a queued message as one attempt carries it — the
// merge values filled in, the attempt's own Message-ID, a Date: — and the envelope Sender it goes
// out with (the null reverse-path for a DSN, else --sender or the message's, VERP-tagged when the
// campaign asked). A campaign with list fields gets them in every copy, with the recipient's
// unsubscribe token. With a DKIM signer (the shard's), each copy is signed after it is rendered.
// The route worker sends what it composes; the bounce reporter quotes the header block of the same
// composition (unsigned: a DSN need not repeat the signature) in the DSN.
// It may not: deliver, read storage, or read a clock (callers pass the time).
#pragma once

#include <string>
#include <string_view>

#include "dkim/signer.h"
#include "engine/message_cache.h"
#include "storage/queue.h"
#include "unsubscribe/token.h"
#include "util/result.h"
#include "util/time.h"

namespace ringmta::engine {

// The Message-ID of one delivery attempt: "<SEQ.ATTEMPT.FIRST-ENQUEUED@DOMAIN>" (seq in hex).
// Derived from the queue entry alone, so a DSN quotes the Message-ID the failed attempt carried,
// and a retry gets a new one. Unique: seq is unique within a queue, the first-enqueued time tells
// queues apart.
std::string attempt_message_id(const storage::QueueEntry& entry, std::string_view domain);

class MessageComposer {
 public:
  // message_id_domain: the right-hand side of Message-IDs; sender_override: `--sender` ("" none).
  // signer: signs every copy whose From: domain has a key (nullptr: none is signed); it must
  // outlive the composer. dkim_required: a copy it has no key for is not composed.
  // tokens: the shard's, for the unsubscribe links of campaigns with list fields (nullptr when the
  // queue has no unsubscribe secret); it must outlive the composer.
  MessageComposer(std::string message_id_domain, std::string sender_override,
                  dkim::Signer* signer = nullptr, bool dkim_required = false,
                  unsubscribe::UnsubscribeTokens* tokens = nullptr)
      : message_id_domain_(std::move(message_id_domain)),
        sender_override_(std::move(sender_override)),
        signer_(signer),
        dkim_required_(dkim_required),
        tokens_(tokens) {}

  // Appends entry's copy of message, dated now, to out. Fails, writing nothing, when the
  // recipient's merge values cannot go into a message (MessageTemplate::check_values says why),
  // or, with ErrorKind::kTemporary, when the copy cannot be signed as the configuration requires.
  Result<void> compose(std::string& out, const storage::QueueEntry& entry,
                       const LoadedMessage& message, UnixSeconds now);
  // MAIL FROM for entry's copy of message.
  std::string envelope_sender(const storage::QueueEntry& entry, const LoadedMessage& message) const;

 private:
  std::string message_id_domain_;
  std::string sender_override_;
  dkim::Signer* signer_;
  bool dkim_required_;
  unsubscribe::UnsubscribeTokens* tokens_;
  std::string list_fields_;   // this copy's, reused
  UnixSeconds date_at_ = -1;  // the second date_ (a Date: header value) was formatted for
  std::string date_;
};

}  // namespace ringmta::engine
