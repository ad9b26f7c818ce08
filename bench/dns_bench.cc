// dns_bench: MX resolution throughput of dns::Resolver on the io_uring EventLoop (through
// engine::DnsDriver), compared with a plain concurrent c-ares client (no cache, no policy, its own
// poll(2) loop) against the same DNS server; and a `resolve` mode that prints one JSON line per
// domain, used by tests/integration/test_dns.py to exercise the EventLoop driver.
//
// A benchmark tool only: it may not be linked into ringmta or used by the engine.
//
//   dns_bench resolver --server IP:PORT --count N --suffix bench.test [--what mx|destination]
//   dns_bench baseline --server IP:PORT --count N --suffix bench.test [--inflight N]
//   dns_bench resolve  --server IP:PORT [--allow-loopback] [--order v4|v6|interleaved] DOMAIN...
// Domains are b0.SUFFIX .. b(N-1).SUFFIX. Output: one JSON object per run (or per domain).
#include <ares.h>
#include <poll.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "dns/resolver.h"
#include "engine/io/dns_driver.h"
#include "engine/io/event_loop.h"

namespace {

using namespace ringmta;

struct Args {
  std::string mode;
  std::vector<std::string> servers;
  int count = 20000;
  std::string suffix = "bench.test";
  std::string what = "mx";
  int inflight = 64;
  int timeout_ms = 2000;
  int tries = 3;
  bool allow_loopback = false;
  dns::AddressOrder order = dns::AddressOrder::kIpv4First;
  std::vector<std::string> domains;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr, "dns_bench: %s\n(see the comment at the top of bench/dns_bench.cc)\n", why);
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args a;
  if (argc < 2) usage("missing mode");
  a.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string k = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value for " + k).c_str());
      return argv[++i];
    };
    if (k == "--server") {
      a.servers.push_back(value());
    } else if (k == "--count") {
      a.count = std::atoi(value().c_str());
    } else if (k == "--suffix") {
      a.suffix = value();
    } else if (k == "--what") {
      a.what = value();
    } else if (k == "--inflight") {
      a.inflight = std::atoi(value().c_str());
    } else if (k == "--timeout-ms") {
      a.timeout_ms = std::atoi(value().c_str());
    } else if (k == "--tries") {
      a.tries = std::atoi(value().c_str());
    } else if (k == "--allow-loopback") {
      a.allow_loopback = true;
    } else if (k == "--order") {
      std::string o = value();
      a.order = o == "v6"            ? dns::AddressOrder::kIpv6First
                : o == "interleaved" ? dns::AddressOrder::kInterleaved
                                     : dns::AddressOrder::kIpv4First;
    } else if (!k.empty() && k[0] == '-') {
      usage(("unknown option " + k).c_str());
    } else {
      a.domains.push_back(k);
    }
  }
  return a;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string domain(const Args& a, int i) {
  return "b" + std::to_string(i) + "." + a.suffix;
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out.push_back(c);
  }
  return out;
}

// The resolver under test, on an EventLoop through DnsDriver.
int run_resolver(const Args& a) {
  auto loop = engine::EventLoop::create();
  if (!loop) usage(loop.error().message.c_str());
  engine::DnsDriver io(*loop.value());
  dns::ResolverOptions o;
  o.servers = a.servers;
  o.max_inflight = static_cast<std::size_t>(a.inflight);
  o.timeout_ms = a.timeout_ms;
  o.tries = a.tries;
  o.policy.allow_loopback = a.allow_loopback;
  o.policy.order = a.order;
  auto r = dns::Resolver::create(io, o);
  if (!r) usage(r.error().message.c_str());
  dns::Resolver& resolver = *r.value();
  engine::EventLoop& l = *loop.value();

  if (a.mode == "resolve") {
    std::size_t left = a.domains.size();
    for (const std::string& d : a.domains) {
      resolver.resolve_destination(d, [&, d](const dns::DestinationAddresses& out) {
        std::string line = "{\"domain\":\"" + json_escape(d) + "\",\"ok\":";
        line += out.ok() ? "true" : "false";
        line += ",\"implicit_mx\":";
        line += out.implicit_mx ? "true" : "false";
        if (!out.ok()) {
          line += ",\"permanent\":";
          line += out.failure->permanent ? "true" : "false";
          line += ",\"code\":\"" + out.failure->enhanced_code + "\",\"text\":\"" +
                  json_escape(out.failure->text) + "\"";
        }
        line += ",\"candidates\":[";
        for (std::size_t i = 0; i < out.candidates.size(); ++i) {
          const dns::Candidate& c = out.candidates[i];
          if (i) line += ",";
          line += "{\"host\":\"" + json_escape(c.host) +
                  "\",\"preference\":" + std::to_string(c.preference) + ",\"address\":\"" +
                  c.address.to_string() + "\"}";
        }
        line += "]}";
        std::printf("%s\n", line.c_str());
        if (--left == 0) l.stop();
      });
    }
    if (left == 0) return 0;
    l.run();
    dns::ResolverStats s = resolver.stats();
    std::printf(
        "{\"stats\":{\"mx_queries\":%llu,\"address_queries\":%llu,\"cache_hits\":%llu,"
        "\"coalesced\":%llu,\"failures\":%llu}}\n",
        static_cast<unsigned long long>(s.mx_queries_sent),
        static_cast<unsigned long long>(s.address_queries_sent),
        static_cast<unsigned long long>(s.cache_hits), static_cast<unsigned long long>(s.coalesced),
        static_cast<unsigned long long>(s.failures));
    return 0;
  }

  int done = 0, ok = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < a.count; ++i) {
    auto finished = [&](bool good) {
      ++done;
      ok += good ? 1 : 0;
      if (done == a.count) l.stop();
    };
    if (a.what == "destination") {
      resolver.resolve_destination(
          domain(a, i), [finished](const dns::DestinationAddresses& d) { finished(d.ok()); });
    } else {
      resolver.lookup_mx(domain(a, i), [finished](const dns::MxOutcome& m) {
        finished(m.status == dns::LookupStatus::kOk);
      });
    }
  }
  l.run();
  double secs = seconds_since(t0);
  dns::ResolverStats s = resolver.stats();
  std::printf(
      "{\"client\":\"resolver\",\"what\":\"%s\",\"lookups\":%d,\"ok\":%d,\"seconds\":%.3f,"
      "\"per_second\":%.0f,\"queries_sent\":%llu,\"mx_queries\":%llu,\"failures\":%llu,"
      "\"inflight\":%d}\n",
      a.what.c_str(), a.count, ok, secs, a.count / secs,
      static_cast<unsigned long long>(s.queries_sent),
      static_cast<unsigned long long>(s.mx_queries_sent),
      static_cast<unsigned long long>(s.failures), a.inflight);
  return ok == a.count ? 0 : 1;
}

// The plain client: c-ares with ares_getsock + poll(2), `inflight` MX queries at a time, parsed
// with ares_parse_mx_reply, no cache.
struct Baseline {
  ares_channel channel = nullptr;
  int next = 0, done = 0, ok = 0, inflight = 0;
  const Args* args = nullptr;

  static void on_answer(void* arg, int status, int, unsigned char* abuf, int alen) {
    auto* b = static_cast<Baseline*>(arg);
    --b->inflight;
    ++b->done;
    if (status == ARES_SUCCESS) {
      ares_mx_reply* mx = nullptr;
      if (ares_parse_mx_reply(abuf, alen, &mx) == ARES_SUCCESS) {
        ++b->ok;
        ares_free_data(mx);
      }
    }
  }
  void fill() {
    while (inflight < args->inflight && next < args->count) {
      ++inflight;
      ares_query(channel, domain(*args, next++).c_str(), 1, 15, &on_answer, this);
    }
  }
};

int run_baseline(const Args& a) {
  ares_library_init(ARES_LIB_INIT_ALL);
  Baseline b;
  b.args = &a;
  ares_options opts{};
  opts.timeout = a.timeout_ms;
  opts.tries = a.tries;
  opts.flags = ARES_FLAG_NOSEARCH;
  if (ares_init_options(&b.channel, &opts, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS) !=
      ARES_SUCCESS) {
    usage("ares_init_options failed");
  }
  std::string csv;
  for (const std::string& s : a.servers) csv += (csv.empty() ? "" : ",") + s;
  if (!csv.empty() && ares_set_servers_ports_csv(b.channel, csv.c_str()) != ARES_SUCCESS) {
    usage("bad --server");
  }
  auto t0 = std::chrono::steady_clock::now();
  b.fill();
  while (b.done < a.count) {
    ares_socket_t socks[ARES_GETSOCK_MAXNUM];
    int bits = ares_getsock(b.channel, socks, ARES_GETSOCK_MAXNUM);
    std::vector<pollfd> fds;
    for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
      short ev = 0;
      if (ARES_GETSOCK_READABLE(bits, i)) ev |= POLLIN;
      if (ARES_GETSOCK_WRITABLE(bits, i)) ev |= POLLOUT;
      if (ev) fds.push_back(pollfd{socks[i], ev, 0});
    }
    timeval tv{};
    timeval* t = ares_timeout(b.channel, nullptr, &tv);
    int wait = t ? static_cast<int>(t->tv_sec * 1000 + (t->tv_usec + 999) / 1000) : 1000;
    ::poll(fds.data(), fds.size(), wait);
    bool any = false;
    for (const pollfd& p : fds) {
      if (p.revents == 0) continue;
      any = true;
      ares_process_fd(b.channel,
                      (p.revents & (POLLIN | POLLERR | POLLHUP)) ? p.fd : ARES_SOCKET_BAD,
                      (p.revents & POLLOUT) ? p.fd : ARES_SOCKET_BAD);
    }
    if (!any) ares_process_fd(b.channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    b.fill();
  }
  double secs = seconds_since(t0);
  ares_destroy(b.channel);
  std::printf(
      "{\"client\":\"baseline\",\"what\":\"mx\",\"lookups\":%d,\"ok\":%d,\"seconds\":%.3f,"
      "\"per_second\":%.0f,\"inflight\":%d}\n",
      a.count, b.ok, secs, a.count / secs, a.inflight);
  return b.ok == a.count ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Args a = parse(argc, argv);
  if (a.mode == "resolver" || a.mode == "resolve") return run_resolver(a);
  if (a.mode == "baseline") return run_baseline(a);
  usage("mode must be resolver, baseline or resolve");
}
