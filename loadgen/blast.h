// Blast: `ringmta blast`, a load generator for any SMTP server. Each thread runs its own EventLoop
// with its share of the connections, keeps every connection busy (pipelined when the server offers
// PIPELINING) within a total message rate, and times every command from the replies as they
// arrive, every transaction end to end and every connection until its session is usable.
// It may not: touch a queue or storage, or retry: a refused message is counted, never resent.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/io/smtp_connection.h"
#include "metrics/latency_recorder.h"
#include "protocol/smtp_client.h"
#include "util/result.h"
#include "util/time.h"

namespace ringmta::loadgen {

struct BlastOptions {
  engine::ConnectionTarget target;  // the server, with TLS context and timeouts
  protocol::ClientConfig client;    // EHLO name, TLS mode, credentials (record_replies is set)
  int connections = 16;
  double rate = 0;            // messages per second in total; 0: as fast as the server answers
  Millis duration = 10'000;   // stop starting messages after this long (0: only `messages` stops)
  uint64_t messages = 0;      // stop after this many messages (0: only `duration` stops)
  std::size_t size = 10'240;  // message size in bytes (headers and body)
  int recipients_per_message = 1;
  std::string sender = "blast@ringmta.test";
  std::string recipient_domain = "blast.test";  // recipients are bN-K@DOMAIN
  int threads = 1;
  Millis drain = 30'000;  // after the stop, how long transactions under way may take
};

struct BlastReport {
  uint64_t messages = 0;           // transactions finished (accepted or not)
  uint64_t messages_accepted = 0;  // end of data answered 2xx for at least one recipient
  uint64_t recipients_accepted = 0, recipients_refused = 0;
  uint64_t sessions_ready = 0, sessions_failed = 0;
  uint64_t bytes = 0;                       // message bytes sent
  double seconds = 0;                       // first connection opened → last transaction finished
  std::map<std::string, uint64_t> replies;  // the deciding reply per message: "250", "451 4.7.1"
  std::map<std::string, metrics::LatencyRecorder> commands;  // per command (ReplyRecord names)
  metrics::LatencyRecorder end_to_end;  // submitted → final reply, per message
  metrics::LatencyRecorder session;     // connection opened → session usable (greeting ... AUTH)
  std::vector<std::string> errors;      // the first session failures, for the summary
  void merge(BlastReport&& other);
};

Result<BlastReport> run_blast(const BlastOptions& options);

// One message of about `size` bytes (wire-ready: CRLF lines, no line starting with a dot).
std::string blast_message(std::size_t size, const std::string& sender);

}  // namespace ringmta::loadgen
