// A real redis-server for the cluster tests, started by each test on 127.0.0.1 (a free port, no
// persistence, a password) and killed after it; start() again brings it back on the same port (a
// Redis restart). Skips the test where redis-server is not installed (tools/install-deps does).
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "cluster/redis_connection.h"

namespace ringmta::cluster::redis_fixture {

constexpr const char* kServer = "/usr/bin/redis-server";
constexpr const char* kPassword = "test-secret-0123";

inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

class RedisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access(kServer, X_OK) != 0)
      GTEST_SKIP() << "redis-server not installed (tools/install-deps)";
    port_ = free_port();
    start();
  }
  // Starts redis-server on port_ and waits (at most 10 s) until it answers a PING.
  void start() {
    pid_ = ::fork();
    if (pid_ == 0) {
      const std::string port = std::to_string(port_);
      ::execl(kServer, kServer, "--port", port.c_str(), "--bind", "127.0.0.1", "--save", "",
              "--appendonly", "no", "--requirepass", kPassword, "--dir", "/tmp", "--logfile", "",
              "--loglevel", "warning", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 100; ++i) {
      if (auto c = RedisConnection::connect(options())) {
        if (auto pong = (*c)->command({"PING"}); pong && pong->text == "PONG") return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL() << "redis-server did not answer on port " << port_;
  }
  void TearDown() override { stop(); }
  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  RedisOptions options(std::string password = kPassword) const {
    return RedisOptions{.address = "127.0.0.1:" + std::to_string(port_),
                        .user = "",
                        .password = std::move(password),
                        .timeout = 1000};
  }

  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace ringmta::cluster::redis_fixture
