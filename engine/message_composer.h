// MessageComposer: one recipient's copy of a queued message as one attempt carries it — the
// merge values filled in, its Message-ID, a Date: — and the envelope Sender it goes
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

// Whether every copy of message is the same (no merge field, no per-recipient unsubscribe link):
// then it is one message to many recipients, with one Message-ID, as a mailing list sends it.
bool same_for_every_recipient(const LoadedMessage& message);

// The Message-ID of entry's copy: "<SEQ.MESSAGE.QUEUE@DOMAIN>" in hex, SEQ 0 for a message that is
// the same for every recipient. The same for every attempt (a receiver can drop the duplicate of
// a delivery whose reply was lost) and derived from the entry alone, so a DSN quotes the
// Message-ID the recipient's copies carried. Unique across queues and hosts: the queue's identity
// is 64 random bits; seq and message ids are never reused within a queue.
std::string copy_message_id(const storage::QueueEntry& entry, const LoadedMessage& message,
                            uint64_t queue_identity, std::string_view domain);

class MessageComposer {
 public:
  // message_id_domain: the right-hand side of Message-IDs; queue_identity: the queue's
  // (storage::Queue::identity); sender_override: `--sender` ("" none).
  // signer: signs every copy whose From: domain has a key (nullptr: none is signed); it must
  // outlive the composer. dkim_required: a copy it has no key for is not composed.
  // tokens: the shard's, for the unsubscribe links of campaigns with list fields (nullptr when the
  // queue has no unsubscribe secret); it must outlive the composer.
  MessageComposer(std::string message_id_domain, uint64_t queue_identity,
                  std::string sender_override, dkim::Signer* signer = nullptr,
                  bool dkim_required = false, unsubscribe::UnsubscribeTokens* tokens = nullptr)
      : message_id_domain_(std::move(message_id_domain)),
        queue_identity_(queue_identity),
        sender_override_(std::move(sender_override)),
        signer_(signer),
        dkim_required_(dkim_required),
        tokens_(tokens) {}

  // Appends entry's copy of message, dated now, to out. Fails, writing nothing, when the
  // recipient's merge values cannot go into a message (MessageTemplate::check_values says why),
  // or, with ErrorKind::kTemporary, when the copy cannot be signed as the configuration requires.
  // seven_bit: for a server without 8BITMIME, an 8-bit copy's 8-bit parts are made
  // quoted-printable (message/seven_bit.h) before it is signed.
  Result<void> compose(std::string& out, const storage::QueueEntry& entry,
                       const LoadedMessage& message, UnixSeconds now, bool seven_bit = false);
  // A reload's signer (or none); the same lifetime rule as the constructor's.
  void set_signer(dkim::Signer* signer) { signer_ = signer; }
  // MAIL FROM for entry's copy of message.
  std::string envelope_sender(const storage::QueueEntry& entry, const LoadedMessage& message) const;

 private:
  std::string message_id_domain_;
  uint64_t queue_identity_;
  std::string sender_override_;
  dkim::Signer* signer_;
  bool dkim_required_;
  unsubscribe::UnsubscribeTokens* tokens_;
  std::string extra_fields_;  // this copy's List-* fields and MIME declaration, reused
  UnixSeconds date_at_ = -1;  // the second date_ (a Date: header value) was formatted for
  std::string date_;
};

}  // namespace ringmta::engine
