// Live resolver tests: dns::Resolver (c-ares) against a real dnsmasq started by the test on a free
// 127.0.0.1 port (MX, A, AAAA, CNAME, null MX, a truncating answer), driven by a poll(2) dns::Io.
// Skipped only if dnsmasq is not installed. It may not talk to anything outside 127.0.0.0/8.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "dns/dns_message.h"
#include "dns/resolver.h"

namespace ringmta::dns {
namespace {

// dns::Io on poll(2), for tests: run_until() drives watches and timers until a condition holds.
class PollIo final : public Io {
 public:
  void watch(int fd, bool readable, bool writable, IoHandler* handler) override {
    if (!readable && !writable) {
      watches_.erase(fd);
      return;
    }
    watches_[fd] = Watch{readable, writable, handler};
  }
  uint64_t add_timer(Millis at, std::function<void()> fn) override {
    uint64_t id = next_++;
    timers_.emplace(std::make_pair(at, id), std::move(fn));
    index_.emplace(id, at);
    return id;
  }
  void cancel_timer(uint64_t id) override {
    auto it = index_.find(id);
    if (it == index_.end()) return;
    timers_.erase(std::make_pair(it->second, id));
    index_.erase(it);
  }
  Millis now() const override { return monotonic_now(); }

  bool run_until(const std::function<bool()>& done, Millis max_ms = 10'000) {
    Millis deadline = monotonic_now() + max_ms;
    for (;;) {
      if (done()) return true;
      Millis now = monotonic_now();
      if (now >= deadline) return false;
      while (!timers_.empty() && timers_.begin()->first.first <= monotonic_now()) {
        auto it = timers_.begin();
        auto fn = std::move(it->second);
        index_.erase(it->first.second);
        timers_.erase(it);
        fn();
      }
      if (done()) return true;
      Millis wait = deadline - now;
      if (!timers_.empty()) wait = std::min(wait, timers_.begin()->first.first - now);
      std::vector<pollfd> fds;
      for (auto& [fd, w] : watches_) {
        fds.push_back(pollfd{fd, static_cast<short>((w.r ? POLLIN : 0) | (w.w ? POLLOUT : 0)), 0});
      }
      int n = ::poll(fds.data(), fds.size(), static_cast<int>(std::max<Millis>(0, wait)));
      if (n <= 0) continue;
      for (const pollfd& p : fds) {
        if (p.revents == 0) continue;
        auto it = watches_.find(p.fd);  // a handler may have dropped or changed it
        if (it == watches_.end()) continue;
        bool error = (p.revents & (POLLERR | POLLHUP)) != 0;
        bool r = it->second.r && ((p.revents & POLLIN) || error);
        bool w = it->second.w && ((p.revents & POLLOUT) || error);
        if (r || w) it->second.handler->on_io_ready(p.fd, r, w);
      }
    }
  }
  std::size_t watched() const { return watches_.size(); }

 private:
  struct Watch {
    bool r = false, w = false;
    IoHandler* handler = nullptr;
  };
  std::map<int, Watch> watches_;
  std::map<std::pair<Millis, uint64_t>, std::function<void()>> timers_;
  std::map<uint64_t, Millis> index_;
  uint64_t next_ = 1;
};

std::string find_dnsmasq() {
  for (const char* p : {"/usr/sbin/dnsmasq", "/usr/bin/dnsmasq", "/sbin/dnsmasq"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "";
}

// A port free for both UDP and TCP on 127.0.0.1 (bound, read back, released).
uint16_t free_port() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(u, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        getsockname(u, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      close(u);
      continue;
    }
    int t = socket(AF_INET, SOCK_STREAM, 0);
    int ok = bind(t, reinterpret_cast<sockaddr*>(&a), sizeof a);
    close(t);
    close(u);
    if (ok == 0) return ntohs(a.sin_port);
  }
  return 0;
}

// A minimal A query for `name`, to see whether the server answers yet.
std::vector<uint8_t> build_query(const std::string& name, uint16_t id) {
  std::vector<uint8_t> q = {
      static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id), 1, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    q.push_back(static_cast<uint8_t>(dot - start));
    q.insert(q.end(), name.begin() + start, name.begin() + dot);
    start = dot + 1;
  }
  q.insert(q.end(), {0, 0, 1, 0, 1});
  return q;
}

bool server_answers(uint16_t port, Millis max_ms) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::vector<uint8_t> q = build_query("ready.test", 4242);
  Millis deadline = monotonic_now() + max_ms;
  bool ok = false;
  while (!ok && monotonic_now() < deadline) {
    sendto(s, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
    pollfd p{s, POLLIN, 0};
    if (::poll(&p, 1, 100) == 1) {
      uint8_t buf[512];
      ok = recv(s, buf, sizeof buf, 0) >= 12;
    }
  }
  close(s);
  return ok;
}

class DnsResolverLive : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string bin = find_dnsmasq();
    if (bin.empty()) return;
    port_ = free_port();
    dir_ = std::filesystem::temp_directory_path() / ("ringmta-dns-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    std::string conf = (dir_ / "dnsmasq.conf").string();
    {
      std::ofstream c(conf);
      c << "port=" << port_ << "\nlisten-address=127.0.0.1\nbind-interfaces\nno-resolv\n"
        << "no-hosts\nlocal=/test/\nlocal-ttl=300\nneg-ttl=120\npid-file=\nuser=root\n"
        << "log-facility=" << (dir_ / "dnsmasq.log").string() << "\n";
      c << "host-record=ready.test,127.0.0.1\n";
      // Preference order: 10 before 20 before 30.
      c << "mx-host=pref.test,mx2.pref.test,20\nmx-host=pref.test,mx1.pref.test,10\n"
        << "mx-host=pref.test,mx3.pref.test,30\n"
        << "host-record=mx1.pref.test,127.0.0.11\nhost-record=mx2.pref.test,127.0.0.12\n"
        << "host-record=mx3.pref.test,127.0.0.13\n";
      // Equal preferences.
      c << "mx-host=eq.test,a.eq.test,10\nmx-host=eq.test,b.eq.test,10\n"
        << "host-record=a.eq.test,127.0.0.21\nhost-record=b.eq.test,127.0.0.22\n";
      // Null MX (RFC 7505): preference 0, root target.
      c << "dns-rr=null.test,15,000000\nhost-record=null.test,127.0.0.23\n";
      // No MX: implicit MX, IPv4 and IPv6.
      c << "host-record=nomx.test,127.0.0.24,::1\n";
      // No MX and no address: only a TXT record.
      c << "txt-record=bare.test,hello\n";
      // A CNAME'd MX target.
      c << "mx-host=cname.test,alias.cname.test,10\ncname=alias.cname.test,real.cname.test\n"
        << "host-record=real.cname.test,127.0.0.25\n";
      // MX hosts on public-looking addresses (no loopback exemption needed).
      c << "mx-host=public.test,mx.public.test,10\nhost-record=mx.public.test,192.0.2.25\n";
      // An answer too large for 512 bytes of UDP: truncated, then TCP.
      for (int i = 0; i < 40; ++i) {
        c << "mx-host=big.test,mx-with-a-rather-long-name-number-" << i << ".big.test," << i
          << "\n";
      }
      // 1,000 domains sharing two MX hosts.
      for (int i = 0; i < 1000; ++i) c << "mx-host=d" << i << ".bulk.test,mx.bulk.test,10\n";
      c << "host-record=mx.bulk.test,127.0.0.26\n";
    }
    pid_ = fork();
    if (pid_ == 0) {
      execl(bin.c_str(), bin.c_str(), "--keep-in-foreground", ("--conf-file=" + conf).c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    if (!server_answers(port_, 5000)) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
      start_error_ = "dnsmasq did not answer on 127.0.0.1:" + std::to_string(port_);
    }
  }

  static void TearDownTestSuite() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      for (int i = 0; i < 50; ++i) {
        if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
          pid_ = -1;
          break;
        }
        usleep(20'000);
      }
      if (pid_ > 0) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
      }
      pid_ = -1;
    }
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  void SetUp() override {
    if (find_dnsmasq().empty()) GTEST_SKIP() << "dnsmasq is not installed";
    ASSERT_GT(pid_, 0) << start_error_;
  }

  ResolverOptions options() {
    ResolverOptions o;
    o.servers = {"127.0.0.1:" + std::to_string(port_)};
    o.timeout_ms = 1000;
    o.tries = 2;
    o.policy.allow_loopback = true;
    return o;
  }

  std::unique_ptr<Resolver> make(ResolverOptions o) {
    auto r = Resolver::create(io_, std::move(o));
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? std::move(r.value()) : nullptr;
  }

  DestinationAddresses resolve(Resolver& r, const std::string& domain) {
    std::optional<DestinationAddresses> out;
    r.resolve_destination(domain, [&](const DestinationAddresses& d) { out = d; });
    EXPECT_TRUE(io_.run_until([&] { return out.has_value(); })) << domain;
    return out.value_or(DestinationAddresses{});
  }

  MxOutcome mx(Resolver& r, const std::string& domain) {
    std::optional<MxOutcome> out;
    r.lookup_mx(domain, [&](const MxOutcome& o) { out = o; });
    EXPECT_TRUE(io_.run_until([&] { return out.has_value(); })) << domain;
    return out.value_or(MxOutcome{});
  }

  PollIo io_;
  static inline pid_t pid_ = -1;
  static inline uint16_t port_ = 0;
  static inline std::filesystem::path dir_;
  static inline std::string start_error_;
};

TEST_F(DnsResolverLive, PreferenceOrderWithAddresses) {
  auto r = make(options());
  DestinationAddresses d = resolve(*r, "pref.test");
  ASSERT_TRUE(d.ok()) << d.failure->text;
  EXPECT_FALSE(d.implicit_mx);
  ASSERT_EQ(d.candidates.size(), 3u);
  EXPECT_EQ(d.candidates[0].host, "mx1.pref.test");
  EXPECT_EQ(d.candidates[0].preference, 10);
  EXPECT_EQ(d.candidates[0].address.to_string(), "127.0.0.11");
  EXPECT_EQ(d.candidates[1].host, "mx2.pref.test");
  EXPECT_EQ(d.candidates[2].host, "mx3.pref.test");
  EXPECT_EQ(d.candidates[2].address.to_string(), "127.0.0.13");
  // TTLs come from the answer (dnsmasq's local-ttl=300).
  MxOutcome o = mx(*r, "pref.test");
  ASSERT_EQ(o.status, LookupStatus::kOk);
  EXPECT_EQ(o.ttl, 300u);
  EXPECT_EQ(r->stats().mx_queries_sent, 1u);  // the second lookup was a cache hit
  EXPECT_EQ(io_.watched(), 0u) << "c-ares sockets are closed when idle";
}

TEST_F(DnsResolverLive, EqualPreferencesBothSeen) {
  auto r = make(options());
  std::set<std::string> firsts;
  for (int i = 0; i < 64; ++i) {
    DestinationAddresses d = resolve(*r, "eq.test");
    ASSERT_TRUE(d.ok());
    ASSERT_EQ(d.candidates.size(), 2u);
    firsts.insert(d.candidates[0].host);
  }
  EXPECT_EQ(firsts, (std::set<std::string>{"a.eq.test", "b.eq.test"}));
  EXPECT_EQ(r->stats().mx_queries_sent, 1u);
}

TEST_F(DnsResolverLive, NxDomainIsPermanent512) {
  auto r = make(options());
  DestinationAddresses d = resolve(*r, "does-not-exist.test");
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(d.failure->permanent);
  EXPECT_EQ(d.failure->enhanced_code, "5.1.2");
  EXPECT_EQ(d.failure->text, "domain does not exist");
  EXPECT_EQ(r->stats().address_queries_sent, 0u);
  // Negative caching: dnsmasq sends no SOA for local names, so the default 300 s applies.
  MxOutcome o = mx(*r, "does-not-exist.test");
  EXPECT_EQ(o.status, LookupStatus::kNxDomain);
  EXPECT_EQ(r->stats().mx_queries_sent, 1u);
  EXPECT_EQ(r->stats().cache_hits, 1u);
}

TEST_F(DnsResolverLive, NullMxIsPermanent5110) {
  auto r = make(options());
  DestinationAddresses d = resolve(*r, "null.test");
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(d.failure->permanent);
  EXPECT_EQ(d.failure->enhanced_code, "5.1.10");
  EXPECT_EQ(r->stats().address_queries_sent, 0u) << "no A fallback for a null MX";
}

TEST_F(DnsResolverLive, NoMxUsesTheDomainsAddresses) {
  ResolverOptions o = options();
  o.policy.order = AddressOrder::kIpv6First;
  auto r = make(o);
  DestinationAddresses d = resolve(*r, "nomx.test");
  ASSERT_TRUE(d.ok()) << d.failure->text;
  EXPECT_TRUE(d.implicit_mx);
  ASSERT_EQ(d.candidates.size(), 2u);
  EXPECT_EQ(d.candidates[0].host, "nomx.test");
  EXPECT_EQ(d.candidates[0].address.to_string(), "::1");
  EXPECT_EQ(d.candidates[1].address.to_string(), "127.0.0.24");

  DestinationAddresses bare = resolve(*r, "bare.test");
  ASSERT_FALSE(bare.ok());
  EXPECT_TRUE(bare.failure->permanent);
  EXPECT_EQ(bare.failure->enhanced_code, "5.1.2");
}

TEST_F(DnsResolverLive, CnamedMxTarget) {
  auto r = make(options());
  DestinationAddresses d = resolve(*r, "cname.test");
  ASSERT_TRUE(d.ok()) << d.failure->text;
  ASSERT_EQ(d.candidates.size(), 1u);
  EXPECT_EQ(d.candidates[0].host, "alias.cname.test");
  EXPECT_EQ(d.candidates[0].address.to_string(), "127.0.0.25");
}

TEST_F(DnsResolverLive, LoopbackMxIsAnErrorUnlessAllowed) {
  ResolverOptions o = options();
  o.policy.allow_loopback = false;
  auto r = make(o);
  DestinationAddresses d = resolve(*r, "pref.test");
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(d.failure->permanent);
  EXPECT_EQ(d.failure->enhanced_code, "5.4.6");
  EXPECT_NE(d.failure->text.find("MX points at ourselves/loopback"), std::string::npos);
  DestinationAddresses pub = resolve(*r, "public.test");
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(pub.candidates[0].address.to_string(), "192.0.2.25");
}

TEST_F(DnsResolverLive, TruncatedUdpAnswerRetriedOverTcp) {
  auto r = make(options());
  MxOutcome o = mx(*r, "big.test");
  ASSERT_EQ(o.status, LookupStatus::kOk) << o.detail;
  EXPECT_EQ(o.records.size(), 40u);  // ~2 KB: only possible over TCP without EDNS
  Destination d = choose_destination("big.test", o, 7);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.hosts[0].name, "mx-with-a-rather-long-name-number-0.big.test");
}

TEST_F(DnsResolverLive, ThousandDomainsOneMxQueryEach) {
  ResolverOptions o = options();
  o.max_inflight = 16;  // most wait in the backlog
  auto r = make(o);
  int ok = 0;
  for (int pass = 0; pass < 2; ++pass) {
    int done = 0;
    for (int i = 0; i < 1000; ++i) {
      r->resolve_destination("d" + std::to_string(i) + ".bulk.test",
                             [&](const DestinationAddresses& d) {
                               ++done;
                               if (d.ok() && d.candidates.size() == 1 &&
                                   d.candidates[0].address.to_string() == "127.0.0.26") {
                                 ++ok;
                               }
                             });
    }
    ASSERT_TRUE(io_.run_until([&] { return done == 1000; }, 30'000)) << done;
  }
  EXPECT_EQ(ok, 2000);
  ResolverStats s = r->stats();
  EXPECT_EQ(s.mx_queries_sent, 1000u);
  EXPECT_EQ(s.address_queries_sent, 2u);  // mx.bulk.test A and AAAA, once
  EXPECT_EQ(s.failures, 0u);
  // Every other lookup was answered by the cache or joined a query on the wire: pass 1 has 999
  // A and 999 AAAA lookups of mx.bulk.test after the first, pass 2 has 1000 MX + 2000 address.
  EXPECT_EQ(s.cache_hits + s.coalesced, 2 * 999u + 3000u);
  EXPECT_GE(s.cache_hits, 3000u);
}

TEST_F(DnsResolverLive, ConcurrentLookupsCoalesced) {
  auto r = make(options());
  int done = 0;
  for (int i = 0; i < 50; ++i) {
    r->lookup_mx("pref.test", [&](const MxOutcome& o) {
      EXPECT_EQ(o.status, LookupStatus::kOk);
      EXPECT_EQ(o.records.size(), 3u);
      ++done;
    });
  }
  EXPECT_EQ(done, 0) << "callbacks never run before the call returns";
  ASSERT_TRUE(io_.run_until([&] { return done == 50; }));
  EXPECT_EQ(r->stats().mx_queries_sent, 1u);
  EXPECT_EQ(r->stats().coalesced, 49u);
}

TEST_F(DnsResolverLive, ServerDownIsTransientWithoutAFallback) {
  ResolverOptions o = options();
  o.servers = {"127.0.0.1:" + std::to_string(free_port())};  // nothing listens there
  o.timeout_ms = 200;
  auto r = make(o);
  Millis start = monotonic_now();
  DestinationAddresses d = resolve(*r, "pref.test");
  ASSERT_FALSE(d.ok());
  EXPECT_FALSE(d.failure->permanent);
  EXPECT_EQ(d.failure->enhanced_code, "4.4.3");
  EXPECT_NE(d.failure->text.find("DNS lookup failed, will retry"), std::string::npos);
  EXPECT_EQ(r->stats().address_queries_sent, 0u) << "never fall back to A";
  EXPECT_EQ(r->stats().failures, 1u);
  EXPECT_LT(monotonic_now() - start, 5000);
  // The failure is cached briefly: asking again does not hit the network.
  resolve(*r, "pref.test");
  EXPECT_EQ(r->stats().mx_queries_sent, 1u);
}

TEST_F(DnsResolverLive, SilentServerTimesOut) {
  int silent = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(bind(silent, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(getsockname(silent, reinterpret_cast<sockaddr*>(&a), &len), 0);
  ResolverOptions o = options();
  o.servers = {"127.0.0.1:" + std::to_string(ntohs(a.sin_port))};
  o.timeout_ms = 100;
  o.tries = 2;
  std::vector<LookupEvent> events;
  o.on_lookup = [&](const LookupEvent& e) { events.push_back(e); };
  auto r = make(o);
  MxOutcome m = mx(*r, "pref.test");
  EXPECT_EQ(m.status, LookupStatus::kTimeout);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].qtype, kTypeMx);
  EXPECT_GE(events[0].micros, 250'000);  // 100 ms, then 200 ms
  EXPECT_LT(events[0].micros, 3'000'000);
  close(silent);
}

TEST_F(DnsResolverLive, DestroyWithQueriesInFlight) {
  int silent = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(bind(silent, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(getsockname(silent, reinterpret_cast<sockaddr*>(&a), &len), 0);
  ResolverOptions o = options();
  o.servers = {"127.0.0.1:" + std::to_string(ntohs(a.sin_port))};
  auto r = make(o);
  bool called = false;
  for (int i = 0; i < 10; ++i) {
    r->resolve_destination("d" + std::to_string(i) + ".test",
                           [&](const DestinationAddresses&) { called = true; });
  }
  io_.run_until([] { return false; }, 50);
  EXPECT_EQ(r->inflight(), 10u);
  EXPECT_GT(io_.watched(), 0u);
  r.reset();
  EXPECT_EQ(io_.watched(), 0u) << "ares_destroy reports its sockets closed";
  io_.run_until([] { return false; }, 50);
  EXPECT_FALSE(called);
  close(silent);
}

TEST_F(DnsResolverLive, InvalidNamesNeverQueried) {
  auto r = make(options());
  DestinationAddresses d = resolve(*r, "bad..name");
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(d.failure->permanent);
  EXPECT_EQ(r->stats().queries_sent, 0u);
}

TEST(DnsLocalAddresses, IncludeLoopback) {
  std::vector<IpAddress> own = local_interface_addresses();
  EXPECT_NE(std::find(own.begin(), own.end(), *IpAddress::parse("127.0.0.1")), own.end());
}

TEST(DnsServerOption, Parse) {
  auto a = parse_dns_server("127.0.0.1");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->second, 53);
  auto b = parse_dns_server("127.0.0.1:5353");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->second, 5353);
  auto c = parse_dns_server("[::1]:5300");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->first.family, AF_INET6);
  EXPECT_EQ(c->second, 5300);
  auto d = parse_dns_server("::1");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->second, 53);
  EXPECT_FALSE(parse_dns_server("dns.example.org").ok());
  EXPECT_FALSE(parse_dns_server("127.0.0.1:0").ok());
  EXPECT_FALSE(parse_dns_server("127.0.0.1:70000").ok());
  EXPECT_FALSE(parse_dns_server("127.0.0.1:").ok());
  EXPECT_FALSE(parse_dns_server("[::1").ok());
  EXPECT_FALSE(parse_dns_server("").ok());
}

}  // namespace
}  // namespace ringmta::dns
