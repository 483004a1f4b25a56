#include "plugins/websocket/codec/handshake.h"

#include <openssl/evp.h>

#include <algorithm>
#include <string>
#include <utility>

namespace ringmq::websocket {
namespace {

// RFC 6455 1.3 and 4.2.2 item 5.4.
constexpr std::string_view kAcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
// RFC 6455 4.2.1 item 5: a base64-encoded 16-byte value is 24 characters, the last two "=".
constexpr size_t kKeyBytes = 16;
constexpr size_t kKeyChars = 24;

// Why a handshake is refused; status 0 means it passed the check.
struct Refusal {
  uint16_t status = 0;
  std::string_view detail;
  std::string_view extra_headers;
};

Refusal Refuse(uint16_t status, std::string_view detail, std::string_view extra_headers = {}) {
  return {status, detail, extra_headers};
}

// Checks 1 and 2.
Refusal CheckRequestLine(const HttpRequest& r) {
  if (r.method != "GET") {
    return Refuse(405, "a WebSocket handshake is a GET request", "Allow: GET\r\n");
  }
  if (r.version_major != 1 || r.version_minor < 1) {
    return Refuse(400, "a WebSocket handshake needs HTTP/1.1");
  }
  return {};
}

// Checks 3 to 6.
Refusal CheckUpgradeHeaders(const HttpRequest& r) {
  const std::optional<std::string_view> host = r.Find("host");
  if (!host || host->empty()) {
    return Refuse(400, "no Host header");
  }
  if (!IsUpgradeRequest(r)) {
    return Refuse(400, "no 'Upgrade: websocket' header");
  }
  const std::optional<std::string_view> connection = r.Find("connection");
  if (!connection || !HasToken(*connection, "upgrade")) {
    return Refuse(400, "the Connection header does not list 'upgrade'");
  }
  const std::optional<std::string_view> length = r.Find("content-length");
  if (r.Find("transfer-encoding") || (length && *length != "0")) {
    return Refuse(400, "a WebSocket handshake has no body");
  }
  return {};
}

// RFC 6455 4.2.1 item 5: the key must be base64 for exactly 16 bytes. EVP_DecodeBlock decodes
// 4 characters to 3 bytes and counts the padding as bytes, so 24 characters give 18.
bool IsValidKey(std::string_view key) {
  if (key.size() != kKeyChars || key.find('=') != kKeyChars - 2 || key.back() != '=') {
    return false;
  }
  unsigned char decoded[kKeyChars / 4 * 3];
  const int n = EVP_DecodeBlock(decoded, reinterpret_cast<const unsigned char*>(key.data()),
                                static_cast<int>(key.size()));
  return n == static_cast<int>(kKeyBytes) + 2;
}

// Checks 7 and 8.
Refusal CheckVersionAndKey(const HttpRequest& r) {
  if (r.Find("sec-websocket-version") != std::optional<std::string_view>("13")) {
    return Refuse(426, "only WebSocket version 13 is supported", "Sec-WebSocket-Version: 13\r\n");
  }
  const std::optional<std::string_view> key = r.Find("sec-websocket-key");
  if (!key) {
    return Refuse(400, "no Sec-WebSocket-Key header");
  }
  if (!IsValidKey(*key)) {
    return Refuse(400, "Sec-WebSocket-Key is not 16 bytes in base64");
  }
  return {};
}

// Checks 9 and 10.
Refusal CheckResource(const HttpRequest& r, const UpgradeOptions& options) {
  if (r.path != options.path) {
    return Refuse(404, "no WebSocket endpoint at this path");
  }
  const std::optional<std::string_view> origin = r.Find("origin");
  if (!origin || options.allowed_origins.empty()) {
    return {};
  }
  const bool allowed =
      std::any_of(options.allowed_origins.begin(), options.allowed_origins.end(),
                  [&](const std::string& o) { return EqualsIgnoreCase(o, *origin); });
  return allowed ? Refusal{} : Refuse(403, "Origin not allowed");
}

// Check 11: the client's first protocol that the server supports.
Refusal ChooseSubprotocol(const HttpRequest& r, const UpgradeOptions& options,
                          std::string* chosen) {
  const std::optional<std::string_view> offered = r.Find("sec-websocket-protocol");
  if (!offered) {
    return {};
  }
  const std::vector<std::string_view> list = SplitList(*offered);
  for (std::string_view p : list) {
    if (std::find(options.subprotocols.begin(), options.subprotocols.end(), p) !=
        options.subprotocols.end()) {
      *chosen = p;
      return {};
    }
  }
  if (list.empty()) {
    return {};
  }
  return Refuse(400, "none of the offered subprotocols is supported (MQTT needs 'mqtt')");
}

// RFC 6455 4.2.2 item 5.
std::string SwitchingProtocols(std::string_view accept, std::string_view subprotocol) {
  std::string out;
  out.reserve(160);
  out.append("HTTP/1.1 101 Switching Protocols\r\n");
  out.append("Upgrade: websocket\r\n");
  out.append("Connection: Upgrade\r\n");
  out.append("Sec-WebSocket-Accept: ").append(accept).append("\r\n");
  if (!subprotocol.empty()) {
    out.append("Sec-WebSocket-Protocol: ").append(subprotocol).append("\r\n");
  }
  out.append("\r\n");
  return out;
}

UpgradeResult Refused(const Refusal& r) {
  UpgradeResult result;
  result.status = r.status;
  result.detail = r.detail;
  result.response = ErrorResponse(r.status, r.detail, r.extra_headers);
  return result;
}

}  // namespace

bool IsUpgradeRequest(const HttpRequest& request) {
  const std::optional<std::string_view> upgrade = request.Find("upgrade");
  return upgrade && HasToken(*upgrade, "websocket");
}

UpgradeResult EvaluateUpgrade(const HttpRequest& request, const UpgradeOptions& options) {
  // Each check runs only when the ones before it passed: the first failure decides.
  std::string subprotocol;
  Refusal r = CheckRequestLine(request);
  if (r.status == 0) {
    r = CheckUpgradeHeaders(request);
  }
  if (r.status == 0) {
    r = CheckVersionAndKey(request);
  }
  if (r.status == 0) {
    r = CheckResource(request, options);
  }
  if (r.status == 0) {
    r = ChooseSubprotocol(request, options, &subprotocol);
  }
  if (r.status != 0) {
    return Refused(r);
  }
  const std::optional<std::string> accept = ComputeAcceptKey(*request.Find("sec-websocket-key"));
  if (!accept) {
    return Refused(Refuse(500, "SHA-1 unavailable in libcrypto"));
  }
  UpgradeResult result;
  result.status = 101;
  result.response = SwitchingProtocols(*accept, subprotocol);
  result.subprotocol = std::move(subprotocol);
  return result;
}

std::optional<std::string> ComputeAcceptKey(std::string_view key) {
  std::string input;
  input.reserve(key.size() + kAcceptGuid.size());
  input.append(key).append(kAcceptGuid);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  if (EVP_Digest(input.data(), input.size(), digest, &digest_size, EVP_sha1(), nullptr) != 1) {
    return std::nullopt;
  }
  // EVP_EncodeBlock writes 4 characters per 3 bytes (rounded up) and a NUL.
  unsigned char encoded[(EVP_MAX_MD_SIZE + 2) / 3 * 4 + 1];
  const int n = EVP_EncodeBlock(encoded, digest, static_cast<int>(digest_size));
  return std::string(reinterpret_cast<const char*>(encoded), static_cast<size_t>(n));
}

std::string ErrorResponse(uint16_t status, std::string_view detail,
                          std::string_view extra_headers) {
  const std::string body = std::string(detail) + "\n";
  std::string out;
  out.reserve(160 + extra_headers.size() + body.size());
  out.append("HTTP/1.1 ").append(std::to_string(status)).append(" ");
  out.append(ReasonPhrase(status)).append("\r\n");
  if (status == 426) {
    out.append("Connection: Upgrade, close\r\nUpgrade: websocket\r\n");
  } else {
    out.append("Connection: close\r\n");
  }
  out.append("Content-Type: text/plain; charset=utf-8\r\n");
  out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  out.append(extra_headers);
  out.append("\r\n");
  out.append(body);
  return out;
}

std::string ErrorResponse(const HttpError& error) {
  return ErrorResponse(error.status, error.detail);
}

}  // namespace ringmq::websocket
