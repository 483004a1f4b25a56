#include "core/config/listener.h"

#include <algorithm>
#include <charconv>

#include "absl/strings/str_format.h"

namespace ringmq::config {
namespace {

struct Scheme {
  std::string_view name;
  std::string_view protocol;
  bool tls;
};

constexpr Scheme kSchemes[] = {
    {"", "mqtt", false},        {"mqtt", "mqtt", false}, {"tcp", "mqtt", false},
    {"ws", "websocket", false}, {"mqtts", "mqtt", true}, {"ssl", "mqtt", true},
    {"wss", "websocket", true},
};

bool NeedsEscape(char c) {
  return c == '&' || c == '=' || c == '%' || c == '#' || static_cast<unsigned char>(c) < 0x20;
}

std::string Escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (NeedsEscape(c)) {
      out += absl::StrFormat("%%%02X", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out;
}

absl::StatusOr<std::string> Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    unsigned value = 0;
    const char* hex = s.data() + i + 1;
    const char* end = s.data() + std::min(i + 3, s.size());
    if (end - hex != 2 || std::from_chars(hex, end, value, 16).ptr != end) {
      return absl::InvalidArgumentError(
          absl::StrFormat("'%s': '%%' must be followed by two hex digits", s));
    }
    out += static_cast<char>(value);
    i += 2;
  }
  return out;
}

// key=value&key=value onto *s.
absl::Status ApplyQuery(std::string_view query, tls::TlsSettings* s) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = pair.find('=');
    if (eq == std::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrFormat("'%s' is not key=value", pair));
    }
    absl::StatusOr<std::string> value = Unescape(pair.substr(eq + 1));
    if (!value.ok()) {
      return value.status();
    }
    if (absl::Status st = tls::SetTlsSetting(s, pair.substr(0, eq), *value); !st.ok()) {
      return st;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Listener> ParseListener(const std::string& text, const tls::TlsSettings& defaults) {
  const size_t q = text.find('?');
  const std::string address = text.substr(0, q);
  std::string scheme;
  auto ep = net::ParseEndpoint(address, &scheme);
  if (!ep.ok()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("listen %s: %s", text, std::string(ep.status().message())));
  }
  for (const Scheme& s : kSchemes) {
    if (s.name != scheme) {
      continue;
    }
    Listener l{*ep, std::string(s.protocol), s.tls, defaults};
    if (q != std::string::npos) {
      if (!s.tls) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "listen %s: settings after '?' are for TLS listeners (mqtts://, wss://)", text));
      }
      if (absl::Status st = ApplyQuery(std::string_view(text).substr(q + 1), &l.tls_settings);
          !st.ok()) {
        return absl::InvalidArgumentError(absl::StrFormat("listen %s: %s", text, st.message()));
      }
    }
    return l;
  }
  return absl::InvalidArgumentError(absl::StrFormat(
      "listen %s: no transport for '%s://' (mqtt://, tcp://, ws://, mqtts:// or ssl://, wss://)",
      text, scheme));
}

std::string ListenerAddress(std::string_view host_port, std::string_view protocol, bool tls,
                            const std::vector<std::pair<std::string, std::string>>& overrides) {
  std::string scheme;
  if (protocol == "websocket") {
    scheme = tls ? "wss://" : "ws://";
  } else if (tls) {
    scheme = "mqtts://";
  }
  std::string out = absl::StrFormat("%s%s", scheme, host_port);
  char sep = '?';
  for (const auto& [key, value] : overrides) {
    out += absl::StrFormat("%c%s=%s", sep, Escape(key), Escape(value));
    sep = '&';
  }
  return out;
}

}  // namespace ringmq::config
