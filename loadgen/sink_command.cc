// run_sink_command: the foreground `ringmta sink` process: start, announce, wait for a signal,
// stop, summarise. It may not do work in signal handlers (it has none: signals go to a signalfd).
#include "loadgen/sink_command.h"

#include <poll.h>
#include <pthread.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "util/time.h"

namespace ringmta::loadgen {

int run_sink_command(const SinkOptions& options) {
  // Block the signals before the loop threads exist, so they inherit the mask and the signals stay
  // pending for the signalfd.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigset_t previous;
  pthread_sigmask(SIG_BLOCK, &signals, &previous);
  int signal_fd = ::signalfd(-1, &signals, SFD_CLOEXEC);
  if (signal_fd < 0) {
    std::fprintf(stderr, "sink: signalfd: %s\n", std::strerror(errno));
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    return 1;
  }

  int code = 0;
  {
    SinkServer server(options);
    Result<void> started = server.start();
    if (!started) {
      std::fprintf(stderr, "sink: %s\n", started.error().message.c_str());
      code = 1;
    } else {
      std::printf("sink listening on %s\n", server.address().c_str());
      std::fflush(stdout);
      Millis started = monotonic_now();
      pollfd wait{signal_fd, POLLIN, 0};
      int timeout = options.stats_every_ms > 0 ? options.stats_every_ms : -1;
      for (;;) {
        int ready = ::poll(&wait, 1, timeout);
        if (ready > 0) break;
        if (ready < 0 && errno != EINTR) break;
        if (ready == 0) {
          SinkStats s = server.stats();
          std::printf("sink: at %.3f s: %llu messages, %llu recipients, %llu bytes\n",
                      static_cast<double>(monotonic_now() - started) / 1000.0,
                      static_cast<unsigned long long>(s.messages),
                      static_cast<unsigned long long>(s.recipients),
                      static_cast<unsigned long long>(s.bytes));
          std::fflush(stdout);
        }
      }
      server.stop();
      SinkStats s = server.stats();
      std::printf(
          "sink: %llu messages, %llu recipients, %llu bytes, %llu connections (at most %llu at "
          "once), %llu refused 4xx, %llu refused 5xx\n",
          static_cast<unsigned long long>(s.messages),
          static_cast<unsigned long long>(s.recipients), static_cast<unsigned long long>(s.bytes),
          static_cast<unsigned long long>(s.connections),
          static_cast<unsigned long long>(s.peak_connections),
          static_cast<unsigned long long>(s.refused_temporary),
          static_cast<unsigned long long>(s.refused_permanent));
      std::fflush(stdout);
    }
  }

  // Consume signals that arrived meanwhile, so restoring the mask does not deliver them.
  timespec zero{};
  while (sigtimedwait(&signals, nullptr, &zero) > 0) {
  }
  ::close(signal_fd);
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return code;
}

}  // namespace ringmta::loadgen
