#include "plugins/websocket/settings.h"

#include "plugins/common/plugin_options.h"

namespace ringmq::websocket {
namespace {

bool ParseProtocolOptions(plugins::PluginOptions& o, Settings* s, std::string* error) {
  uint64_t head = s->http.head_bytes_max;
  uint64_t headers = s->http.header_count_max;
  uint64_t frame = s->frames.frame_payload_bytes_max;
  uint64_t message = s->frames.message_bytes_max;
  if (!o.String("path", &s->upgrade.path, error) ||
      !o.List("allowed_origins", &s->upgrade.allowed_origins, error) ||
      !o.Uint("max_head_bytes", 1024, 1 << 20, &head, error) ||
      !o.Uint("max_headers", 8, 10000, &headers, error) ||
      !o.Uint("max_frame_bytes", 125, uint64_t{1} << 30, &frame, error) ||
      !o.Uint("max_message_bytes", 125, uint64_t{1} << 32, &message, error)) {
    return false;
  }
  if (s->upgrade.path.empty() || s->upgrade.path.front() != '/') {
    *error = "option 'path': a path starting with '/', got '" + s->upgrade.path + "'";
    return false;
  }
  s->http.head_bytes_max = head;
  s->http.header_count_max = headers;
  s->frames.frame_payload_bytes_max = frame;
  s->frames.message_bytes_max = message;
  return true;
}

bool ParseFileOptions(plugins::PluginOptions& o, Settings* s, std::string* error) {
  http::StaticFilesOptions f;
  uint64_t max_bytes = f.file_max_bytes;
  uint64_t max_age = f.cache_max_age_s;
  if (!o.String("http_root", &f.http_root, error) ||
      !o.String("index_file", &f.index_file, error) ||
      !o.Bool("directory_index", &f.directory_index, error) ||
      !o.Uint("file_max_bytes", 1, http::kFileMaxBytesLimit, &max_bytes, error) ||
      !o.Uint("cache_max_age_s", 0, http::kCacheMaxAgeLimitS, &max_age, error)) {
    return false;
  }
  if (f.http_root.empty()) {
    return true;  // no static files: plain HTTP requests get 404
  }
  f.file_max_bytes = max_bytes;
  f.cache_max_age_s = static_cast<uint32_t>(max_age);
  s->files = http::StaticFiles::Create(std::move(f), error);
  return s->files != nullptr;
}

}  // namespace

std::shared_ptr<const Settings> ParseSettings(const ringmq_plugin_config& config,
                                              std::string* error) {
  plugins::PluginOptions o(config);
  auto s = std::make_shared<Settings>();
  if (!ParseProtocolOptions(o, s.get(), error) || !ParseFileOptions(o, s.get(), error) ||
      !o.NoUnknown(kOptionNames, error)) {
    return nullptr;
  }
  return s;
}

}  // namespace ringmq::websocket
