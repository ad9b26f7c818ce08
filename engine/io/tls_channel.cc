// TlsChannel implementation on OpenSSL memory BIOs.
#include "engine/io/tls_channel.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

namespace ringmta::engine {
namespace {

std::string openssl_errors() {
  std::string text;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!text.empty()) text += "; ";
    text += buf;
  }
  return text;
}

bool is_ip_literal(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

Result<std::shared_ptr<TlsContext>> TlsContext::client(const TlsPolicy& policy) {
  auto ctx = std::shared_ptr<TlsContext>(new TlsContext());
  ctx->ctx_ = SSL_CTX_new(TLS_client_method());
  if (ctx->ctx_ == nullptr) return make_error("SSL_CTX_new failed: " + openssl_errors());
  SSL_CTX_set_min_proto_version(ctx->ctx_, TLS1_2_VERSION);
  ctx->verify_ = policy.verify;
  if (policy.verify) {
    if (!policy.ca_file.empty()) {
      if (SSL_CTX_load_verify_locations(ctx->ctx_, policy.ca_file.c_str(), nullptr) != 1) {
        return make_error("cannot load CA file " + policy.ca_file + ": " + openssl_errors());
      }
    } else if (SSL_CTX_set_default_verify_paths(ctx->ctx_) != 1) {
      return make_error("cannot load the system CA store: " + openssl_errors());
    }
    SSL_CTX_set_verify(ctx->ctx_, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx->ctx_, SSL_VERIFY_NONE, nullptr);
  }
  return ctx;
}

Result<std::shared_ptr<TlsContext>> TlsContext::server(const std::string& cert_file,
                                                       const std::string& key_file) {
  auto ctx = std::shared_ptr<TlsContext>(new TlsContext());
  ctx->ctx_ = SSL_CTX_new(TLS_server_method());
  if (ctx->ctx_ == nullptr) return make_error("SSL_CTX_new failed: " + openssl_errors());
  SSL_CTX_set_min_proto_version(ctx->ctx_, TLS1_2_VERSION);
  ctx->verify_ = false;
  if (SSL_CTX_use_certificate_chain_file(ctx->ctx_, cert_file.c_str()) != 1) {
    return make_error("cannot load the certificate " + cert_file + ": " + openssl_errors());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx->ctx_, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return make_error("cannot load the key " + key_file + ": " + openssl_errors());
  }
  if (SSL_CTX_check_private_key(ctx->ctx_) != 1) {
    return make_error("the key " + key_file + " does not match " + cert_file);
  }
  return ctx;
}

TlsContext::~TlsContext() {
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
}

Result<std::unique_ptr<TlsChannel>> TlsChannel::client(std::shared_ptr<TlsContext> ctx,
                                                       const std::string& peer) {
  std::unique_ptr<TlsChannel> ch(new TlsChannel());
  ch->ctx_ = std::move(ctx);
  if (auto made = ch->make_ssl(); !made) return made.error();
  SSL_set_connect_state(ch->ssl_);
  if (is_ip_literal(peer)) {
    if (ch->ctx_->verify()) {
      X509_VERIFY_PARAM* param = SSL_get0_param(ch->ssl_);
      if (X509_VERIFY_PARAM_set1_ip_asc(param, peer.c_str()) != 1) {
        return make_error("cannot verify IP address " + peer);
      }
    }
  } else {
    SSL_set_tlsext_host_name(ch->ssl_, peer.c_str());
    if (ch->ctx_->verify() && SSL_set1_host(ch->ssl_, peer.c_str()) != 1) {
      return make_error("cannot set the host name to verify: " + peer);
    }
  }
  return ch;
}

Result<std::unique_ptr<TlsChannel>> TlsChannel::server(std::shared_ptr<TlsContext> ctx) {
  std::unique_ptr<TlsChannel> ch(new TlsChannel());
  ch->ctx_ = std::move(ctx);
  if (auto made = ch->make_ssl(); !made) return made.error();
  SSL_set_accept_state(ch->ssl_);
  return ch;
}

Result<void> TlsChannel::make_ssl() {
  ssl_ = SSL_new(ctx_->get());
  if (ssl_ == nullptr) return make_error("SSL_new failed: " + openssl_errors());
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(in_, -1);  // empty input means "wait for more", not EOF
  SSL_set_bio(ssl_, in_, out_);     // the SSL owns both BIOs from here
  return {};
}

TlsChannel::~TlsChannel() {
  if (ssl_ != nullptr) SSL_free(ssl_);
}

void TlsChannel::feed(std::string_view ciphertext) {
  BIO_write(in_, ciphertext.data(), static_cast<int>(ciphertext.size()));
}

void TlsChannel::record_error(const char* what, int ssl_error) {
  std::string detail = openssl_errors();
  long verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK) {
    error_ =
        std::string("certificate verification failed: ") + X509_verify_cert_error_string(verify);
    return;
  }
  error_ = std::string(what) + " failed (SSL error " + std::to_string(ssl_error) + ")";
  if (!detail.empty()) error_ += ": " + detail;
}

TlsChannel::Status TlsChannel::handshake() {
  int rc = SSL_do_handshake(ssl_);
  if (rc == 1) return Status::kDone;
  int err = SSL_get_error(ssl_, rc);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return Status::kWantMore;
  record_error("TLS handshake", err);
  return Status::kFailed;
}

TlsChannel::Status TlsChannel::receive(std::string_view ciphertext, std::string& plain,
                                       std::string& out) {
  feed(ciphertext);
  if (!established_) {
    const Status status = handshake();
    out += take_ciphertext();
    if (status != Status::kDone) return status;
    established_ = true;
  }
  const bool ok = read(plain);
  out += take_ciphertext();
  return ok ? Status::kDone : Status::kFailed;
}

bool TlsChannel::read(std::string& out) {
  char buf[16384];
  for (;;) {
    int n = SSL_read(ssl_, buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return true;
    if (err == SSL_ERROR_ZERO_RETURN) {
      error_ = "the server closed the TLS session";
      return false;
    }
    record_error("TLS read", err);
    return false;
  }
}

void TlsChannel::write(std::string_view plaintext) {
  while (!plaintext.empty()) {
    int n = SSL_write(ssl_, plaintext.data(), static_cast<int>(plaintext.size()));
    if (n <= 0) {
      record_error("TLS write", SSL_get_error(ssl_, n));
      return;
    }
    plaintext.remove_prefix(static_cast<std::size_t>(n));
  }
}

std::string TlsChannel::take_ciphertext() {
  std::string out;
  char* data = nullptr;
  long n = BIO_get_mem_data(out_, &data);
  if (n > 0) {
    out.assign(data, static_cast<std::size_t>(n));
    (void)BIO_reset(out_);
  }
  return out;
}

bool TlsChannel::has_ciphertext() const {
  return BIO_ctrl_pending(out_) > 0;
}

std::string TlsChannel::description() const {
  return std::string(SSL_get_version(ssl_)) + " " + SSL_get_cipher_name(ssl_);
}

}  // namespace ringmta::engine
