// BounceReporter implementation (see bounce_reporter.h).
#include "engine/bounce_reporter.h"

#include <cstdio>
#include <map>

#include "bounce/dsn.h"
#include "message/address.h"

namespace ringmta::engine {
namespace {

constexpr std::size_t kMaxReportsPerPass = 50'000;  // the rest waits for the next pass

std::string header_block(const std::string& raw) {
  std::size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos) end = raw.find("\n\n");
  return end == std::string::npos ? raw : raw.substr(0, end);
}

}  // namespace

BounceReporter::BounceReporter(storage::Queue& queue, const BounceOptions& options,
                               std::string sender_override, std::string message_id_domain,
                               std::vector<uint8_t> partitions, int shard_id,
                               unsubscribe::UnsubscribeTokens* tokens)
    : queue_(queue),
      options_(options),
      sender_override_(std::move(sender_override)),
      composer_(std::move(message_id_domain), queue.identity(), sender_override_, nullptr, false,
                tokens),
      partitions_(std::move(partitions)),
      shard_id_(shard_id) {
  if (options_.mode == BounceMode::kNone) look_for_old_ = false;
}

void BounceReporter::on_failed(const storage::QueueEntry& entry, const LoadedMessage& message,
                               const protocol::Reply& reply, const Attempt& where, UnixSeconds now,
                               storage::OutcomeBatch& batch) {
  if (options_.mode == BounceMode::kNone || message.stored.is_dsn) return;
  bounce::DsnRecipient r;
  r.final_recipient = entry.record.address;
  r.action = bounce::DsnAction::kFailed;
  std::string status = reply.enhanced ? reply.enhanced->str() : "";
  r.status = status.starts_with("5.") ? status : "5.0.0";
  r.remote_mta = where.host;
  r.diagnostic = reply.summary();
  r.last_attempt = now;
  // The report never holds a line break (encode_report sanitizes), so "\n" separates the
  // recipient's header block, as rendered for the attempt that failed.
  std::string value = bounce::encode_report(r);
  value += '\n';
  if (std::string copy; composer_.compose(copy, entry, message, now)) {
    value += header_block(copy);
  }
  batch.add_bounce(entry.key, entry.record.message, std::move(value));
  ++pending_;
}

Result<uint32_t> BounceReporter::emit_due(Millis now, bool idle, UnixSeconds unix_now) {
  if (!pending()) return 0u;
  if (oldest_ == 0) oldest_ = now;
  const bool everything =
      idle || options_.mode == BounceMode::kPerRecipient || now - oldest_ >= options_.digest_every;
  if (!everything && pending_ < options_.max_per_dsn) return 0u;
  auto emitted = emit_all(unix_now, !everything);
  if (!emitted) return emitted;
  if (pending_ == 0) oldest_ = 0;  // leftovers keep the age of the oldest
  look_for_old_ = false;
  return emitted;
}

Result<uint32_t> BounceReporter::emit_all(UnixSeconds unix_now, bool full_only) {
  std::map<storage::MessageId, std::vector<storage::PendingBounce>> by_message;
  std::size_t read = 0;
  for (uint8_t p : partitions_) {
    auto reports = queue_.pending_bounces(p, kMaxReportsPerPass - read);
    if (!reports) return reports.error();
    read += reports->size();
    for (auto& r : reports.value()) by_message[r.message].push_back(std::move(r));
    if (read >= kMaxReportsPerPass) break;
  }
  uint32_t emitted = 0;
  std::size_t left = 0;
  for (const auto& [id, reports] : by_message) {
    if (auto ok = emit_for_message(id, reports, unix_now, full_only, emitted, left); !ok) {
      return ok.error();
    }
  }
  // Reports beyond this pass's cap keep the reporter pending.
  pending_ = left + (read >= kMaxReportsPerPass ? 1 : 0);
  return emitted;
}

Result<void> BounceReporter::emit_for_message(storage::MessageId id,
                                              const std::vector<storage::PendingBounce>& reports,
                                              UnixSeconds unix_now, bool full_only,
                                              uint32_t& emitted, std::size_t& left) {
  auto stored = queue_.get_message(id);
  if (!stored) return queue_.forget_bounces(reports);  // its campaign was dropped
  const std::string& to = !options_.to.empty()        ? options_.to
                          : !sender_override_.empty() ? sender_override_
                                                      : stored->envelope_sender;
  auto address = message::parse_address(to);
  if (!bounce::should_bounce(to) || !address) return queue_.forget_bounces(reports);
  const std::size_t chunk = options_.mode == BounceMode::kPerRecipient
                                ? 1
                                : std::max<std::size_t>(1, options_.max_per_dsn);
  // The returned headers: those of the first listed recipient's copy (a digest lists many copies
  // of one message, which differ only in merge fields), else the template's.
  const std::string template_headers = header_block(stored->raw);
  storage::NewRecipient recipient{address->str(), address->domain, {}};
  for (std::size_t first = 0; first < reports.size(); first += chunk) {
    if (full_only && reports.size() - first < chunk) {
      left += reports.size() - first;
      break;
    }
    std::span<const storage::PendingBounce> part(reports.data() + first,
                                                 std::min(chunk, reports.size() - first));
    bounce::DsnInput in;
    in.reporting_mta = options_.reporting_mta;
    in.envelope_sender = to;
    in.original_headers = template_headers;
    in.arrival_date = stored->created;
    in.now = unix_now;
    in.unique = "dsn." + std::to_string(id) + "." + std::to_string(shard_id_) + "." +
                std::to_string(next_unique_++) + "." + std::to_string(unix_now);
    for (const auto& report : part) {
      const std::size_t nl = report.report.find('\n');
      auto r = bounce::decode_report(std::string_view(report.report).substr(0, nl));
      if (!r) continue;
      if (in.recipients.empty() && nl != std::string::npos && nl + 1 < report.report.size()) {
        in.original_headers = report.report.substr(nl + 1);
      }
      in.recipients.push_back(std::move(r.value()));
    }
    auto text = in.recipients.empty() ? Result<std::string>(make_error("no readable reports"))
                                      : bounce::build_dsn(in);
    if (!text) {
      std::fprintf(stderr, "ringmta: no DSN for message %llu to %s: %s\n",
                   static_cast<unsigned long long>(id), to.c_str(), text.error().message.c_str());
      if (auto ok = queue_.forget_bounces(part); !ok) return ok;
      continue;
    }
    storage::StoredMessage dsn;
    dsn.raw = std::move(text.value());
    dsn.campaign = stored->campaign.empty() ? "" : stored->campaign + "/bounces";
    dsn.created = unix_now;
    dsn.is_dsn = true;
    // The DSN and its recipient in one write: Queue::collect_messages never sees one without
    // the other.
    std::vector<storage::Submission> write(1);
    write[0].message = std::move(dsn);
    write[0].recipients.push_back(recipient);
    if (auto ok = queue_.put_submissions(write, unix_now); !ok) return ok.error();
    if (auto ok = queue_.forget_bounces(part); !ok) return ok;
    ++emitted;
  }
  return {};
}

}  // namespace ringmta::engine
