// SinkServer implementation: listening sockets, the accept loop, per-connection recv/send driving
// of SmtpServerSession, per-thread counters and the recipient record file.
// It may not block the loop beyond appending whole lines to the record file, allocate per byte, or
// free a connection while one of its operations is in the ring.
#include "loadgen/sink_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <future>
#include <thread>

#include "engine/io/event_loop.h"
#include "engine/io/listen_socket.h"
#include "engine/io/tls_channel.h"
#include "loadgen/smtp_server.h"
#include "util/errno_text.h"

namespace ringmta::loadgen {
namespace {

constexpr std::size_t kRecvBufferSize = 32 * 1024;
// Stop reading from a client while this much reply output is unsent (a client that pipelines
// without reading cannot grow our buffers without bound).
constexpr std::size_t kMaxUnsentOutput = 256 * 1024;
constexpr std::size_t kRecordFlushBytes = 64 * 1024;
constexpr Millis kRecordFlushInterval = 100;
constexpr Millis kAcceptRetryDelay = 10;  // after EMFILE and friends
constexpr Millis kStopGrace = 2000;       // stop the loop even if some operation never completes
constexpr int kMaxThreads = 256;

// Single-writer counter: only the owning loop thread adds; any thread may read.
void add(std::atomic<uint64_t>& counter, uint64_t n) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

class SinkConnection;

}  // namespace

struct SinkServer::Worker {
  Worker(int index, int threads)
      : next_session_id(static_cast<uint64_t>(index)), threads(threads) {}

  void run(std::promise<std::string> created);
  void arm_accept();
  void on_accept(int result);
  void begin_stop();
  void maybe_finish_stop();
  void link(SinkConnection* c);
  void unlink(SinkConnection* c);
  void record(const MessageAccepted& m);
  void flush_record();
  void keep_message(const MessageAccepted& m);

  struct alignas(64) Counters {
    std::atomic<uint64_t> messages{0};
    std::atomic<uint64_t> recipients{0};
    std::atomic<uint64_t> bytes{0};
    std::atomic<uint64_t> connections{0};
    std::atomic<uint64_t> peak_connections{0};  // most open at once on this thread
    std::atomic<uint64_t> refused_temporary{0};
    std::atomic<uint64_t> refused_permanent{0};
  } counters;

  std::unique_ptr<engine::EventLoop> loop;
  std::thread thread;
  int listen_fd = -1;
  int record_fd = -1;
  std::string record_buffer;
  bool record_timer_armed = false;
  bool record_failed = false;
  std::string hostname;
  std::string messages_dir;  // "" = bodies are not kept
  const SinkScript* script = nullptr;
  std::shared_ptr<engine::TlsContext> tls;  // set: STARTTLS offered
  uint64_t next_session_id;
  int threads;
  SinkConnection* connections = nullptr;  // intrusive list of live connections
  uint64_t live_connections = 0;
  bool accept_pending = false;
  bool stopping = false;
  engine::MemberCompletion<Worker, &Worker::on_accept> accept_done{this};
};

namespace {

// One client connection. Lives until it is closing and none of its operations is in the ring.
class SinkConnection {
 public:
  SinkConnection(SinkServer::Worker* worker, int fd, uint64_t session_id)
      : worker_(worker),
        fd_(fd),
        session_(ServerConfig{.hostname = worker->hostname,
                              .session_id = session_id,
                              .script = worker->script,
                              .offer_starttls = worker->tls != nullptr,
                              .keep_bodies = !worker->messages_dir.empty()}),
        buffer_(new char[kRecvBufferSize]) {}

  void start() {
    session_.move_output_to(pending_);  // the greeting
    flush();
    arm_recv();
  }

  // Starts teardown: shutdown() makes a pending recv (and send) complete; the object is freed
  // once the last of its operations has come back.
  void close() {
    if (closing_) return;
    closing_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    maybe_destroy();
  }

  SinkConnection* prev = nullptr;
  SinkConnection* next = nullptr;

 private:
  void on_recv(int result) {
    recv_armed_ = false;
    --outstanding_;
    if (closing_) return maybe_destroy();
    if (result == -EINTR || result == -EAGAIN) return arm_recv();
    if (result <= 0) return close();  // EOF or error
    std::string_view bytes(buffer_.get(), static_cast<std::size_t>(result));
    if (tls_ != nullptr) {
      if (!decrypt(bytes)) return close();
      if (plain_.empty()) {
        flush();
        return arm_recv();
      }
      bytes = plain_;
    }
    session_.feed(bytes);
    if (!session_.events().empty()) {
      for (const MessageAccepted& m : session_.events()) worker_->record(m);
      session_.clear_events();
    }
    if (worker_->script != nullptr) {
      ScriptedRefusals r = session_.take_refusals();
      add(worker_->counters.refused_temporary, r.temporary);
      add(worker_->counters.refused_permanent, r.permanent);
      if (uint32_t delay = session_.take_delay_ms(); delay > 0 || held_timer_ != 0) {
        // A scripted delay: hold this output (behind anything already held) until the timer.
        session_.move_output_to(held_);
        if (held_timer_ == 0) {
          held_timer_ = worker_->loop->add_timer(worker_->loop->now() + delay, [this] {
            held_timer_ = 0;
            emit(held_);
            held_.clear();
            flush();
            if (session_.closed() && !send_armed_) close();
          });
        }
        if (!session_.closed()) arm_recv();
        return;
      }
    }
    if (tls_ != nullptr) {
      emit(session_.output());
      session_.clear_output();
    } else {
      session_.move_output_to(pending_);
    }
    if (session_.starttls_requested() && !start_tls()) return close();
    flush();
    if (session_.closed()) {
      if (!send_armed_) close();  // else on_send closes once the 221 is out
      return;
    }
    arm_recv();
  }

  void on_send(int result) {
    send_armed_ = false;
    --outstanding_;
    if (closing_) return maybe_destroy();
    if (result < 0 && result != -EINTR && result != -EAGAIN) return close();
    if (result > 0) {
      sent_ += static_cast<std::size_t>(result);
      if (sent_ == sending_.size()) {
        sending_.clear();
        sent_ = 0;
      }
    }
    flush();
    if (!send_armed_ && session_.closed()) return close();
    arm_recv();
  }

  // Plaintext output to the client: encrypted once TLS is up, else as it is.
  void emit(std::string_view plaintext) {
    if (tls_ == nullptr) {
      pending_.append(plaintext);
      return;
    }
    tls_->write(plaintext);
    pending_.append(tls_->take_ciphertext());
  }

  // After the 220 to STARTTLS (already in pending_, in clear text): the server end of TLS.
  bool start_tls() {
    auto channel = engine::TlsChannel::server(worker_->tls);
    if (!channel) return false;
    tls_ = std::move(channel.value());
    session_.tls_started();
    return true;
  }

  // Ciphertext in: drives the handshake, then leaves the plaintext in plain_. false: TLS failed or
  // the client closed it.
  bool decrypt(std::string_view ciphertext) {
    plain_.clear();
    return tls_->receive(ciphertext, plain_, pending_) != engine::TlsChannel::Status::kFailed;
  }

  // Starts a send if none is in flight: the rest of sending_, else everything pending_.
  void flush() {
    if (send_armed_ || closing_) return;
    if (sending_.empty()) {
      if (pending_.empty()) return;
      sending_.swap(pending_);
      sent_ = 0;
    }
    send_armed_ = true;
    ++outstanding_;
    worker_->loop->send(fd_, sending_.data() + sent_, sending_.size() - sent_, &send_done_);
  }

  void arm_recv() {
    if (recv_armed_ || closing_ || session_.closed()) return;
    if (pending_.size() + (sending_.size() - sent_) > kMaxUnsentOutput) return;  // on_send re-arms
    recv_armed_ = true;
    ++outstanding_;
    worker_->loop->recv(fd_, buffer_.get(), kRecvBufferSize, &recv_done_);
  }

  void maybe_destroy() {
    if (!closing_ || outstanding_ > 0) return;
    if (held_timer_ != 0) worker_->loop->cancel_timer(held_timer_);
    ::close(fd_);
    SinkServer::Worker* worker = worker_;
    worker->unlink(this);
    delete this;
    worker->maybe_finish_stop();
  }

  SinkServer::Worker* worker_;
  int fd_;
  SmtpServerSession session_;
  std::unique_ptr<char[]> buffer_;
  std::string sending_;  // in flight from sent_; not touched until its send completes
  std::size_t sent_ = 0;
  std::string pending_;  // output queued behind sending_
  std::string held_;     // output a script delays until held_timer_ fires (plaintext)
  std::unique_ptr<engine::TlsChannel> tls_;  // after STARTTLS
  std::string plain_;                        // decrypted input of one recv
  engine::TimerId held_timer_ = 0;
  int outstanding_ = 0;  // operations in the ring that target this object
  bool recv_armed_ = false;
  bool send_armed_ = false;
  bool closing_ = false;
  engine::MemberCompletion<SinkConnection, &SinkConnection::on_recv> recv_done_{this};
  engine::MemberCompletion<SinkConnection, &SinkConnection::on_send> send_done_{this};
};

}  // namespace

void SinkServer::Worker::link(SinkConnection* c) {
  c->next = connections;
  if (connections != nullptr) connections->prev = c;
  connections = c;
}

void SinkServer::Worker::unlink(SinkConnection* c) {
  --live_connections;
  if (c->prev != nullptr) c->prev->next = c->next;
  if (c->next != nullptr) c->next->prev = c->prev;
  if (connections == c) connections = c->next;
}

// The thread body. The ring is created here, not by start()'s caller: io_uring notifies every
// task that created or used a ring when the ring is torn down, which would interrupt the caller's
// blocking syscalls with EINTR. stop() destroys the loop after joining this thread.
void SinkServer::Worker::run(std::promise<std::string> created) {
  Result<std::unique_ptr<engine::EventLoop>> made = engine::EventLoop::create();
  if (!made) {
    created.set_value(made.error().message);
    return;
  }
  loop = std::move(made.value());
  created.set_value(std::string());
  arm_accept();
  loop->run();
  flush_record();
}

void SinkServer::Worker::arm_accept() {
  if (stopping || accept_pending) return;
  accept_pending = true;
  loop->accept(listen_fd, &accept_done);
}

void SinkServer::Worker::on_accept(int result) {
  accept_pending = false;
  if (result >= 0) {
    if (stopping) {
      ::close(result);
    } else {
      int one = 1;
      ::setsockopt(result, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto* c = new SinkConnection(this, result, next_session_id);
      next_session_id += static_cast<uint64_t>(threads);
      link(c);
      add(counters.connections, 1);
      if (++live_connections > counters.peak_connections.load(std::memory_order_relaxed)) {
        counters.peak_connections.store(live_connections, std::memory_order_relaxed);
      }
      c->start();
    }
  }
  if (stopping) return maybe_finish_stop();
  switch (-result) {
    case EINVAL:
    case EBADF:
    case ENOTSOCK:
    case ECANCELED:  // the listening socket is gone
      std::fprintf(stderr, "sink: accept: %s\n", errno_text(-result).c_str());
      return;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:  // out of resources: back off instead of spinning
      loop->add_timer(loop->now() + kAcceptRetryDelay, [this] { arm_accept(); });
      return;
    default:  // accepted, or ECONNABORTED / EINTR / EAGAIN / EPERM ...
      arm_accept();
  }
}

void SinkServer::Worker::begin_stop() {
  if (stopping) return;
  stopping = true;
  // Wakes the pending accept (it fails with EINVAL) and stops new connections.
  if (listen_fd >= 0) ::shutdown(listen_fd, SHUT_RDWR);
  for (SinkConnection* c = connections; c != nullptr;) {
    SinkConnection* next = c->next;
    c->close();  // may free c
    c = next;
  }
  flush_record();
  loop->add_timer(loop->now() + kStopGrace, [this] {
    std::fprintf(stderr, "sink: stop: operations still pending after %lld ms\n",
                 static_cast<long long>(kStopGrace));
    loop->stop();
  });
  maybe_finish_stop();
}

void SinkServer::Worker::maybe_finish_stop() {
  if (stopping && !accept_pending && connections == nullptr) loop->stop();
}

void SinkServer::Worker::record(const MessageAccepted& m) {
  add(counters.messages, 1);
  add(counters.recipients, m.recipients.size());
  add(counters.bytes, m.body_bytes);
  if (!messages_dir.empty()) keep_message(m);
  if (record_fd < 0) return;
  for (const std::string& r : m.recipients) {
    record_buffer.append(r);
    record_buffer.push_back('\n');
  }
  if (record_buffer.size() >= kRecordFlushBytes) {
    flush_record();
  } else if (!record_timer_armed && !stopping) {
    record_timer_armed = true;
    loop->add_timer(loop->now() + kRecordFlushInterval, [this] {
      record_timer_armed = false;
      flush_record();
    });
  } else if (stopping) {
    flush_record();
  }
}

void SinkServer::Worker::keep_message(const MessageAccepted& m) {
  std::string text = "Return-Path: <" + m.mail_from + ">\r\n";
  for (const std::string& r : m.recipients) text += "Delivered-To: " + r + "\r\n";
  text += m.body;
  const std::string path = messages_dir + "/" + m.queue_id + ".eml";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  if (fd >= 0) ok = ::close(fd) == 0 && ok;
  if (!ok && !record_failed) {
    std::fprintf(stderr, "sink: writing %s: %s\n", path.c_str(), errno_text(errno).c_str());
    record_failed = true;
  }
}

// Appends the buffered whole lines with O_APPEND writes (a plain file: fast, in page cache).
void SinkServer::Worker::flush_record() {
  std::size_t done = 0;
  while (done < record_buffer.size()) {
    ssize_t n = ::write(record_fd, record_buffer.data() + done, record_buffer.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (!record_failed)
        std::fprintf(stderr, "sink: record write: %s\n", errno_text(errno).c_str());
      record_failed = true;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  record_buffer.clear();
}

SinkServer::SinkServer(SinkOptions options) : options_(std::move(options)) {
  int threads = std::clamp(options_.threads, 1, kMaxThreads);
  for (int i = 0; i < threads; ++i) workers_.push_back(std::make_unique<Worker>(i, threads));
}

SinkServer::~SinkServer() {
  stop();
  for (auto& w : workers_) {
    if (w->listen_fd >= 0) ::close(w->listen_fd);
    if (w->record_fd >= 0) ::close(w->record_fd);
  }
}

Result<void> SinkServer::start() {
  std::unique_lock lock(lifecycle_mutex_);
  if (started_ || stopped_) return make_error("sink already started or stopped");
  started_ = true;
  auto script = SinkScript::parse(options_.scripts);
  if (!script) return script.error();
  script_ = std::move(script.value());
  if (options_.threads < 1 || options_.threads > kMaxThreads) {
    return make_error("sink threads must be 1.." + std::to_string(kMaxThreads));
  }
  Result<engine::ListenAddress> parsed = engine::parse_listen(options_.listen);
  if (!parsed) return parsed.error();
  engine::ListenAddress addr = std::move(parsed.value());
  host_ = addr.host;

  std::shared_ptr<engine::TlsContext> tls;
  if (options_.tls_cert_path.empty() != options_.tls_key_path.empty()) {
    return make_error("the sink's TLS needs both a certificate and a key");
  }
  if (!options_.tls_cert_path.empty()) {
    auto made = engine::TlsContext::server(options_.tls_cert_path, options_.tls_key_path);
    if (!made) return made.error();
    tls = std::move(made.value());
  }
  char name[256] = {};
  std::string hostname = ::gethostname(name, sizeof name - 1) == 0 && name[0] != '\0'
                             ? std::string(name)
                             : std::string("localhost");
  if (Result<void> free = engine::probe_port_free(addr, options_.listen); !free)
    return free.error();
  for (auto& w : workers_) {
    w->hostname = hostname;
    w->messages_dir = options_.messages_dir;
    w->script = script_.empty() ? nullptr : &script_;
    w->tls = tls;
    Result<int> fd = engine::open_listener(addr, options_.listen);
    if (!fd) return fd.error();
    w->listen_fd = fd.value();
    if (addr.port == 0) {  // the first socket picks the port; the others join it
      Result<uint16_t> port = engine::bound_port(w->listen_fd);
      if (!port) return port.error();
      engine::set_port(addr, port.value());
    }
    if (!options_.record_path.empty()) {
      w->record_fd =
          ::open(options_.record_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (w->record_fd < 0) {
        return make_error("open " + options_.record_path + ": " + errno_text(errno));
      }
    }
  }
  port_ = addr.port;
  std::vector<std::future<std::string>> created;
  for (auto& w : workers_) {
    Worker* worker = w.get();
    std::promise<std::string> promise;
    created.push_back(promise.get_future());
    worker->thread =
        std::thread([worker, p = std::move(promise)]() mutable { worker->run(std::move(p)); });
  }
  std::string failure;
  for (auto& f : created) {
    std::string error = f.get();
    if (failure.empty()) failure = std::move(error);
  }
  if (!failure.empty()) {
    stop_locked();
    return make_error(failure);
  }
  lock.unlock();  // the callback may call stop()
  if (options_.on_listening) options_.on_listening(port_);
  return {};
}

void SinkServer::stop() {
  std::lock_guard lock(lifecycle_mutex_);
  stop_locked();
}

void SinkServer::stop_locked() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& w : workers_) {
    if (!w->thread.joinable() || w->loop == nullptr) continue;
    Worker* worker = w.get();
    worker->loop->post([worker] { worker->begin_stop(); });
  }
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  // Only now, with no post() in progress, may the rings go.
  for (auto& w : workers_) {
    if (w->connections == nullptr) w->loop.reset();
  }
  // Connections left by the grace timeout may still have operations in their rings, so they (and
  // their ring) are deliberately leaked rather than freed under the kernel.
  for (auto& w : workers_) {
    if (w->connections != nullptr) {
      std::fprintf(stderr, "sink: leaking connections that did not drain at stop\n");
      (void)w->loop.release();
    }
  }
}

std::string SinkServer::address() const {
  std::string port = std::to_string(port_);
  if (host_.find(':') != std::string::npos) return "[" + host_ + "]:" + port;
  return host_ + ":" + port;
}

SinkStats SinkServer::stats() const {
  SinkStats s;
  for (const auto& w : workers_) {
    s.messages += w->counters.messages.load(std::memory_order_relaxed);
    s.refused_temporary += w->counters.refused_temporary.load(std::memory_order_relaxed);
    s.refused_permanent += w->counters.refused_permanent.load(std::memory_order_relaxed);
    s.recipients += w->counters.recipients.load(std::memory_order_relaxed);
    s.bytes += w->counters.bytes.load(std::memory_order_relaxed);
    s.connections += w->counters.connections.load(std::memory_order_relaxed);
    s.peak_connections += w->counters.peak_connections.load(std::memory_order_relaxed);
  }
  return s;
}

}  // namespace ringmta::loadgen
