#include "core/tls/testing/test_pki.h"

#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>

namespace ringmq::tls::testing {
namespace {

void AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext != nullptr) {
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
}

}  // namespace

KeyCert::~KeyCert() {
  X509_free(cert);
  EVP_PKEY_free(key);
}

std::unique_ptr<KeyCert> MakeCert(const char* cn, const KeyCert* issuer, bool ca, const char* san,
                                  long valid_s) {
  static long serial = 1;
  auto kc = std::make_unique<KeyCert>();
  kc->key = EVP_EC_gen("P-256");
  kc->cert = X509_new();
  X509* x = kc->cert;
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), valid_s > 0 ? -60 : valid_s - 3600);
  X509_gmtime_adj(X509_getm_notAfter(x), valid_s);
  X509_set_pubkey(x, kc->key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
  X509* issuer_cert = issuer != nullptr ? issuer->cert : x;
  X509_set_issuer_name(x, X509_get_subject_name(issuer_cert));
  AddExtension(x, issuer_cert, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
  if (san != nullptr) {
    AddExtension(x, issuer_cert, NID_subject_alt_name, san);
  }
  X509_sign(x, issuer != nullptr ? issuer->key : kc->key, EVP_sha256());
  return kc;
}

TestPki::TestPki() {
  char tmpl[] = "/tmp/ringmq-tls-XXXXXX";
  dir_ = mkdtemp(tmpl);
  ca_ = MakeCert("ringmq test CA", nullptr, true);
  server_ = MakeCert("localhost", ca_.get(), false, "DNS:localhost,IP:127.0.0.1");
  ca_path_ = Write("ca.pem", *ca_, false);
  server_cert_ = Write("server.pem", *server_, false);
  server_key_ = Write("server.key", *server_, true);
}

TestPki::~TestPki() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string TestPki::Write(const std::string& name, const KeyCert& kc, bool key) const {
  const std::string path = dir_ + "/" + name;
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) {
    return path;
  }
  if (key) {
    PEM_write_PrivateKey(f, kc.key, nullptr, nullptr, 0, nullptr, nullptr);
  } else {
    PEM_write_X509(f, kc.cert);
  }
  std::fclose(f);
  return path;
}

}  // namespace ringmq::tls::testing
