// check_deliverability (see deliverability_check.h): the lookups, in rounds on one event loop.
#include "jobs/deliverability_check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <memory>

#include "deliverability/organizational_domain.h"
#include "dkim/signing_key.h"
#include "dns/resolver.h"
#include "engine/io/dns_driver.h"
#include "engine/io/event_loop.h"
#include "jobs/greeting_probe.h"
#include "message/address.h"

namespace ringmta::jobs {
namespace {

using deliverability::Facts;
using deliverability::SpfData;
using deliverability::SpfNeeds;
using deliverability::SpfVerdict;

constexpr int kMaxSpfRounds = 30;

std::optional<dns::IpAddress> from_sockaddr(const sockaddr_storage& s) {
  if (s.ss_family == AF_INET) {
    uint8_t b[4];
    std::memcpy(b, &reinterpret_cast<const sockaddr_in&>(s).sin_addr, 4);
    return dns::IpAddress::v4_bytes(b);
  }
  if (s.ss_family == AF_INET6) {
    uint8_t b[16];
    std::memcpy(b, &reinterpret_cast<const sockaddr_in6&>(s).sin6_addr, 16);
    return dns::IpAddress::v6_bytes(b);
  }
  return std::nullopt;
}

// The address this machine would send from to the Internet: a UDP socket "connected" to a
// documentation address picks the route's source address without sending a packet.
std::optional<dns::IpAddress> default_source_address() {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(25);
  ::inet_pton(AF_INET, "192.0.2.1", &to.sin_addr);
  sockaddr_storage local{};
  socklen_t len = sizeof local;
  std::optional<dns::IpAddress> out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0) {
    out = from_sockaddr(local);
  }
  ::close(fd);
  return out;
}

// The DNS answered (records, or none: NODATA/NXDOMAIN), as opposed to a failed lookup.
bool answered(dns::LookupStatus s) {
  return s == dns::LookupStatus::kOk || s == dns::LookupStatus::kNoData ||
         s == dns::LookupStatus::kNxDomain;
}

std::optional<std::vector<std::string>> texts_of(const dns::TextOutcome& o) {
  if (!answered(o.status)) return std::nullopt;
  return o.texts;  // empty unless kOk
}

std::optional<std::vector<dns::IpAddress>> addresses_of(const dns::AddressOutcome& o) {
  if (!answered(o.v4_status) && !answered(o.v6_status)) return std::nullopt;
  std::vector<dns::IpAddress> out;
  for (const auto& r : o.v4) out.push_back(r.address);
  for (const auto& r : o.v6) out.push_back(r.address);
  return out;
}

// The lookups of one check, in rounds: each round's queries are all in flight at once; when the
// last answers, the next round starts, and after the last one the loop stops.
class Checker {
 public:
  Checker(engine::EventLoop& loop, dns::Resolver& resolver) : loop_(loop), resolver_(resolver) {}

  Facts facts;
  std::vector<dns::IpAddress> spf_addresses;
  std::string smart_host_name;  // to resolve for SPF ("" = none, or an address already)
  // The outbound port 25 probe (direct delivery): the providers' domains, where to connect.
  std::vector<std::string> port25_domains;
  uint16_t mx_port = 25;
  Millis greeting_timeout = 5000;
  const sockaddr_storage* bind_to = nullptr;

  void start();

 private:
  // The callback of one lookup of the round: counted, and the round ends after the last.
  template <class Fn>
  auto track(Fn fn) {
    ++pending_;
    return [this, fn = std::move(fn)](const auto& o) {
      fn(o);
      if (--pending_ == 0 && round_started_) finish_round();
    };
  }
  void begin_round() { round_started_ = false; }
  void end_round(std::function<void()> next) {
    next_ = std::move(next);
    round_started_ = true;
    if (pending_ == 0) loop_.post([this] { finish_round(); });
  }
  void finish_round() {
    auto next = std::move(next_);
    next_ = nullptr;
    if (next) next();
  }

  void after_first_round() {
    begin_round();
    if (facts.ptr && facts.ptr->names) {
      for (const std::string& name : *facts.ptr->names) {
        resolver_.lookup_addresses(
            name, track([this, name](const dns::AddressOutcome& o) {
              auto a = addresses_of(o);
              if (a && std::find(a->begin(), a->end(), facts.ptr->address) != a->end()) {
                facts.ptr->confirmed.push_back(name);
              }
            }));
      }
    }
    for (const auto& probe : probe_hosts_) {
      // Copies, not structured bindings: clang 14 cannot capture those.
      const std::string domain = probe.first, host = probe.second;
      resolver_.lookup_addresses(host, track([this, domain, host](const dns::AddressOutcome& o) {
                                   auto a = addresses_of(o);
                                   if (!a || a->empty()) {
                                     facts.port25.push_back({domain, host, false, false,
                                                             "its address could not be found"});
                                     return;
                                   }
                                   engine::Endpoint to;
                                   to.host = host;
                                   to.len = a->front().to_sockaddr(mx_port, &to.addr);
                                   probe_endpoints_.emplace_back(domain, std::move(to));
                                 }));
    }
    end_round([this] { spf_round(); });
  }

  void spf_round() {
    if (++spf_rounds_ > kMaxSpfRounds) return done();
    SpfNeeds all;
    facts.spf.clear();
    for (const dns::IpAddress& ip : spf_addresses) {
      auto r = deliverability::evaluate_spf(spf_data_, facts.sender_domain, ip);
      if (auto* v = std::get_if<SpfVerdict>(&r)) {
        facts.spf.emplace_back(ip, *v);
        continue;
      }
      const SpfNeeds& n = std::get<SpfNeeds>(r);
      all.txt.insert(n.txt.begin(), n.txt.end());
      all.addresses.insert(n.addresses.begin(), n.addresses.end());
      all.mx.insert(n.mx.begin(), n.mx.end());
    }
    if (all.txt.empty() && all.addresses.empty() && all.mx.empty()) return done();
    begin_round();
    for (const std::string& name : all.txt) {
      resolver_.lookup_txt(name, track([this, name](const dns::TextOutcome& o) {
                             spf_data_.txt[name] = texts_of(o);
                           }));
    }
    for (const std::string& name : all.addresses) {
      resolver_.lookup_addresses(name, track([this, name](const dns::AddressOutcome& o) {
                                   spf_data_.addresses[name] = addresses_of(o);
                                 }));
    }
    for (const std::string& name : all.mx) {
      resolver_.lookup_mx(name, track([this, name](const dns::MxOutcome& o) {
                            if (answered(o.status)) {
                              std::vector<std::string> hosts;
                              for (const auto& r : o.records) {
                                if (!r.host.empty()) hosts.push_back(r.host);
                              }
                              spf_data_.mx[name] = hosts;
                            } else {
                              spf_data_.mx[name] = std::nullopt;
                            }
                          }));
    }
    end_round([this] { spf_round(); });
  }

  // The port 25 probes, all at once, last: their timeout is the longest wait of the check.
  void done() {
    if (probe_endpoints_.empty()) return loop_.stop();
    probes_left_ = probe_endpoints_.size();
    for (const auto& [probed, to] : probe_endpoints_) {
      const std::string domain = probed;  // a copy for the lambda (clang 14)
      auto where = to.str();
      probes_.push_back(std::make_unique<GreetingProbe>(
          loop_, to, greeting_timeout, [this, domain, where](const GreetingResult& r) {
            facts.port25.push_back({domain, where, true, r.greeted, r.detail});
            if (--probes_left_ == 0) loop_.stop();
          }));
      probes_.back()->start(bind_to);
    }
  }

  engine::EventLoop& loop_;
  dns::Resolver& resolver_;
  SpfData spf_data_;
  int pending_ = 0;
  bool round_started_ = false;
  std::function<void()> next_;
  int spf_rounds_ = 0;
  std::vector<std::pair<std::string, std::string>> probe_hosts_;  // domain, its best MX host
  std::vector<std::pair<std::string, engine::Endpoint>> probe_endpoints_;
  std::vector<std::unique_ptr<GreetingProbe>> probes_;
  std::size_t probes_left_ = 0;
};

void Checker::start() {
  begin_round();
  const std::string from = facts.from_domain;
  resolver_.lookup_mx(facts.sender_domain, track([this](const dns::MxOutcome& o) {
                        facts.sender_mx = o.status;
                        facts.sender_mx_hosts = o.records.size();
                        facts.sender_null_mx = o.records.size() == 1 && o.records[0].host.empty();
                      }));
  resolver_.lookup_txt("_dmarc." + from,
                       track([this](const dns::TextOutcome& o) { facts.dmarc_txt = texts_of(o); }));
  if (!facts.dmarc_parent.empty()) {
    resolver_.lookup_txt("_dmarc." + facts.dmarc_parent, track([this](const dns::TextOutcome& o) {
                           facts.dmarc_parent_txt = texts_of(o);
                         }));
  }
  for (std::size_t i = 0; i < facts.dkim.size(); ++i) {
    const auto& k = facts.dkim[i];
    resolver_.lookup_txt(
        k.selector + "._domainkey." + k.domain,
        track([this, i](const dns::TextOutcome& o) { facts.dkim[i].txt = texts_of(o); }));
  }
  if (!smart_host_name.empty()) {
    resolver_.lookup_addresses(smart_host_name, track([this](const dns::AddressOutcome& o) {
                                 if (auto a = addresses_of(o)) spf_addresses = *a;
                               }));
  }
  if (facts.ptr) {
    resolver_.lookup_ptr(facts.ptr->address, track([this](const dns::TextOutcome& o) {
                           facts.ptr->names = texts_of(o);
                         }));
  }
  for (const std::string& domain : port25_domains) {
    resolver_.lookup_mx(
        domain, track([this, domain](const dns::MxOutcome& o) {
          const dns::MxRecord* best = nullptr;
          for (const auto& r : o.records) {
            if (!r.host.empty() && (!best || r.preference < best->preference)) best = &r;
          }
          if (best != nullptr) {
            probe_hosts_.emplace_back(domain, best->host);
          } else {
            facts.port25.push_back(
                {domain, domain, false, false,
                 answered(o.status) ? "no MX host" : "its MX could not be looked up"});
          }
        }));
  }
  end_round([this] { after_first_round(); });
}

}  // namespace

Result<std::vector<deliverability::Finding>> check_deliverability(
    const engine::RouteConfig& route, const DeliverabilityQuestion& question) {
  const std::string& from = question.from;
  const std::string& sender = question.sender;
  auto from_address = message::parse_address(from);
  if (!from_address) return make_error("--from " + from + ": " + from_address.error().message);
  auto sender_address = message::parse_address(sender.empty() ? from : sender);
  if (!sender_address)
    return make_error("--sender " + sender + ": " + sender_address.error().message);
  auto loop = engine::EventLoop::create(256);
  if (!loop) return loop.error();
  engine::DnsDriver driver(*loop.value());
  dns::ResolverOptions options;
  options.servers = question.dns_servers;
  if (options.servers.empty() && route.direct) options.servers = route.direct->dns_servers;
  auto resolver = dns::Resolver::create(driver, std::move(options));
  if (!resolver) return resolver.error();

  Checker checker(*loop.value(), *resolver.value());
  Facts& f = checker.facts;
  f.from_domain = from_address->domain;
  f.sender_domain = sender_address->domain;
  f.direct = route.direct.has_value();
  f.ehlo = route.client.ehlo_name;
  // RFC 7489 §6.6.3: without a record of its own, the organizational domain's policy applies.
  if (std::string org = deliverability::organizational_domain(f.from_domain); org != f.from_domain)
    f.dmarc_parent = org;
  for (const dkim::SigningKey& key : route.dkim_keys) {
    auto record = dkim::public_key_record(key.key.get());
    if (!record) return record.error();
    f.dkim.push_back({key.domain, key.selector, *record, std::nullopt});
  }
  if (f.direct) {
    std::optional<dns::IpAddress> source = route.target.bind_address
                                               ? from_sockaddr(*route.target.bind_address)
                                               : default_source_address();
    if (source) {
      checker.spf_addresses.push_back(*source);
      f.ptr = Facts::Ptr{*source, std::nullopt, {}};
      f.spf_source = route.target.bind_address ? "--bind-address" : "this machine's address";
    }
    checker.port25_domains = question.port25_domains;
    checker.mx_port = route.direct->port;
    checker.greeting_timeout = question.greeting_timeout;
    if (route.target.bind_address) checker.bind_to = &*route.target.bind_address;
  } else {
    f.spf_source = "the smart host " + route.target.endpoint.host;
    if (auto literal = dns::IpAddress::parse(route.target.endpoint.host)) {
      checker.spf_addresses.push_back(*literal);
    } else {
      checker.smart_host_name = route.target.endpoint.host;
    }
  }
  loop.value()->post([&checker] { checker.start(); });
  loop.value()->run();
  return deliverability::assess(f);
}

}  // namespace ringmta::jobs
