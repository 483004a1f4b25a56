// TestPki: certificates for tests and fuzz targets, made in memory with OpenSSL and written
// as PEM files into a temporary folder (removed with the object): a CA, a server certificate
// for localhost/127.0.0.1, and more certificates on request (client ones, expired ones, from
// another CA). EC P-256. Not for production use.
#pragma once

#include <memory>
#include <string>

typedef struct evp_pkey_st EVP_PKEY;
typedef struct x509_st X509;

namespace ringmq::tls::testing {

struct KeyCert {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  ~KeyCert();
};

// A key and a certificate for `cn`, signed by `issuer` (self-signed when null); `san` in
// OpenSSL's config syntax ("DNS:localhost,IP:127.0.0.1", "email:a@b"); valid_s <= 0: expired
// that long ago.
std::unique_ptr<KeyCert> MakeCert(const char* cn, const KeyCert* issuer, bool ca,
                                  const char* san = nullptr, long valid_s = 3600);

class TestPki {
 public:
  TestPki();
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  // Writes `kc`'s certificate (or key) as PEM to DIR/name; returns the path.
  std::string Write(const std::string& name, const KeyCert& kc, bool key) const;

  const KeyCert& ca() const { return *ca_; }
  const std::string& ca_path() const { return ca_path_; }
  const std::string& server_cert() const { return server_cert_; }
  const std::string& server_key() const { return server_key_; }

 private:
  std::string dir_;
  std::unique_ptr<KeyCert> ca_, server_;
  std::string ca_path_, server_cert_, server_key_;
};

}  // namespace ringmq::tls::testing
