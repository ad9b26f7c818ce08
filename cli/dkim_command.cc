// `ringmta dkim keygen`: a new DKIM signing key, written to a file only its owner can read, and
// the DNS TXT record that publishes its public half. Flags and printing only: the key is
// dkim/signing_key's.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "dkim/signing_key.h"
#include "util/errno_text.h"
#include "util/strings.h"

namespace ringmta::cli {
namespace {

struct KeygenOptions {
  std::string domain;
  std::string selector;
  std::string algorithm = "rsa-2048";
  std::string out;  // "" = SELECTOR.DOMAIN.key
  bool force = false;
};

int keygen(const KeygenOptions& o) {
  if (!is_host_name(o.domain) || !is_host_name(o.selector)) {
    std::fprintf(stderr,
                 "dkim keygen: --domain and --selector must be DNS names (letters, digits, "
                 "'-', '.')\n");
    return 2;
  }
  auto key = dkim::generate_key(o.algorithm);
  if (!key) {
    std::fprintf(stderr, "dkim keygen: %s\n", key.error().message.c_str());
    return 2;
  }
  const std::string path = o.out.empty() ? o.selector + "." + o.domain + ".key" : o.out;
  int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (o.force ? O_TRUNC : O_EXCL), 0600);
  if (fd < 0) {
    std::fprintf(stderr, "dkim keygen: cannot create %s: %s%s\n", path.c_str(),
                 errno_text(errno).c_str(),
                 errno == EEXIST ? " (an existing key is never replaced without --force)" : "");
    return 1;
  }
  const std::string& pem = key->private_pem;
  bool written =
      ::write(fd, pem.data(), pem.size()) == static_cast<ssize_t>(pem.size()) && ::fsync(fd) == 0;
  written = ::close(fd) == 0 && written;
  if (!written) {
    std::fprintf(stderr, "dkim keygen: writing %s failed: %s\n", path.c_str(),
                 errno_text(errno).c_str());
    return 1;
  }
  std::printf("wrote the private key to %s (%s, readable by its owner only)\n\n", path.c_str(),
              o.algorithm.c_str());
  std::printf("Publish this TXT record in the DNS of %s:\n\n%s\n\n", o.domain.c_str(),
              dkim::zone_file_line(o.selector, o.domain, key->record).c_str());
  std::printf("(one string: %s)\n\n", key->record.c_str());
  std::printf("Then sign with: --dkim-domain %s --dkim-selector %s --dkim-key %s\n",
              o.domain.c_str(), o.selector.c_str(), path.c_str());
  return 0;
}

}  // namespace

Command add_dkim_command(CLI::App& app) {
  auto* sub = app.add_subcommand("dkim", "DKIM signing keys");
  sub->require_subcommand(1);
  auto* gen = sub->add_subcommand("keygen", "Write a new signing key and print its DNS record");
  auto o = std::make_shared<KeygenOptions>();
  gen->add_option("--domain", o->domain, "The signing domain (d=): your From: domain")->required();
  gen->add_option("--selector", o->selector, "The selector (s=), e.g. 2026q4")->required();
  gen->add_option("--algorithm", o->algorithm,
                  "rsa-2048 (default), rsa-1024, rsa-3072, rsa-4096 or ed25519 (sign with both "
                  "an RSA and an Ed25519 key: few receivers check Ed25519 alone)")
      ->check(CLI::IsMember({"rsa-1024", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519"}));
  gen->add_option("--out", o->out, "Key file to write (default SELECTOR.DOMAIN.key)");
  gen->add_flag("--force", o->force, "Replace an existing key file");
  return {sub, [=]() -> int { return keygen(*o); }};
}

}  // namespace ringmta::cli
