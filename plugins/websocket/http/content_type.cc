#include "plugins/websocket/http/content_type.h"

#include <array>
#include <utility>

namespace ringmq::websocket::http {
namespace {

constexpr std::string_view kOctetStream = "application/octet-stream";

// Scanned in order: 22 short entries, one lookup per response.
constexpr std::array<std::pair<std::string_view, std::string_view>, 22> kTypes = {{
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"txt", "text/plain; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"webmanifest", "application/manifest+json"},
    {"xml", "application/xml"},
    {"wasm", "application/wasm"},
    {"pdf", "application/pdf"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"ico", "image/vnd.microsoft.icon"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},
}};

char Lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace

std::string_view ContentTypeFor(std::string_view file_name) {
  const size_t slash = file_name.rfind('/');
  if (slash != std::string_view::npos) {
    file_name.remove_prefix(slash + 1);
  }
  const size_t dot = file_name.rfind('.');
  if (dot == std::string_view::npos) {
    return kOctetStream;
  }
  const std::string_view extension = file_name.substr(dot + 1);
  char lower[16];
  if (extension.size() > sizeof(lower)) {
    return kOctetStream;
  }
  for (size_t i = 0; i < extension.size(); ++i) {
    lower[i] = Lower(extension[i]);
  }
  const std::string_view key(lower, extension.size());
  for (const auto& [name, type] : kTypes) {
    if (name == key) {
      return type;
    }
  }
  return kOctetStream;
}

bool IsHtml(std::string_view content_type) {
  return content_type.substr(0, 9) == "text/html";
}

}  // namespace ringmq::websocket::http
