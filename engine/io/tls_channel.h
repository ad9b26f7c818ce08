// TlsChannel: TLS over OpenSSL memory BIOs, so the io_uring loop moves ciphertext and the SMTP
// client (or the sink's server session) sees plaintext. TlsContext holds the verification policy
// of one route, or the sink's certificate.
//
// The channel never touches a socket: feed() takes ciphertext read from the socket,
// take_ciphertext() returns what must be written. It may not: decide policy per message, or
// block.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>

#include "util/result.h"

namespace ringmta::engine {

struct TlsPolicy {
  bool verify = true;   // check the certificate chain and the peer's name or IP
  std::string ca_file;  // "" = the system's CA store
};

class TlsContext {
 public:
  static Result<std::shared_ptr<TlsContext>> client(const TlsPolicy& policy);
  // A server's context (`ringmta sink --tls-cert/--tls-key`): PEM certificate chain and key.
  static Result<std::shared_ptr<TlsContext>> server(const std::string& cert_file,
                                                    const std::string& key_file);
  ~TlsContext();
  SSL_CTX* get() const { return ctx_; }
  bool verify() const { return verify_; }

 private:
  SSL_CTX* ctx_ = nullptr;
  bool verify_ = true;
};

class TlsChannel {
 public:
  // peer is the smart host's name or IP literal: a name is sent as SNI and checked against the
  // certificate; an IP literal is checked against the certificate's IP addresses (no SNI).
  static Result<std::unique_ptr<TlsChannel>> client(std::shared_ptr<TlsContext> ctx,
                                                    const std::string& peer);
  // The server end of a session (after STARTTLS), with a context from TlsContext::server.
  static Result<std::unique_ptr<TlsChannel>> server(std::shared_ptr<TlsContext> ctx);
  ~TlsChannel();

  enum class Status { kWantMore, kDone, kFailed };
  void feed(std::string_view ciphertext);
  Status handshake();  // call after feed() until kDone / kFailed
  // Decrypts what is available into out. false: the peer closed TLS or the stream is broken.
  bool read(std::string& out);
  // A server's whole receive step: feeds ciphertext, drives the handshake while it is under way,
  // then decrypts into plain (appended). The ciphertext to send back (handshake, alerts, session
  // tickets) is appended to out. kWantMore: the handshake needs more input; kDone: established,
  // plain holds what arrived; kFailed: TLS failed or the peer ended it (plain keeps its last data).
  Status receive(std::string_view ciphertext, std::string& plain, std::string& out);
  void write(std::string_view plaintext);
  std::string take_ciphertext();
  bool has_ciphertext() const;
  const std::string& error() const { return error_; }
  std::string description() const;  // "TLSv1.3 TLS_AES_256_GCM_SHA384"

 private:
  TlsChannel() = default;
  // SSL object and memory BIOs on ctx_.
  Result<void> make_ssl();
  void record_error(const char* what, int ssl_error);
  std::shared_ptr<TlsContext> ctx_;
  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;   // ciphertext from the network, read by OpenSSL
  BIO* out_ = nullptr;  // ciphertext written by OpenSSL, to the network
  std::string error_;
  bool established_ = false;  // receive(): the handshake is done
};

}  // namespace ringmta::engine
