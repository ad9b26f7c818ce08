// Resolver: an asynchronous per-shard DNS resolver on c-ares, driven by the shard's event loop
// through dns::Io (engine/dns_driver.h adapts the io_uring EventLoop): c-ares' sockets are watched
// through the socket-state callback, its timeouts are loop timers, ares_process_fd runs on
// readiness. A TTL cache with negative caching sits in front; concurrent lookups of one name share
// one query.
//
// Single-threaded: every method runs on the loop's thread. It may not block, start threads, or
// call back before the lookup call has returned (callbacks always run from the loop, later).
//
// Usage (on a shard):
//   engine::DnsDriver io(loop);                       // must outlive the resolver
//   auto r = dns::Resolver::create(io, options);      // Result<std::unique_ptr<Resolver>>
//   r.value()->resolve_destination("example.org", [](const dns::DestinationAddresses& d) {
//     if (!d.ok()) { /* d.failure->permanent, enhanced_code, text */ return; }
//     for (const dns::Candidate& c : d.candidates) { /* c.host, c.preference, c.address */ }
//   });
#pragma once

#include <ares.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "dns/cache.h"
#include "dns/dns_message.h"
#include "dns/io.h"
#include "dns/mx_policy.h"
#include "util/result.h"

namespace ringmta::dns {

// One finished network query, for a latency histogram (cache hits and coalesced waiters are not
// reported: they are counted in ResolverStats).
struct LookupEvent {
  uint16_t qtype = 0;  // kTypeMx, kTypeA, kTypeAaaa (dns/dns_message.h)
  const std::string* name = nullptr;
  LookupStatus status = LookupStatus::kOk;
  int64_t micros = 0;  // from sending the query to its answer (or failure)
};

struct ResolverOptions {
  // DNS servers as "IP", "IP:PORT", "[IPv6]:PORT" (IP literals only: no lookup to find the
  // resolver). Empty: c-ares reads /etc/resolv.conf.
  std::vector<std::string> servers;
  int timeout_ms = 2000;  // the first try; c-ares doubles it on each round over the servers
  int tries = 3;
  bool edns = false;  // EDNS0 with a 1232-byte UDP payload; off: answers over 512 bytes use TCP
  CacheTtls ttls;
  std::size_t max_cache_entries = 200'000;  // per record type
  // Queries on the wire at once; the rest wait in order. More than ~200 overflows a DNS server's
  // default UDP receive buffer on a burst (answers lost → timeouts), see bench/RESULTS.md.
  std::size_t max_inflight = 64;
  std::size_t max_mx_hosts = 5;      // resolve_destination: addresses of this many hosts
  PolicyOptions policy;              // allow_loopback, own addresses, address order
  std::function<uint64_t()> random;  // for shuffling equal preferences; default: seeded PRNG
  std::function<void(const LookupEvent&)> on_lookup;  // latency hook (histograms)
};

// Counters, each written by the loop thread only (relaxed atomics, so another thread may read).
struct ResolverStats {
  uint64_t queries_sent = 0;  // all DNS queries put on the wire (MX + A + AAAA)
  uint64_t mx_queries_sent = 0;
  uint64_t address_queries_sent = 0;  // A + AAAA
  uint64_t cache_hits = 0;            // per record type looked up
  uint64_t coalesced = 0;             // waiters that joined a query already on the wire
  uint64_t failures = 0;              // queries that ended transiently (SERVFAIL, timeout, ...)
};

class Resolver final : private IoHandler {
 public:
  // Fails if c-ares cannot be initialised or a server is not "IP[:PORT]".
  static Result<std::unique_ptr<Resolver>> create(Io& io, ResolverOptions options);
  // Pending callbacks are dropped (not called). May run from inside one of its own callbacks
  // (the callbacks still queued are then dropped).
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // The MX records of `domain` (ordering and policy are choose_destination's job).
  void lookup_mx(std::string domain, std::function<void(const MxOutcome&)> done);
  void lookup_text(std::string name, uint16_t qtype, std::function<void(const TextOutcome&)> done);
  // A and AAAA of `host` (both queried; each family has its own status).
  void lookup_addresses(std::string host, std::function<void(const AddressOutcome&)> done);
  // The TXT records of `name` (SPF, DKIM keys, DMARC policies: "_dmarc.example.org" is a name).
  void lookup_txt(std::string name, std::function<void(const TextOutcome&)> done);
  // The PTR names of `address` (its in-addr.arpa / ip6.arpa name).
  void lookup_ptr(const IpAddress& address, std::function<void(const TextOutcome&)> done);
  // MX → choose_destination → addresses of the first max_mx_hosts hosts → build_candidates.
  void resolve_destination(std::string domain,
                           std::function<void(const DestinationAddresses&)> done);

  ResolverStats stats() const;
  std::size_t cache_size() const {
    return mx_cache_.size() + addr_cache_.size() + text_cache_.size();
  }
  std::size_t inflight() const { return inflight_; }
  const ResolverOptions& options() const { return options_; }

 private:
  // What one (name, type) query produced; MX records or addresses depending on the type.
  struct Answer {
    LookupStatus status = LookupStatus::kServFail;
    std::vector<MxRecord> mx;
    std::vector<AddressRecord> addresses;
    std::vector<std::string> texts;  // TXT or PTR
    uint32_t ttl = 0;
    std::string detail;
  };
  using Waiter = std::function<void(const Answer&)>;
  struct Pending {
    std::string name;
    uint16_t qtype = 0;
    std::vector<Waiter> waiters;
    int64_t started_us = 0;
    bool sent = false;
  };
  struct QueryContext;
  class Counter {
   public:
    void add(uint64_t n = 1) {
      v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    uint64_t get() const { return v_.load(std::memory_order_relaxed); }

   private:
    std::atomic<uint64_t> v_{0};
  };

  Resolver(Io& io, ResolverOptions options);
  Result<void> init();
  void query(std::string name, uint16_t qtype, Waiter waiter);
  void send(const std::string& key);
  void finish(const std::string& key, Answer answer);
  void pump();
  void after_io();
  void reschedule_timer();
  void defer(std::function<void()> fn);
  void run_deferred();
  void on_io_ready(int fd, bool readable, bool writable) override;
  static void on_sock_state(void* data, ares_socket_t fd, int readable, int writable);
  static void on_answer(void* arg, int status, int timeouts, unsigned char* abuf, int alen);

  Io& io_;
  ResolverOptions options_;
  ares_channel channel_ = nullptr;
  bool destroying_ = false;
  TtlCache<Answer> mx_cache_;
  TtlCache<Answer> addr_cache_;  // A and AAAA, keyed by type and name
  TtlCache<Answer> text_cache_;  // TXT and PTR
  TtlCache<Answer>& cache_for(uint16_t qtype);
  std::unordered_map<std::string, Pending> pending_;  // key: type byte + name
  std::deque<std::string> backlog_;                   // pending keys not yet sent
  std::size_t inflight_ = 0;
  uint64_t timer_ = 0;
  Millis timer_at_ = 0;
  std::vector<std::function<void()>> deferred_;
  uint64_t deferred_timer_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  uint64_t random_state_ = 0;
  Counter queries_sent_, mx_queries_sent_, address_queries_sent_, cache_hits_, coalesced_,
      failures_;
};

// This host's interface addresses (getifaddrs), for PolicyOptions::own_addresses: an MX resolving
// to one of them is a mail loop. Call once at start-up, not on the hot path.
std::vector<IpAddress> local_interface_addresses();

// Parses one "IP", "IP:PORT" or "[IPv6]:PORT" (default port 53).
Result<std::pair<IpAddress, uint16_t>> parse_dns_server(std::string_view text);

}  // namespace ringmta::dns
