// Unit tests for SinkServer: a real server on 127.0.0.1 port 0 in this process, driven by plain
// blocking-socket clients. Checks replies, counters, the record file and teardown at stop().
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "loadgen/sink_server.h"

namespace ringmta::loadgen {
namespace {

// A blocking TCP client with a receive timeout, so a broken server fails the test, not hangs it.
class Client {
 public:
  explicit Client(uint16_t port, const char* host = "127.0.0.1") {
    bool v6 = std::string_view(host).find(':') != std::string_view::npos;
    fd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{.tv_sec = 10, .tv_usec = 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int rc;
    if (v6) {
      sockaddr_in6 a{};
      a.sin6_family = AF_INET6;
      a.sin6_port = htons(port);
      inet_pton(AF_INET6, host, &a.sin6_addr);
      rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    } else {
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(port);
      inet_pton(AF_INET, host, &a.sin_addr);
      rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    }
    connected_ = rc == 0;
  }
  ~Client() { ::close(fd_); }
  bool connected() const { return connected_; }

  void send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      ASSERT_GT(n, 0);
      data.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  // Reads until `count` reply lines (lines whose 4th char is ' ') have arrived, or EOF/timeout.
  std::string read_replies(int count) {
    std::string out;
    int seen = 0;
    while (seen < count) {
      std::size_t nl;
      while (seen < count && (nl = buffer_.find("\r\n")) != std::string::npos) {
        std::string line = buffer_.substr(0, nl + 2);
        buffer_.erase(0, nl + 2);
        out += line;
        if (line.size() < 4 || line[3] != '-') ++seen;
      }
      if (seen >= count) break;
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      buffer_.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }

  // True if the server closed the connection (EOF) within the receive timeout.
  bool at_eof() {
    char c;
    return buffer_.empty() && ::recv(fd_, &c, 1, 0) == 0;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string buffer_;
};

std::string temp_path(const char* name) {
  const char* dir = std::getenv("TMPDIR");
  std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/ringmta_sink_test_" +
                     std::to_string(::getpid()) + "_" + name;
  ::unlink(path.c_str());
  return path;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Polls `pred` for up to 5 s.
template <class Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 500; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

std::string message(int i) {
  std::string n = std::to_string(i);
  return "MAIL FROM:<sender" + n + "@x.test>\r\n" + "RCPT TO:<a" + n + "@y.test>\r\n" +
         "RCPT TO:<b" + n + "@y.test>\r\n" + "DATA\r\n" + "Subject: " + n + "\r\n\r\n" +
         "..dot\r\nbody\r\n.\r\n";
}
// Body as counted: "Subject: N\r\n\r\n.dot\r\nbody\r\n".
constexpr uint64_t kBodyBytes = 12 + 2 + 6 + 6;

TEST(SinkServer, PipelinedSessionOfThreeMessages) {
  std::string record = temp_path("record");
  SinkOptions options;
  options.listen = "127.0.0.1:0";
  options.record_path = record;
  std::atomic<uint16_t> announced{0};
  options.on_listening = [&](uint16_t port) { announced = port; };
  SinkServer server(options);
  ASSERT_TRUE(server.start().ok());
  ASSERT_NE(server.port(), 0);
  EXPECT_EQ(announced.load(), server.port());
  EXPECT_EQ(server.address(), "127.0.0.1:" + std::to_string(server.port()));

  Client c(server.port());
  ASSERT_TRUE(c.connected());
  std::string greeting = c.read_replies(1);
  EXPECT_EQ(greeting.substr(0, 4), "220 ");
  EXPECT_NE(greeting.find(" ESMTP ringmta-sink\r\n"), std::string::npos);

  c.send("EHLO client.test\r\n" + message(1) + message(2) + message(3) + "QUIT\r\n");
  // EHLO, then per message 250 MAIL, 2x 250 RCPT, 354, 250 queued; then 221.
  std::string replies = c.read_replies(1 + 3 * 5 + 1);
  std::istringstream lines(replies);
  std::vector<std::string> codes;
  for (std::string line; std::getline(lines, line);) {
    if (line.size() >= 4 && line[3] == ' ') codes.push_back(line.substr(0, 3));
  }
  std::vector<std::string> expected = {"250"};
  for (int i = 0; i < 3; ++i) {
    for (const char* code : {"250", "250", "250", "354", "250"}) expected.push_back(code);
  }
  expected.push_back("221");
  EXPECT_EQ(codes, expected) << replies;
  EXPECT_NE(replies.find("250-PIPELINING\r\n"), std::string::npos);
  EXPECT_NE(replies.find("250 2.0.0 queued as "), std::string::npos);
  EXPECT_TRUE(c.at_eof());

  ASSERT_TRUE(eventually([&] { return server.stats().messages == 3; }));
  SinkStats s = server.stats();
  EXPECT_EQ(s.messages, 3u);
  EXPECT_EQ(s.recipients, 6u);
  EXPECT_EQ(s.bytes, 3 * kBodyBytes);
  EXPECT_EQ(s.connections, 1u);

  const std::string lines_expected =
      "a1@y.test\nb1@y.test\na2@y.test\nb2@y.test\na3@y.test\nb3@y.test\n";
  // Flushed within 100 ms, without waiting for stop().
  EXPECT_TRUE(eventually([&] { return read_file(record) == lines_expected; }));
  server.stop();
  EXPECT_EQ(read_file(record), lines_expected);
  ::unlink(record.c_str());
}

TEST(SinkServer, StopClosesIdleAndBusyConnections) {
  SinkOptions options;
  options.listen = "127.0.0.1:0";
  options.threads = 2;
  SinkServer server(options);
  ASSERT_TRUE(server.start().ok());
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 8; ++i) {
    clients.push_back(std::make_unique<Client>(server.port()));
    ASSERT_TRUE(clients.back()->connected());
    EXPECT_EQ(clients.back()->read_replies(1).substr(0, 4), "220 ");
  }
  // One in the middle of a body, one with a partial command line, the rest idle.
  clients[0]->send("EHLO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\npartial");
  EXPECT_EQ(clients[0]->read_replies(4).substr(0, 4), "250-");
  clients[1]->send("NOOP no line end");
  ASSERT_TRUE(eventually([&] { return server.stats().connections == 8; }));
  auto t0 = std::chrono::steady_clock::now();
  server.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1500));
  for (auto& c : clients) EXPECT_TRUE(c->at_eof());
  EXPECT_EQ(server.stats().messages, 0u);
  server.stop();  // idempotent
}

TEST(SinkServer, ManyConnectionsAcrossThreads) {
  SinkOptions options;
  options.listen = "127.0.0.1:0";
  options.threads = 2;
  SinkServer server(options);
  ASSERT_TRUE(server.start().ok());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        Client c(server.port());
        if (!c.connected()) return;
        c.read_replies(1);
        c.send("HELO c\r\n" + message(i) + "QUIT\r\n");
        std::string r = c.read_replies(7);
        if (r.find("221 ") != std::string::npos && c.at_eof()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 40);
  ASSERT_TRUE(eventually([&] { return server.stats().messages == 40; }));
  EXPECT_EQ(server.stats().recipients, 80u);
  EXPECT_EQ(server.stats().connections, 40u);
  server.stop();
}

TEST(SinkServer, LargeBodyInManyReadsAndAbruptDisconnect) {
  SinkOptions options;
  options.listen = "127.0.0.1:0";
  SinkServer server(options);
  ASSERT_TRUE(server.start().ok());
  Client c(server.port());
  c.read_replies(1);
  std::string body;
  for (int i = 0; i < 20000; ++i) body += "line " + std::to_string(i) + " of the body\r\n";
  c.send("EHLO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n" + body + ".\r\n");
  std::string r = c.read_replies(5);
  EXPECT_NE(r.find("250 2.0.0 queued as"), std::string::npos) << r;
  ASSERT_TRUE(eventually([&] { return server.stats().bytes == body.size(); }));
  // A client that abruptly disconnects mid-session is cleaned up.
  {
    Client d(server.port());
    d.send("EHLO c\r\nMAIL FROM:<a@x.test>\r\n");
  }
  server.stop();
}

TEST(SinkServer, PipelinedFloodWithBackpressure) {
  SinkOptions options;
  options.listen = "127.0.0.1:0";
  SinkServer server(options);
  ASSERT_TRUE(server.start().ok());
  Client c(server.port());
  c.read_replies(1);
  // 4 MB of replies: far more than the server buffers before it stops reading.
  constexpr int kCommands = 300000;
  std::thread sender([&] {
    std::string noops;
    for (int i = 0; i < kCommands; ++i) noops += "NOOP\r\n";
    c.send(noops + "QUIT\r\n");
  });
  std::string r = c.read_replies(kCommands + 1);
  sender.join();
  EXPECT_EQ(r.size(), kCommands * std::string("250 2.0.0 Ok\r\n").size() + 15);
  EXPECT_EQ(r.substr(r.size() - 15), "221 2.0.0 Bye\r\n");
  server.stop();
}

TEST(SinkServer, Ipv6Loopback) {
  SinkOptions options;
  options.listen = "[::1]:0";
  SinkServer server(options);
  Result<void> started = server.start();
  if (!started) GTEST_SKIP() << "no IPv6 loopback: " << started.error().message;
  EXPECT_EQ(server.address(), "[::1]:" + std::to_string(server.port()));
  Client c(server.port(), "::1");
  ASSERT_TRUE(c.connected());
  EXPECT_EQ(c.read_replies(1).substr(0, 4), "220 ");
  server.stop();
}

TEST(SinkServer, PortInUseIsAnErrorDespiteReusePort) {
  SinkOptions options;
  options.listen = "127.0.0.1:0";
  options.threads = 2;
  SinkServer first(options);
  ASSERT_TRUE(first.start().ok());
  options.listen = first.address();
  SinkServer second(options);
  Result<void> started = second.start();
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.error().message.find("in use"), std::string::npos) << started.error().message;
  // The first one still serves.
  Client c(first.port());
  EXPECT_EQ(c.read_replies(1).substr(0, 4), "220 ");
}

TEST(SinkServer, BadOptionsAreErrors) {
  for (const char* listen :
       {"127.0.0.1", "127.0.0.1:99999", "300.0.0.1:25", "[::1:25", "[zz]:25"}) {
    SinkOptions options;
    options.listen = listen;
    SinkServer server(options);
    EXPECT_FALSE(server.start().ok()) << listen;
  }
  SinkOptions options;
  options.listen = "127.0.0.1:0";
  options.threads = 0;
  EXPECT_FALSE(SinkServer(options).start().ok());
  options.threads = 1;
  options.record_path = "/nonexistent-dir/record";
  SinkServer server(options);
  EXPECT_FALSE(server.start().ok());
}

}  // namespace
}  // namespace ringmta::loadgen
