// Resolver implementation: c-ares channel glue (socket-state callback → Io::watch, ares_timeout →
// one Io timer), the cache, coalescing, the in-flight limit, and resolve_destination's
// MX → policy → addresses pipeline. It may not block or call user code from inside c-ares.
#include "dns/resolver.h"

#include <ifaddrs.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <mutex>
#include <random>

#include "dns/dns_message.h"
#include "util/host_port.h"

namespace ringmta::dns {
namespace {

int64_t steady_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

LookupStatus status_from_ares(int status) {
  switch (status) {
    case ARES_SUCCESS:
      return LookupStatus::kOk;
    case ARES_ENODATA:
      return LookupStatus::kNoData;
    case ARES_ENOTFOUND:
      return LookupStatus::kNxDomain;
    case ARES_EREFUSED:
      return LookupStatus::kRefused;
    case ARES_ETIMEOUT:
      return LookupStatus::kTimeout;
    case ARES_ECONNREFUSED:
      return LookupStatus::kUnreachable;
    case ARES_EBADRESP:
    case ARES_EFORMERR:
      return LookupStatus::kBadResponse;
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION:
      return LookupStatus::kCancelled;
    case ARES_EBADNAME:
      return LookupStatus::kInvalidName;
    default:  // ARES_ESERVFAIL, ARES_ENOTIMP, ARES_ENOMEM, ...
      return LookupStatus::kServFail;
  }
}

uint64_t splitmix(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::string cache_key(uint16_t qtype, const std::string& name) {
  std::string key;
  key.reserve(name.size() + 1);
  key.push_back(static_cast<char>(qtype & 0xff));  // 1 (A), 15 (MX), 28 (AAAA): distinct
  key += name;
  return key;
}

}  // namespace

Result<std::pair<IpAddress, uint16_t>> parse_dns_server(std::string_view text) {
  const HostPort split = split_host_port(text);
  if (split.syntax == HostPort::Syntax::kMissingBracket) {
    return make_error("bad DNS server (missing ']'): " + std::string(text));
  }
  if (split.syntax == HostPort::Syntax::kTextAfterBracket) {
    return make_error("bad DNS server: " + std::string(text));
  }
  const std::string_view port = split.port.value_or(std::string_view());
  std::optional<IpAddress> ip = IpAddress::parse(split.host);
  if (!ip) {
    return make_error("DNS server must be an IP address (HOST[:PORT], [IPv6]:PORT): " +
                      std::string(text));
  }
  uint16_t port_number = 53;
  if (!port.empty() || text.back() == ':') {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return make_error("bad DNS server port: " + std::string(text));
    }
    port_number = static_cast<uint16_t>(value);
  }
  return std::make_pair(*ip, port_number);
}

std::vector<IpAddress> local_interface_addresses() {
  std::vector<IpAddress> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr) continue;
    IpAddress a;
    if (i->ifa_addr->sa_family == AF_INET) {
      a.family = AF_INET;
      std::memcpy(a.bytes.data(), &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, 4);
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      a.family = AF_INET6;
      std::memcpy(a.bytes.data(), &reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr, 16);
    } else {
      continue;
    }
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  }
  freeifaddrs(list);
  return out;
}

struct Resolver::QueryContext {
  Resolver* self;
  std::string key;
};

Resolver::Resolver(Io& io, ResolverOptions options)
    : io_(io),
      options_(std::move(options)),
      mx_cache_(options_.max_cache_entries),
      addr_cache_(options_.max_cache_entries),
      text_cache_(options_.max_cache_entries) {
  if (options_.max_inflight == 0) options_.max_inflight = 1;
  if (options_.max_mx_hosts == 0) options_.max_mx_hosts = 1;
  random_state_ = options_.random ? options_.random() : std::random_device{}();
  random_state_ = random_state_ << 32 ^ static_cast<uint64_t>(steady_micros());
}

Result<std::unique_ptr<Resolver>> Resolver::create(Io& io, ResolverOptions options) {
  std::unique_ptr<Resolver> r(new Resolver(io, std::move(options)));
  Result<void> ok = r->init();
  if (!ok) return ok.error();
  return r;
}

Result<void> Resolver::init() {
  static std::once_flag once;
  static int library_status = ARES_SUCCESS;
  std::call_once(once, [] { library_status = ares_library_init(ARES_LIB_INIT_ALL); });
  if (library_status != ARES_SUCCESS) {
    return make_error(std::string("ares_library_init: ") + ares_strerror(library_status));
  }
  ares_options opts{};
  int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS;
  opts.sock_state_cb = &Resolver::on_sock_state;
  opts.sock_state_cb_data = this;
  opts.timeout = std::max(1, options_.timeout_ms);
  opts.tries = std::max(1, options_.tries);
  opts.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
  if (options_.edns) {
    opts.flags |= ARES_FLAG_EDNS;
    opts.ednspsz = 1232;
    mask |= ARES_OPT_EDNSPSZ;
  }
  int rc = ares_init_options(&channel_, &opts, mask);
  if (rc != ARES_SUCCESS) {
    channel_ = nullptr;
    return make_error(std::string("ares_init_options: ") + ares_strerror(rc));
  }
  if (!options_.servers.empty()) {
    std::vector<ares_addr_port_node> nodes(options_.servers.size());
    for (std::size_t i = 0; i < options_.servers.size(); ++i) {
      auto server = parse_dns_server(options_.servers[i]);
      if (!server) return server.error();
      ares_addr_port_node& n = nodes[i];
      n.next = i + 1 < nodes.size() ? &nodes[i + 1] : nullptr;
      n.family = server->first.family;
      if (n.family == AF_INET) {
        std::memcpy(&n.addr.addr4, server->first.bytes.data(), 4);
      } else {
        std::memcpy(&n.addr.addr6, server->first.bytes.data(), 16);
      }
      n.udp_port = n.tcp_port = server->second;
    }
    rc = ares_set_servers_ports(channel_, nodes.data());
    if (rc != ARES_SUCCESS)
      return make_error(std::string("ares_set_servers_ports: ") + ares_strerror(rc));
  }
  return {};
}

Resolver::~Resolver() {
  destroying_ = true;
  if (timer_ != 0) io_.cancel_timer(timer_);
  if (deferred_timer_ != 0) io_.cancel_timer(deferred_timer_);
  // Ends every query with ARES_EDESTRUCTION (on_answer frees its context) and reports each
  // socket closed through on_sock_state, so the Io stops watching it.
  if (channel_ != nullptr) ares_destroy(channel_);
}

ResolverStats Resolver::stats() const {
  ResolverStats s;
  s.queries_sent = queries_sent_.get();
  s.mx_queries_sent = mx_queries_sent_.get();
  s.address_queries_sent = address_queries_sent_.get();
  s.cache_hits = cache_hits_.get();
  s.coalesced = coalesced_.get();
  s.failures = failures_.get();
  return s;
}

void Resolver::lookup_mx(std::string domain, std::function<void(const MxOutcome&)> done) {
  std::optional<std::string> name = normalize_domain(domain);
  if (!name) {
    MxOutcome o;
    o.status = LookupStatus::kInvalidName;
    defer([done = std::move(done), o = std::move(o)] { done(o); });
    return;
  }
  query(std::move(*name), kTypeMx, [done = std::move(done)](const Answer& a) {
    MxOutcome o;
    o.status = a.status;
    o.records = a.mx;
    o.ttl = a.ttl;
    o.detail = a.detail;
    done(o);
  });
}

void Resolver::lookup_text(std::string name, uint16_t qtype,
                           std::function<void(const TextOutcome&)> done) {
  std::optional<std::string> normalized = normalize_domain(name);
  if (!normalized) {
    TextOutcome o;
    o.status = LookupStatus::kInvalidName;
    defer([done = std::move(done), o = std::move(o)] { done(o); });
    return;
  }
  query(std::move(*normalized), qtype, [done = std::move(done)](const Answer& a) {
    TextOutcome o;
    o.status = a.status;
    o.texts = a.texts;
    o.ttl = a.ttl;
    o.detail = a.detail;
    done(o);
  });
}

void Resolver::lookup_txt(std::string name, std::function<void(const TextOutcome&)> done) {
  lookup_text(std::move(name), kTypeTxt, std::move(done));
}

void Resolver::lookup_ptr(const IpAddress& address, std::function<void(const TextOutcome&)> done) {
  lookup_text(reverse_name(address), kTypePtr, std::move(done));
}

TtlCache<Resolver::Answer>& Resolver::cache_for(uint16_t qtype) {
  if (qtype == kTypeMx) return mx_cache_;
  if (qtype == kTypeA || qtype == kTypeAaaa) return addr_cache_;
  return text_cache_;
}

void Resolver::lookup_addresses(std::string host, std::function<void(const AddressOutcome&)> done) {
  std::optional<std::string> name = normalize_domain(host);
  if (!name) {
    AddressOutcome o;
    o.v4_status = o.v6_status = LookupStatus::kInvalidName;
    defer([done = std::move(done), o = std::move(o)] { done(o); });
    return;
  }
  struct Join {
    AddressOutcome out;
    int left = 0;
    std::function<void(const AddressOutcome&)> done;
  };
  auto join = std::make_shared<Join>();
  join->done = std::move(done);
  bool want_v4 = options_.policy.order != AddressOrder::kIpv6Only;
  bool want_v6 = options_.policy.order != AddressOrder::kIpv4Only;
  join->out.v4_status = join->out.v6_status = LookupStatus::kNoData;  // for a family not asked
  join->left = (want_v4 ? 1 : 0) + (want_v6 ? 1 : 0);
  if (want_v4) {
    query(want_v6 ? *name : std::move(*name), kTypeA, [join](const Answer& a) {
      join->out.v4_status = a.status;
      join->out.v4 = a.addresses;
      if (--join->left == 0) join->done(join->out);
    });
  }
  if (want_v6) {
    query(std::move(*name), kTypeAaaa, [join](const Answer& a) {
      join->out.v6_status = a.status;
      join->out.v6 = a.addresses;
      if (--join->left == 0) join->done(join->out);
    });
  }
}

void Resolver::resolve_destination(std::string domain,
                                   std::function<void(const DestinationAddresses&)> done) {
  std::string copy = domain;
  lookup_mx(std::move(copy), [this, domain = std::move(domain),
                              done = std::move(done)](const MxOutcome& mx) mutable {
    Destination dest = choose_destination(domain, mx, splitmix(random_state_), options_.policy);
    if (!dest.ok()) {
      done(build_candidates(dest, {}, options_.policy));
      return;
    }
    struct Join {
      Destination dest;
      std::vector<AddressOutcome> per_host;
      std::size_t left = 0;
      std::function<void(const DestinationAddresses&)> done;
    };
    auto join = std::make_shared<Join>();
    std::size_t n = std::min(dest.hosts.size(), options_.max_mx_hosts);
    join->per_host.resize(n);
    join->left = n;
    join->dest = std::move(dest);
    join->done = std::move(done);
    for (std::size_t i = 0; i < n; ++i) {
      lookup_addresses(join->dest.hosts[i].name, [this, join, i](const AddressOutcome& a) {
        join->per_host[i] = a;
        if (--join->left == 0) {
          join->done(build_candidates(join->dest, join->per_host, options_.policy));
        }
      });
    }
  });
}

void Resolver::query(std::string name, uint16_t qtype, Waiter waiter) {
  std::string key = cache_key(qtype, name);
  TtlCache<Answer>& cache = cache_for(qtype);
  if (const Answer* hit = cache.find(key, io_.now())) {
    cache_hits_.add();
    defer([waiter = std::move(waiter), answer = *hit] { waiter(answer); });
    return;
  }
  auto [it, inserted] = pending_.try_emplace(key);
  it->second.waiters.push_back(std::move(waiter));
  if (!inserted) {
    coalesced_.add();
    return;
  }
  it->second.name = std::move(name);
  it->second.qtype = qtype;
  if (inflight_ < options_.max_inflight) {
    send(key);
    reschedule_timer();
  } else {
    backlog_.push_back(std::move(key));
  }
}

void Resolver::send(const std::string& key) {
  auto it = pending_.find(key);
  if (it == pending_.end() || it->second.sent) return;
  Pending& p = it->second;
  p.sent = true;
  p.started_us = steady_micros();
  ++inflight_;
  queries_sent_.add();
  (p.qtype == kTypeMx ? mx_queries_sent_ : address_queries_sent_).add();
  auto* ctx = new QueryContext{this, key};
  // May call on_answer before returning (e.g. no usable server): `p` is not used after this.
  ares_query(channel_, p.name.c_str(), 1 /* C_IN */, p.qtype, &Resolver::on_answer, ctx);
}

void Resolver::on_answer(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
  std::unique_ptr<QueryContext> ctx(static_cast<QueryContext*>(arg));
  Resolver* self = ctx->self;
  if (status == ARES_EDESTRUCTION || self->destroying_) return;
  auto it = self->pending_.find(ctx->key);
  if (it == self->pending_.end()) return;
  const Pending& p = it->second;
  Answer answer;
  uint32_t negative = self->options_.ttls.default_negative_ttl;
  bool has_body = abuf != nullptr && alen > 0 &&
                  (status == ARES_SUCCESS || status == ARES_ENODATA || status == ARES_ENOTFOUND);
  if (has_body && p.qtype == kTypeMx) {
    MxOutcome o = mx_outcome_from_answer(abuf, static_cast<std::size_t>(alen), p.name, negative);
    answer.status = o.status;
    answer.mx = std::move(o.records);
    answer.ttl = o.ttl;
    answer.detail = std::move(o.detail);
  } else if (has_body && (p.qtype == kTypeTxt || p.qtype == kTypePtr)) {
    TextOutcome o =
        text_outcome_from_answer(abuf, static_cast<std::size_t>(alen), p.name, p.qtype, negative);
    answer.status = o.status;
    answer.texts = std::move(o.texts);
    answer.ttl = o.ttl;
    answer.detail = std::move(o.detail);
  } else if (has_body) {
    FamilyOutcome o = address_outcome_from_answer(abuf, static_cast<std::size_t>(alen), p.name,
                                                  p.qtype, negative);
    answer.status = o.status;
    answer.addresses = std::move(o.records);
    answer.ttl = o.ttl;
  } else {
    answer.status = status_from_ares(status);
    answer.ttl = answer.status == LookupStatus::kOk ? 0 : negative;
    if (answer.status == LookupStatus::kOk) answer.status = LookupStatus::kBadResponse;
    answer.detail = ares_strerror(status);
  }
  self->finish(ctx->key, std::move(answer));
}

void Resolver::finish(const std::string& key, Answer answer) {
  auto node = pending_.extract(key);
  if (node.empty()) return;
  Pending p = std::move(node.mapped());
  if (p.sent) --inflight_;
  if (is_transient(answer.status) && answer.status != LookupStatus::kCancelled) failures_.add();
  if (options_.on_lookup && p.sent) {
    options_.on_lookup(
        LookupEvent{p.qtype, &p.name, answer.status, steady_micros() - p.started_us});
  }
  TtlCache<Answer>& cache = cache_for(p.qtype);
  uint32_t seconds = cache_seconds(answer.status, answer.ttl, options_.ttls);
  auto shared = std::make_shared<const Answer>(std::move(answer));
  cache.insert(key, *shared, seconds, io_.now());
  for (Waiter& w : p.waiters) {
    defer([w = std::move(w), shared] { w(*shared); });
  }
}

void Resolver::pump() {
  while (inflight_ < options_.max_inflight && !backlog_.empty()) {
    std::string key = std::move(backlog_.front());
    backlog_.pop_front();
    send(key);
  }
}

void Resolver::after_io() {
  pump();
  reschedule_timer();
}

void Resolver::reschedule_timer() {
  timeval tv{};
  timeval* t = ares_timeout(channel_, nullptr, &tv);
  if (t == nullptr) {
    if (timer_ != 0) io_.cancel_timer(timer_);
    timer_ = 0;
    return;
  }
  Millis at = io_.now() + static_cast<Millis>(t->tv_sec) * 1000 + (t->tv_usec + 999) / 1000;
  // A timer due no later already exists: it fires, processes timeouts and reschedules (cheaper
  // than moving the timer on every answer).
  if (timer_ != 0 && timer_at_ <= at) return;
  if (timer_ != 0) io_.cancel_timer(timer_);
  timer_at_ = at;
  timer_ = io_.add_timer(at, [this] {
    timer_ = 0;
    ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // handles timeouts
    after_io();
  });
}

void Resolver::on_io_ready(int fd, bool readable, bool writable) {
  ares_process_fd(channel_, readable ? fd : ARES_SOCKET_BAD, writable ? fd : ARES_SOCKET_BAD);
  after_io();
}

void Resolver::on_sock_state(void* data, ares_socket_t fd, int readable, int writable) {
  auto* self = static_cast<Resolver*>(data);
  self->io_.watch(fd, readable != 0, writable != 0, self);
}

void Resolver::defer(std::function<void()> fn) {
  deferred_.push_back(std::move(fn));
  if (deferred_timer_ == 0) {
    deferred_timer_ = io_.add_timer(io_.now(), [this] {
      deferred_timer_ = 0;
      run_deferred();
    });
  }
}

void Resolver::run_deferred() {
  std::vector<std::function<void()>> work;
  work.swap(deferred_);
  std::weak_ptr<bool> alive = alive_;
  for (auto& fn : work) {
    fn();
    if (alive.expired()) return;  // a callback destroyed the resolver: drop the rest
  }
}

}  // namespace ringmta::dns
