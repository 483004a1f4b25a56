#include "core/tls/tls_settings.h"

#include <initializer_list>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#include "core/base/strings.h"

namespace ringmq::tls {
namespace {

struct Field {
  std::string_view key;
  std::string TlsSettings::*member;
};

constexpr Field kFields[] = {
    {"cert", &TlsSettings::cert},
    {"key", &TlsSettings::key},
    {"ca", &TlsSettings::ca},
    {"client_certs", &TlsSettings::client_certs},
    {"identity_as_username", &TlsSettings::identity_as_username},
    {"min_version", &TlsSettings::min_version},
    {"ciphers", &TlsSettings::ciphers},
    {"ciphersuites", &TlsSettings::ciphersuites},
    {"ktls", &TlsSettings::ktls},
};

absl::Status OneOf(std::string_view where, std::string_view key, const std::string& value,
                   std::initializer_list<std::string_view> allowed) {
  for (std::string_view a : allowed) {
    if (value == a) {
      return absl::OkStatus();
    }
  }
  std::string options;
  for (std::string_view a : allowed) {
    absl::StrAppend(&options, options.empty() ? "" : ", ", base::ToAbsl(a));
  }
  return absl::InvalidArgumentError(
      absl::StrFormat("%s: %s '%s' is not %s", where, key, value, options));
}

}  // namespace

absl::Status SetTlsSetting(TlsSettings* s, std::string_view key, std::string_view value) {
  for (const Field& f : kFields) {
    if (f.key == key) {
      s->*f.member = std::string(value);
      return absl::OkStatus();
    }
  }
  std::string known;
  for (const Field& f : kFields) {
    absl::StrAppend(&known, known.empty() ? "" : ", ", base::ToAbsl(f.key));
  }
  return absl::InvalidArgumentError(
      absl::StrFormat("unknown TLS setting '%s' (known: %s)", key, known));
}

absl::Status CheckTlsSettings(const TlsSettings& s, std::string_view where) {
  if (s.cert.empty() || s.key.empty()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: a TLS listener needs a certificate and its key (tls.cert and tls.key, "
                        "--tls-cert and --tls-key, or cert= and key= on the listener)",
                        where));
  }
  const absl::Status checks[] = {
      OneOf(where, "client_certs", s.client_certs, {"none", "request", "require"}),
      OneOf(where, "identity_as_username", s.identity_as_username, {"none", "cn", "san"}),
      OneOf(where, "min_version", s.min_version, {"1.2", "1.3"}),
      OneOf(where, "ktls", s.ktls, {"auto", "off"}),
  };
  for (const absl::Status& c : checks) {
    if (!c.ok()) {
      return c;
    }
  }
  if (s.client_certs != "none" && s.ca.empty()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: client_certs '%s' needs a CA file to verify them against (ca)", where,
                        s.client_certs));
  }
  if (s.identity_as_username != "none" && s.client_certs != "require") {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: identity_as_username '%s' needs client_certs = \"require\" (every client then has "
        "an identity)",
        where, s.identity_as_username));
  }
  return absl::OkStatus();
}

}  // namespace ringmq::tls
