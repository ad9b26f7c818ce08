// SubmissionServer implementation: the accept loop, per-connection driving of SubmissionSession
// over TcpStream and TlsChannel, the hand-off to the GroupCommitter and back, timeouts and the
// drain at stop.
// It may not free a connection while its stream has an operation in the ring or a commit of its
// message is outstanding.
#include "submission/server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <future>
#include <unordered_set>

#include "engine/io/event_loop.h"
#include "engine/io/listen_socket.h"
#include "engine/io/tcp_stream.h"
#include "engine/io/tls_channel.h"
#include "storage/records.h"
#include "submission/session.h"

namespace ringmta::submission {
namespace {

class Connection;

// Single-writer counter: only the loop thread adds; any thread may read.
void add(std::atomic<uint64_t>& counter, uint64_t n) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

std::string hex(uint64_t v) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%" PRIx64, v);
  return buf;
}

}  // namespace

namespace {

// The queue's suppression list, read on the loop thread (a point lookup: block cache or memtable).
class QueueSuppressions final : public SuppressionCheck {
 public:
  explicit QueueSuppressions(storage::Queue& queue) : list_(queue) {}
  std::optional<bool> suppressed(std::string_view address) override {
    const std::string one(address);
    auto found = list_.contains(std::span(&one, 1));
    if (!found) return std::nullopt;
    return (*found)[0];
  }

 private:
  storage::SuppressionList list_;
};

// The certificate and the users file, checked together: at start and on every reload.
struct Credentials {
  std::shared_ptr<engine::TlsContext> tls;  // null: no TLS
  std::shared_ptr<UserDirectory> users;
};

Result<Credentials> load_credentials(const std::string& users_path, const std::string& cert_path,
                                     const std::string& key_path, bool implicit_listener) {
  if (cert_path.empty() != key_path.empty()) {
    return make_error("submission: --tls-cert and --tls-key go together");
  }
  Credentials out{nullptr, std::make_shared<UserDirectory>()};
  if (!cert_path.empty()) {
    auto tls = engine::TlsContext::server(cert_path, key_path);
    if (!tls) return make_error("submission: " + tls.error().message);
    out.tls = std::move(tls.value());
  } else if (implicit_listener) {
    return make_error("--submission-tls-listen needs --tls-cert and --tls-key");
  }
  if (!users_path.empty()) {
    auto users = UserDirectory::load(users_path);
    if (!users) return users.error();
    if (!users->empty() && out.tls == nullptr) {
      return make_error(
          "--users needs --tls-cert and --tls-key: passwords are only accepted over TLS");
    }
    *out.users = std::move(users.value());
  }
  return out;
}

}  // namespace

struct SubmissionServer::Loop {
  struct Acceptor final : engine::Completion {
    Acceptor(Loop* loop, bool implicit) : loop(loop), implicit(implicit) {}
    void complete(int result) override { loop->on_accept(*this, result); }
    Loop* loop;
    bool implicit;
    int fd = -1;
    bool pending = false;
  };

  void arm(Acceptor& a);
  void on_accept(Acceptor& a, int result);
  void begin_stop();
  void forget(Connection* c);
  void maybe_finish_stop();
  void emit(std::string kind, std::string client, std::string detail) {
    if (on_event) on_event(SubmissionEvent{std::move(kind), std::move(client), std::move(detail)});
  }

  std::unique_ptr<engine::EventLoop> loop;
  SubmissionOptions options;
  std::shared_ptr<UserDirectory> users = std::make_shared<UserDirectory>();
  UserRates rates;
  NetworkList networks;
  std::shared_ptr<engine::TlsContext> tls;
  GroupCommitter* committer = nullptr;
  std::unique_ptr<QueueSuppressions> suppressions;
  std::function<void(const SubmissionEvent&)> on_event;
  Acceptor plain{this, false}, implicit{this, true};
  std::unordered_set<Connection*> connections;
  std::string session_prefix;
  uint64_t next_session = 0;
  bool stopping = false;
  struct {
    std::atomic<uint64_t> connections{0}, messages{0}, recipients{0}, auth_failures{0}, open{0};
  } counts;
};

namespace {

class Connection final : public engine::StreamHandler {
 public:
  Connection(SubmissionServer::Loop& owner, int fd, bool implicit, const sockaddr_storage& peer,
             std::string session_id)
      : owner_(owner),
        fd_(fd),
        implicit_(implicit),
        client_(address_text(peer)),
        users_(owner.users),
        tls_context_(owner.tls),
        stream_(*owner.loop, *this),
        session_(SessionConfig{.hostname = owner.options.hostname,
                               .max_message_size = owner.options.max_message_size,
                               .max_recipients = owner.options.max_recipients,
                               .starttls_offered = tls_context_ != nullptr && !implicit,
                               .implicit_tls = implicit,
                               .relay_client = owner.networks.contains(peer),
                               .client_address = client_,
                               .session_id = std::move(session_id),
                               .users = users_.get(),
                               .rates = &owner.rates,
                               .suppressions = owner.suppressions.get()}) {}

  void start() {
    stream_.adopt(fd_);
    if (implicit_ && !start_tls()) return;
    flush();
    arm_timer();
  }

  // The service is stopping: a session waiting for its commit gets its answer first.
  void stop() {
    if (commit_pending_ || closing_) return;
    if (handshaking_) return stream_.close();
    session_.clear_output();
    write("421 4.3.2 Service shutting down, try again later\r\n");
    closing_ = true;
    stream_.close_after_sending();
  }

  void on_connected() override {}

  void on_data(std::string_view data) override {
    if (tls_ != nullptr) {
      std::string plain, reply;
      const engine::TlsChannel::Status status = tls_->receive(data, plain, reply);
      if (!reply.empty()) stream_.write(std::move(reply));
      if (status == engine::TlsChannel::Status::kWantMore) return;
      if (status == engine::TlsChannel::Status::kFailed && handshaking_) return stream_.close();
      if (handshaking_) {
        handshaking_ = false;
        flush();  // implicit TLS: the greeting waited for the handshake
      }
      input_.append(plain);
      if (status == engine::TlsChannel::Status::kFailed) {
        pump();
        return stream_.close();
      }
    } else {
      input_.append(data);
    }
    pump();
  }

  void on_stream_error(std::string) override { closing_ = true; }

  void on_closed() override {
    closed_ = true;
    closing_ = true;
    if (timer_ != 0) owner_.loop->cancel_timer(timer_);
    timer_ = 0;
    if (!commit_pending_) owner_.forget(this);
  }

 private:
  bool start_tls() {
    auto channel = engine::TlsChannel::server(tls_context_);
    if (!channel) {
      stream_.close();
      return false;
    }
    tls_ = std::move(channel.value());
    handshaking_ = true;
    return true;
  }

  void write(std::string_view plaintext) {
    if (tls_ != nullptr) {
      tls_->write(plaintext);
      stream_.write(tls_->take_ciphertext());
    } else {
      stream_.write(plaintext);
    }
  }

  void flush() {
    if (handshaking_ || session_.output().empty()) return;
    write(session_.output());
    session_.clear_output();
  }

  void pump() {
    if (closing_ || commit_pending_) return;
    const std::size_t used = session_.feed(input_, unix_now_millis());
    input_.erase(0, used);
    for (const SessionNote& note : session_.notes()) {
      if (note.kind == "auth_failed") add(owner_.counts.auth_failures, 1);
      owner_.emit(note.kind, client_, note.detail);
    }
    session_.notes().clear();
    if (session_.has_message()) commit();
    flush();
    if (session_.starttls_requested()) {
      if (!start_tls()) return;
      input_.clear();  // RFC 3207 §4.2: nothing sent before TLS counts after it
      session_.tls_started();
    }
    if (session_.closed()) {
      closing_ = true;
      stream_.close_after_sending();
      return;
    }
    if (input_.size() > SubmissionServer::kMaxHeldInput) return stream_.close();
    arm_timer();
  }

  void commit() {
    SubmittedMessage m = session_.take_message();
    storage::Submission s;
    s.message.envelope_sender = std::move(m.sender);
    s.message.raw = std::move(m.message);
    s.message.campaign = std::move(m.campaign);
    s.message.created = unix_now();
    s.message.submitted = true;
    s.recipients.reserve(m.recipients.size());
    for (std::string& r : m.recipients) {
      std::string domain = r.substr(r.rfind('@') + 1);
      s.recipients.push_back(storage::NewRecipient{std::move(r), std::move(domain), {}});
    }
    commit_pending_ = true;
    const std::size_t recipients = s.recipients.size();
    engine::EventLoop* loop = owner_.loop.get();
    owner_.committer->submit(std::move(s), [loop, this, recipients](Result<storage::MessageId> id) {
      loop->post([this, id = std::move(id), recipients] { on_committed(id, recipients); });
    });
  }

  void on_committed(const Result<storage::MessageId>& id, std::size_t recipients) {
    commit_pending_ = false;
    if (closed_) return owner_.forget(this);
    if (id) {
      add(owner_.counts.messages, 1);
      add(owner_.counts.recipients, recipients);
      session_.committed(hex(id.value()));
    } else {
      owner_.emit("commit_failed", client_, id.error().message);
      session_.commit_failed(id.error().message);
    }
    if (owner_.stopping) {
      flush();
      return stop();
    }
    pump();
  }

  void arm_timer() {
    if (timer_ != 0) owner_.loop->cancel_timer(timer_);
    const Millis after =
        session_.in_body() ? owner_.options.data_timeout : owner_.options.command_timeout;
    timer_ = owner_.loop->add_timer(owner_.loop->now() + after, [this] {
      timer_ = 0;
      if (commit_pending_ || closing_) return;
      write("421 4.4.2 Idle too long, closing\r\n");
      closing_ = true;
      stream_.close_after_sending();
    });
  }

  SubmissionServer::Loop& owner_;
  int fd_;
  bool implicit_;
  std::string client_;
  // What the session started with: a reload does not change them under it.
  std::shared_ptr<UserDirectory> users_;
  std::shared_ptr<engine::TlsContext> tls_context_;
  engine::TcpStream stream_;
  SubmissionSession session_;
  std::unique_ptr<engine::TlsChannel> tls_;
  bool handshaking_ = false;
  std::string input_;  // received plaintext not yet consumed by the session
  engine::TimerId timer_ = 0;
  bool commit_pending_ = false;
  bool closing_ = false;
  bool closed_ = false;
};

}  // namespace

void SubmissionServer::Loop::arm(Acceptor& a) {
  if (a.fd < 0 || stopping || a.pending) return;
  a.pending = true;
  loop->accept(a.fd, &a);
}

void SubmissionServer::Loop::on_accept(Acceptor& a, int result) {
  a.pending = false;
  if (result >= 0) {
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    ::getpeername(result, reinterpret_cast<sockaddr*>(&peer), &len);
    if (stopping) {
      ::close(result);
    } else if (connections.size() >= options.max_connections) {
      static constexpr char kBusy[] = "421 4.7.0 Too many connections, try again later\r\n";
      (void)::send(result, kBusy, sizeof kBusy - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
      ::close(result);
      emit("too_many_connections", address_text(peer), std::to_string(connections.size()));
    } else {
      add(counts.connections, 1);
      add(counts.open, 1);
      auto* c = new Connection(*this, result, a.implicit, peer,
                               session_prefix + "." + hex(++next_session));
      connections.insert(c);
      c->start();
    }
  }
  if (stopping) return maybe_finish_stop();
  if (result == -EMFILE || result == -ENFILE || result == -ENOBUFS || result == -ENOMEM) {
    loop->add_timer(loop->now() + 50, [this, &a] { arm(a); });  // out of descriptors: back off
    return;
  }
  if (result == -EINVAL || result == -EBADF || result == -ECANCELED) return;  // listener gone
  arm(a);
}

void SubmissionServer::Loop::forget(Connection* c) {
  connections.erase(c);
  counts.open.store(connections.size(), std::memory_order_relaxed);
  // Not from inside the stream's own callback: freed on the loop's next round.
  loop->post([this, c] {
    delete c;
    maybe_finish_stop();
  });
}

void SubmissionServer::Loop::begin_stop() {
  stopping = true;
  for (Acceptor* a : {&plain, &implicit}) {
    if (a->fd >= 0) ::shutdown(a->fd, SHUT_RDWR);  // the pending accept fails
  }
  std::vector<Connection*> open(connections.begin(), connections.end());
  for (Connection* c : open) c->stop();
  loop->add_timer(loop->now() + SubmissionServer::kStopGrace, [this] { loop->stop(); });
  maybe_finish_stop();
}

void SubmissionServer::Loop::maybe_finish_stop() {
  if (stopping && connections.empty() && !plain.pending && !implicit.pending) loop->stop();
}

Result<std::unique_ptr<SubmissionServer>> SubmissionServer::start(
    SubmissionOptions options, storage::Queue& queue,
    std::function<void(const SubmissionEvent&)> on_event) {
  if (options.listen.empty() && options.tls_listen.empty()) {
    return make_error("submission: give --submission-listen and/or --submission-tls-listen");
  }
  auto loop_state = std::make_unique<Loop>();
  Loop& l = *loop_state;
  auto credentials = load_credentials(options.users_path, options.tls_cert_path,
                                      options.tls_key_path, !options.tls_listen.empty());
  if (!credentials) return credentials.error();
  l.tls = std::move(credentials->tls);
  l.users = std::move(credentials->users);
  auto networks = NetworkList::parse(options.relay_networks);
  if (!networks) return make_error("--relay-networks: " + networks.error().message);
  l.networks = std::move(networks.value());
  if (options.hostname.empty()) {
    char name[256] = {};
    options.hostname =
        ::gethostname(name, sizeof name - 1) == 0 && name[0] != '\0' ? name : "localhost";
  }
  std::unique_ptr<SubmissionServer> server(new SubmissionServer());
  for (auto [text, acceptor, bound] :
       {std::tuple{options.listen, &l.plain, &server->address_},
        std::tuple{options.tls_listen, &l.implicit, &server->tls_address_}}) {
    if (text.empty()) continue;
    auto address = engine::parse_listen(text);
    if (!address) return make_error("submission: " + address.error().message);
    if (auto free = engine::probe_port_free(*address, text); !free) {
      return make_error("submission: " + free.error().message);
    }
    auto fd = engine::open_listener(*address, text);
    if (!fd) return make_error("submission: " + fd.error().message);
    acceptor->fd = *fd;
    auto port = engine::bound_port(*fd);
    if (!port) return port.error();
    const std::string host = address->host;
    *bound = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
             std::to_string(*port);
  }
  l.options = std::move(options);
  l.on_event = std::move(on_event);
  l.session_prefix =
      hex(static_cast<uint64_t>(unix_now())) + hex(static_cast<uint64_t>(::getpid()));
  server->user_count_ = l.users->size();
  server->committer_ = std::make_unique<GroupCommitter>(queue);
  l.committer = server->committer_.get();
  l.suppressions = std::make_unique<QueueSuppressions>(queue);
  server->loop_ = std::move(loop_state);
  // The ring is made on its own thread (io_uring notifies every task that used a ring when it
  // goes, which would interrupt the caller's blocking calls).
  std::promise<std::string> created;
  std::future<std::string> made = created.get_future();
  Loop* loop = server->loop_.get();
  server->thread_ = std::thread([loop, p = std::move(created)]() mutable {
    auto ring = engine::EventLoop::create();
    if (!ring) {
      p.set_value(ring.error().message);
      return;
    }
    loop->loop = std::move(ring.value());
    p.set_value(std::string());
    loop->arm(loop->plain);
    loop->arm(loop->implicit);
    loop->loop->run();
  });
  if (std::string failure = made.get(); !failure.empty()) {
    server->thread_.join();
    return make_error("submission: " + failure);
  }
  return server;
}

SubmissionServer::~SubmissionServer() {
  stop();
}

void SubmissionServer::stop() {
  if (stopped_.exchange(true)) return;
  if (loop_ != nullptr && loop_->loop != nullptr && thread_.joinable()) {
    Loop* loop = loop_.get();
    loop_->loop->post([loop] { loop->begin_stop(); });
  }
  if (thread_.joinable()) thread_.join();
  // The committer's last callbacks post to the (stopped) loop, so it goes first.
  if (committer_ != nullptr) committer_->stop();
  if (loop_ != nullptr) {
    for (Loop::Acceptor* a : {&loop_->plain, &loop_->implicit}) {
      if (a->fd >= 0) ::close(a->fd);
    }
    // Connections still open after the grace period are leaked with their ring rather than
    // freed under the kernel.
    if (!loop_->connections.empty()) (void)loop_->loop.release();
  }
}

Result<void> SubmissionServer::reload(const std::string& users_path, const std::string& cert_path,
                                      const std::string& key_path) {
  if (loop_ == nullptr || loop_->loop == nullptr) return make_error("submission: not running");
  auto credentials = load_credentials(users_path, cert_path, key_path, !tls_address_.empty());
  if (!credentials) return credentials.error();
  user_count_ = credentials->users->size();
  Loop* loop = loop_.get();
  loop_->loop->post([loop, c = std::move(*credentials)]() mutable {
    loop->users = std::move(c.users);
    loop->tls = std::move(c.tls);
  });
  return {};
}

SubmissionCounts SubmissionServer::counts() const {
  SubmissionCounts c;
  if (loop_ == nullptr) return c;
  c.connections = loop_->counts.connections.load(std::memory_order_relaxed);
  c.messages = loop_->counts.messages.load(std::memory_order_relaxed);
  c.recipients = loop_->counts.recipients.load(std::memory_order_relaxed);
  c.auth_failures = loop_->counts.auth_failures.load(std::memory_order_relaxed);
  c.open = loop_->counts.open.load(std::memory_order_relaxed);
  return c;
}

std::string submission_metrics(const SubmissionCounts& c) {
  std::string out;
  auto family = [&out](const char* name, const char* type, const char* help, uint64_t value) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
    out.append(name).append(" ").append(std::to_string(value)).append("\n");
  };
  family("ringmta_submission_connections_total", "counter", "SMTP submission sessions accepted.",
         c.connections);
  family("ringmta_submission_sessions", "gauge", "SMTP submission sessions open now.", c.open);
  family("ringmta_submission_messages_total", "counter",
         "Submitted messages answered 250 (durably queued).", c.messages);
  family("ringmta_submission_recipients_total", "counter",
         "Recipients of the submitted messages answered 250.", c.recipients);
  family("ringmta_submission_auth_failures_total", "counter",
         "Failed SMTP AUTH attempts on the submission listener.", c.auth_failures);
  return out;
}

}  // namespace ringmta::submission
