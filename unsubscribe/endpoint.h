// UnsubscribeEndpoint: the unsubscribe links' side. What the admin listener answers under /u/:
//
//   POST /u/{token}  body List-Unsubscribe=One-Click (RFC 8058; also what the page's button
//                    sends): the token is checked and its address added to the suppression list,
//                    synced, before the 200; a forged or altered token is 400 and changes nothing.
//   GET  /u/{token}  a small page naming the address, with the button. Never unsubscribes: mail
//                    scanners fetch every link of a message.
//
// And record(), which `bounces ingest` calls for an unsubscribe request sent to the mailto address.
// An address already suppressed stays as it was (its first reason is kept).
// It may not: deliver, or block on anything but the queue's synced write. One caller at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "storage/queue.h"
#include "unsubscribe/token.h"
#include "util/result.h"
#include "util/time.h"

namespace ringmta::unsubscribe {

struct EndpointAnswer {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class UnsubscribeEndpoint {
 public:
  static constexpr std::string_view kPathPrefix = "/u/";

  UnsubscribeEndpoint(storage::Queue& queue, std::unique_ptr<UnsubscribeTokens> tokens)
      : queue_(queue), tokens_(std::move(tokens)) {}

  // path: the request's path (starting with kPathPrefix).
  EndpointAnswer handle(std::string_view method, std::string_view path, std::string_view body,
                        UnixSeconds now);

  // Suppresses the token's address, synced. False when the token is not valid (nothing changes).
  Result<bool> record(std::string_view token, std::string_view how, UnixSeconds now);
  // Called with the address after each valid unsubscribe is on the list (synced), so that a
  // running delivery withdraws copies already on their way; set before requests arrive.
  void on_unsubscribed(std::function<void(std::string_view address)> hook) {
    on_unsubscribed_ = std::move(hook);
  }
  // Addresses this endpoint added to the suppression list (thread-safe read, for the metrics).
  uint64_t unsubscribed() const { return unsubscribed_.load(std::memory_order_relaxed); }

 private:
  storage::Queue& queue_;
  std::unique_ptr<UnsubscribeTokens> tokens_;
  std::atomic<uint64_t> unsubscribed_{0};
  std::function<void(std::string_view)> on_unsubscribed_;
};

}  // namespace ringmta::unsubscribe
