#include "core/tls/tls_transport.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "core/base/log.h"

namespace ringmq::tls {
namespace {

constexpr size_t kRecordBytes = 16384;    // the TLS maximum record payload
constexpr uint8_t kHandshakeRecord = 22;  // what a client's first byte is (ClientHello)
constexpr size_t kKeptBioBytes = 4096;    // a memory BIO larger than this is replaced when empty

// The first of `nid` in the subject, as UTF-8; empty when there is none.
std::string SubjectField(X509* cert, int nid) {
  X509_NAME* subject = X509_get_subject_name(cert);
  const int at = X509_NAME_get_index_by_NID(subject, nid, -1);
  if (at < 0) {
    return {};
  }
  unsigned char* utf8 = nullptr;
  const int n =
      ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at)));
  std::string out;
  if (n > 0) {
    out.assign(reinterpret_cast<const char*>(utf8), static_cast<size_t>(n));
  }
  OPENSSL_free(utf8);
  return out;
}

// The first DNS name, email or URI among the subject alternative names.
std::string FirstAltName(X509* cert) {
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) {
    return {};
  }
  std::string out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names) && out.empty(); ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
    if (g->type == GEN_DNS || g->type == GEN_EMAIL || g->type == GEN_URI) {
      const ASN1_IA5STRING* s = g->d.ia5;
      out.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                 static_cast<size_t>(ASN1_STRING_length(s)));
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

BIO* NewMemoryBio() {
  BIO* b = BIO_new(BIO_s_mem());
  if (b != nullptr) {
    BIO_set_mem_eof_return(b, -1);  // running dry means "retry", not end of file
  }
  return b;
}

// A user name from a certificate: no control bytes (a NUL would cut it short for C code).
bool PrintableIdentity(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

}  // namespace

TlsTransport::TlsTransport(SSL* ssl, TlsContext* context, std::string peer)
    : ssl_(ssl),
      in_(NewMemoryBio()),
      out_(NewMemoryBio()),
      context_(context),
      peer_(std::move(peer)) {
  SSL_set_bio(ssl_, in_, out_);
}

TlsTransport::~TlsTransport() {
  if (!established_ && !failed_) {
    TlsCounters::Add(context_->counters().handshakes_unfinished);
  }
  SSL_free(ssl_);  // and both BIOs
}

net::Transport::Status TlsTransport::Start(net::OutputQueue* wire) {
  return Handshake(wire);
}

net::Transport::Status TlsTransport::OnInbound(std::span<const uint8_t> in, std::string* app,
                                               net::OutputQueue* wire) {
  if (failed_) {
    return Status::kClose;
  }
  if (!started_ && !in.empty()) {
    started_ = true;
    if (in[0] != kHandshakeRecord) {  // OpenSSL would wait for a whole "record" first
      return Refuse(in[0] == 0x10 ? "not TLS: plain MQTT (a CONNECT) on a TLS listener"
                                  : "not TLS: the first byte is not a handshake record");
    }
  }
  if (!in.empty() &&
      BIO_write(in_, in.data(), static_cast<int>(in.size())) != static_cast<int>(in.size())) {
    error_ = "out of memory";
    failed_ = true;
    return Status::kClose;
  }
  if (!established_) {
    const Status st = Handshake(wire);
    if (st != Status::kOk || !established_) {
      return st;
    }
  }
  return ReadRecords(app, wire);
}

net::Transport::Status TlsTransport::Handshake(net::OutputQueue* wire) {
  ERR_clear_error();
  const int ret = SSL_do_handshake(ssl_);
  if (ret != 1) {
    const int err = SSL_get_error(ssl_, ret);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      Drain(wire);
      return Status::kOk;
    }
    return Fail(ret, wire);
  }
  if (!TakeIdentity()) {
    return Refuse("the client certificate has no " + context_->settings().identity_as_username +
                  " to use as the user name (or it holds control characters)");
  }
  established_ = true;
  TlsCounters::Add(context_->counters().handshakes);
  Drain(wire);  // the server's Finished and TLS 1.3 session tickets
  return Status::kOk;
}

bool TlsTransport::TakeIdentity() {
  const std::string& mode = context_->settings().identity_as_username;
  if (mode == "none") {
    return true;
  }
  X509* cert = SSL_get0_peer_certificate(ssl_);
  if (cert == nullptr) {
    return false;
  }
  identity_ = mode == "cn" ? SubjectField(cert, NID_commonName) : FirstAltName(cert);
  return !identity_.empty() && PrintableIdentity(identity_);
}

std::string TlsTransport::PeerCommonName() const {
  X509* cert = SSL_get0_peer_certificate(ssl_);
  return cert != nullptr ? SubjectField(cert, NID_commonName) : std::string();
}

net::Transport::Status TlsTransport::ReadRecords(std::string* app, net::OutputQueue* wire) {
  // One record at a time into the thread's scratch, then appended: no per-connection
  // buffer, no zero-filling.
  thread_local std::array<char, kRecordBytes> scratch;
  for (;;) {
    size_t got = 0;
    ERR_clear_error();
    const int ret = SSL_read_ex(ssl_, scratch.data(), scratch.size(), &got);
    if (ret == 1) {
      app->append(scratch.data(), got);
      continue;
    }
    const int err = SSL_get_error(ssl_, ret);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      Drain(wire);  // e.g. a KeyUpdate answer
      ShrinkBuffers();
      return Status::kOk;
    }
    if (err == SSL_ERROR_ZERO_RETURN) {  // the peer's close_notify: answer it, then close
      SSL_shutdown(ssl_);
      Drain(wire);
      failed_ = true;  // ended: nothing more is read or written
      return Status::kCloseAfterSend;
    }
    return Fail(ret, wire);
  }
}

void TlsTransport::LogRefusal() const {
  // One line per refused handshake, at most 20 a second (a scan or a flood of plain clients
  // must not flood the log; the suppressed lines are counted in the next one).
  RINGMQ_LOG_EVERY_S(kInfo, 0.05, "%s: %s: tls handshake refused: %s", context_->name(), peer_,
                     error_);
}

net::Transport::Status TlsTransport::Refuse(std::string why) {
  error_ = std::move(why);
  failed_ = true;
  TlsCounters::Add(context_->counters().handshake_failures);
  LogRefusal();
  return Status::kClose;
}

net::Transport::Status TlsTransport::Fail(int ret, net::OutputQueue* wire) {
  const int err = SSL_get_error(ssl_, ret);
  error_ = err == SSL_ERROR_SSL ? TakeOpenSslErrors() : "TLS error " + std::to_string(err);
  if (const long v = SSL_get_verify_result(ssl_); v != X509_V_OK) {
    error_ += std::string(" (") + X509_verify_cert_error_string(v) + ")";
  }
  if (!established_) {
    TlsCounters::Add(context_->counters().handshake_failures);
    LogRefusal();
  } else {
    RINGMQ_LOG(kDebug, "%s: %s: tls connection failed: %s", context_->name(), peer_, error_);
  }
  failed_ = true;
  const bool alert = BIO_ctrl_pending(out_) > 0;
  Drain(wire);  // OpenSSL's alert, if it made one
  return alert ? Status::kCloseAfterSend : Status::kClose;
}

net::Transport::Status TlsTransport::OnOutbound(net::OutputQueue* app, net::OutputQueue* wire) {
  if (failed_ || !established_) {
    app->Clear();  // the broker writes only after CONNECT, which comes after the handshake
    return failed_ ? Status::kClose : Status::kOk;
  }
  constexpr int kMaxParts = 64;
  std::array<iovec, kMaxParts> iov;
  std::array<uint8_t, kRecordBytes> record;
  while (!app->empty()) {
    size_t total = 0;
    const int n = app->Gather(iov.data(), kMaxParts, kRecordBytes, &total);
    const void* data = iov[0].iov_base;
    if (n > 1) {  // small packets share one record
      size_t at = 0;
      for (int i = 0; i < n; ++i) {
        std::memcpy(record.data() + at, iov[i].iov_base, iov[i].iov_len);
        at += iov[i].iov_len;
      }
      data = record.data();
    }
    size_t written = 0;
    ERR_clear_error();
    if (SSL_write_ex(ssl_, data, total, &written) != 1) {
      app->Clear();
      return Fail(0, wire);
    }
    app->Consume(total);
    Drain(wire);  // record by record: the write BIO never holds more than one
  }
  ShrinkBuffers();
  return Status::kOk;
}

void TlsTransport::OnClosing(net::OutputQueue* wire) {
  if (established_ && !failed_) {
    SSL_shutdown(ssl_);  // close_notify
    Drain(wire);
  }
}

size_t TlsTransport::BufferCapacity() const {
  size_t sum = 0;
  for (BIO* b : {in_, out_}) {
    BUF_MEM* mem = nullptr;
    if (BIO_get_mem_ptr(b, &mem) == 1 && mem != nullptr) {
      sum += mem->max;
    }
  }
  return sum;
}

void TlsTransport::ShrinkBuffers() {
  // A memory BIO keeps the largest size it ever grew to. Once one is empty and larger than
  // kKeptBioBytes (a client sent a large message, or a large flush), it is replaced, so an idle
  // connection holds a few KiB, not its largest message.
  BUF_MEM* mem = nullptr;
  if (BIO_ctrl_pending(in_) == 0 && BIO_get_mem_ptr(in_, &mem) == 1 && mem != nullptr &&
      mem->max > kKeptBioBytes) {
    BIO* fresh = NewMemoryBio();
    if (fresh != nullptr) {
      SSL_set0_rbio(ssl_, fresh);  // frees the old one
      in_ = fresh;
    }
  }
  mem = nullptr;
  if (BIO_ctrl_pending(out_) == 0 && BIO_get_mem_ptr(out_, &mem) == 1 && mem != nullptr &&
      mem->max > kKeptBioBytes) {
    BIO* fresh = NewMemoryBio();
    if (fresh != nullptr) {
      SSL_set0_wbio(ssl_, fresh);
      out_ = fresh;
    }
  }
}

void TlsTransport::Drain(net::OutputQueue* wire) {
  const size_t pending = BIO_ctrl_pending(out_);
  if (pending == 0) {
    return;
  }
  uint8_t* to = wire->AppendUninitialized(pending);
  BIO_read(out_, to, static_cast<int>(pending));
}

}  // namespace ringmq::tls
