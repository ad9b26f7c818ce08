// ingest_bounces (see bounces_ingest.h).
#include "jobs/bounces_ingest.h"

#include <algorithm>
#include <filesystem>
#include <optional>

#include "bounce/inbound.h"
#include "engine/outcome_recorder.h"
#include "message/verp.h"
#include "storage/records.h"
#include "unsubscribe/list_fields.h"
#include "unsubscribe/secret.h"
#include "unsubscribe/token.h"
#include "util/file.h"

namespace ringmta::jobs {
namespace {

namespace fs = std::filesystem;

// A DSN or complaint quotes at most the original message; anything larger is not one.
constexpr std::size_t kMaxReport = 64 << 20;

// Every file to read: a file as given; a directory's regular files (a Maildir's cur/ and new/).
std::vector<fs::path> files_of(const std::vector<std::string>& paths,
                               std::vector<std::string>& bad) {
  std::vector<fs::path> out;
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<fs::path> dirs = {p};
      if (fs::is_directory(fs::path(p) / "cur", ec) || fs::is_directory(fs::path(p) / "new", ec)) {
        dirs = {fs::path(p) / "cur", fs::path(p) / "new"};
      }
      std::vector<fs::path> found;
      for (const auto& d : dirs) {
        for (const auto& e : fs::directory_iterator(d, ec)) {
          if (e.is_regular_file(ec)) found.push_back(e.path());
        }
      }
      std::sort(found.begin(), found.end());
      out.insert(out.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(p, ec)) {
      out.emplace_back(p);
    } else {
      bad.push_back(p + ": no such file or directory");
    }
  }
  return out;
}

// The VERP address among where the report was delivered, if any; its message names the campaign.
std::optional<message::VerpTag> verp_of(const bounce::InboundReport& report) {
  for (const auto& to : report.delivered_to) {
    if (auto tag = message::verp_decode(to)) return tag;
  }
  return std::nullopt;
}

// The reply a reported recipient's failure is classified and recorded by. A diagnostic without a
// reply code ("X-Postfix; unknown user") is read with the report's Status in front, so that the
// code and enhanced code classify it.
std::string reply_of(const bounce::InboundRecipient& r) {
  std::string reply = r.diagnostic;
  if (reply.empty() || reply[0] < '0' || reply[0] > '9') {
    std::string code = r.status.starts_with("4") ? "450 " : "550 ";
    reply = code + r.status + (reply.empty() ? "" : " " + reply);
  }
  return reply;
}

// Reads one report into `out`: its failed recipients (as failures to record), or a problem.
class ReportReader {
 public:
  // tokens: the queue's, to recognize unsubscribe requests; nullptr when it has no secret.
  ReportReader(const storage::Queue& queue, unsubscribe::UnsubscribeTokens* tokens,
               BouncesIngested& out)
      : queue_(queue), tokens_(tokens), out_(out) {}

  void read(const fs::path& file) {
    auto raw = read_file(file.string(), "report", kMaxReport);
    if (!raw) {
      out_.problems.push_back(raw.error().message);
      return;
    }
    if (std::string token = unsubscribe::token_in_request(*raw); !token.empty()) {
      auto claims = tokens_ != nullptr ? tokens_->verify(token) : std::nullopt;
      if (!claims) {
        out_.problems.push_back(file.string() +
                                ": an unsubscribe request whose token is not valid here");
        return;
      }
      out_.unsubscribes.push_back({file.string(), claims->address, claims->campaign});
      return;
    }
    auto report = bounce::parse_inbound_report(*raw);
    if (!report) {
      out_.problems.push_back(file.string() + ": " + report.error().message);
      return;
    }
    ++out_.reports;
    const auto tag = verp_of(*report);
    std::string campaign;
    if (tag) {
      if (auto m = queue_.get_message(tag->message_id)) campaign = m->campaign;
    }
    IngestedFailure base{.file = file.string(), .campaign = campaign, .verp = tag.has_value()};
    if (report->kind == bounce::InboundReport::Kind::kComplaint) {
      base.recipient = tag ? tag->recipient : report->original_rcpt_to;
      if (base.recipient.empty()) {
        out_.problems.push_back(file.string() +
                                ": a complaint that names no recipient (no VERP address, no "
                                "Original-Rcpt-To)");
        return;
      }
      base.reply = "feedback report: " + report->feedback_type;
      base.category = "complaint";
      base.hard = true;
      out_.failures.push_back(std::move(base));
      return;
    }
    for (const auto& r : report->recipients) {
      // Only failures: "delayed" and "delivered" reports change nothing.
      if (r.action != "failed" && !(r.action.empty() && r.status.starts_with("5"))) {
        ++out_.ignored;
        continue;
      }
      IngestedFailure failure = base;
      // A VERP'd report is about its one recipient, whatever the remote server wrote as
      // Final-Recipient (often a rewritten or forwarded address).
      failure.recipient = tag && report->recipients.size() == 1 ? tag->recipient : r.address;
      failure.reply = reply_of(r);
      out_.failures.push_back(std::move(failure));
    }
  }

 private:
  const storage::Queue& queue_;
  unsubscribe::UnsubscribeTokens* tokens_;
  BouncesIngested& out_;
};

}  // namespace

uint64_t BouncesIngested::suppressed() const {
  return static_cast<uint64_t>(
      std::count_if(failures.begin(), failures.end(), [](const auto& f) { return f.suppressed; }));
}

Result<BouncesIngested> ingest_bounces(storage::Queue& queue, const bounce::Classifier& classifier,
                                       const std::vector<std::string>& paths, bool suppress,
                                       UnixSeconds now) {
  BouncesIngested out;
  auto secret = unsubscribe::queue_secret(queue, false);
  if (!secret) return secret.error();
  std::unique_ptr<unsubscribe::UnsubscribeTokens> tokens;
  if (!secret->empty()) {
    auto created = unsubscribe::UnsubscribeTokens::create(*secret);
    if (!created) return created.error();
    tokens = std::move(created.value());
  }
  ReportReader reader(queue, tokens.get(), out);
  for (const auto& file : files_of(paths, out.problems)) reader.read(file);
  storage::OutcomeBatch batch;  // failure records and suppression entries, one write
  for (const IngestedUnsubscribe& u : out.unsubscribes) {
    // An unsubscribe is the recipient's wish, not a failure: a suppression entry only.
    storage::SuppressionList::add_to(batch, {.address = u.address,
                                             .category = "unsubscribe",
                                             .reason = "unsubscribe request by mail",
                                             .campaign = u.campaign,
                                             .since = now});
  }
  for (auto& f : out.failures) {
    bool suppress_it = true;  // a complaint: the recipient asked not to get this mail
    if (f.category != "complaint") {
      const bounce::Classification verdict = classifier.classify_text(f.reply);
      f.category = std::string(bounce::category_name(verdict.category));
      f.hard = verdict.hard;
      suppress_it = bounce::should_suppress(verdict);
    }
    f.suppressed = suppress && suppress_it;
    engine::record_failure(batch,
                           {.campaign = f.campaign,
                            .recipient = f.recipient,
                            .category = f.category,
                            .hard = f.hard,
                            .reply = f.reply,
                            .time = now},
                           f.suppressed);
    ++out.by_category[f.category];
  }
  if (auto ok = queue.apply(std::move(batch)); !ok) return ok.error();
  if (auto ok = queue.sync_wal(); !ok) return ok.error();
  return out;
}

}  // namespace ringmta::jobs
