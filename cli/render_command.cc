// `ringmta render`: prints the exact copy one recipient of a `send` would get — the row chosen by
// number or address, merged, with its Date, Message-ID, list fields and DKIM signature — on stdout
// (an .eml to open in a mail program), and its envelope on stderr. It takes `send`'s flags, so a
// send's command line with `send` replaced by `render` previews it. Wiring only: jobs/preview.
#include <cstdio>
#include <limits>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/job_options.h"
#include "cli/message_options.h"
#include "cli/report.h"
#include "config/route_settings.h"
#include "jobs/preview.h"
#include "util/file.h"

namespace ringmta::cli {

Command add_render_command(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "render", "Print the copy one recipient of a send would get (headers, MIME, merged)");
  auto o = std::make_shared<JobOptions>();
  auto message = std::make_shared<MessageOptions>();
  auto recipients_path = std::make_shared<std::string>();
  auto row = std::make_shared<std::size_t>(0);
  auto email = std::make_shared<std::string>();
  auto campaign = std::make_shared<std::string>();
  auto seven_bit = std::make_shared<bool>(false);
  add_message_options(*sub, *message);
  sub->add_option("--recipients", *recipients_path, "CSV with a header row and an email column")
      ->required();
  auto* row_opt =
      sub->add_option("--row", *row, "The data row to render (1 = the first; default 1)")
          ->check(CLI::PositiveNumber);
  sub->add_option("--email", *email, "Render the row of this address instead")->excludes(row_opt);
  sub->add_option("--campaign", *campaign, "The campaign id the unsubscribe token names");
  sub->add_flag("--seven-bit", *seven_bit,
                "The copy a server without 8BITMIME gets (8-bit parts made quoted-printable)");
  // send's other flags (a smart host, --queue-only, ...) are taken and have no effect here, so
  // that a send's command line renders as it is.
  sub->add_option("--rejects")->description("As for send (not used)");
  sub->add_flag("--new-campaign,--queue-only,--ignore-suppression")
      ->description("As for send (not used)");
  add_job_options(*sub, *o);
  return {sub, [=]() -> int {
            auto copies = config::build_copy_settings(o->route);
            if (!copies) return usage_error(copies.error().message);
            auto raw = load_message(*message);
            if (!raw) return usage_error(raw.error().message);
            jobs::PreviewInput input;
            input.campaign = jobs::CampaignInput{.raw_message = std::move(raw->raw),
                                                 .message_name = raw->name,
                                                 .recipients_path = *recipients_path,
                                                 .campaign = *campaign,
                                                 .sender = copies->sender_override,
                                                 .verp = message->verp,
                                                 .list = message->list};
            input.message_id_domain = copies->message_id_domain;
            input.sender_override = copies->sender_override;
            input.dkim_keys = std::move(copies->dkim_keys);
            input.dkim_required = copies->dkim_required;
            input.row = email->empty() && *row == 0 ? 1 : *row;
            input.email = *email;
            input.seven_bit = *seven_bit;
            input.queue_dir = o->delivery.queue_dir;
            auto preview = jobs::render_preview(input);
            if (!preview) return usage_error(preview.error().message);
            for (const std::string& w : copies->warnings) {
              std::fprintf(stderr, "ringmta: warning: %s\n", w.c_str());
            }
            for (const std::string& note : preview->notes) {
              std::fprintf(stderr, "ringmta: note: %s\n", note.c_str());
            }
            std::fprintf(stderr, "row %zu (line %zu of %s): MAIL FROM:<%s>%s RCPT TO:<%s>\n",
                         preview->row, preview->line, recipients_path->c_str(),
                         preview->mail_from.c_str(), preview->eight_bit ? " BODY=8BITMIME" : "",
                         preview->rcpt_to.c_str());
            std::fwrite(preview->copy.data(), 1, preview->copy.size(), stdout);
            std::fflush(stdout);
            return std::ferror(stdout) ? 1 : 0;
          }};
}

}  // namespace ringmta::cli
