// The TOML config file read into a ServerConfig (core/config/config_file.h): the example
// file, every key, and each kind of error with its file, line and key.
#include "core/config/config_file.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "core/config/settings.h"
#include "tests/config/config_test_util.h"

namespace ringmq::config {
namespace {

using testing::ExampleConfigPath;
using testing::TempConfigFile;

// The error message of parsing `text` as file "f.toml" (empty when it parses).
std::string ErrorOf(std::string_view text) {
  absl::StatusOr<ServerConfig> c = ParseConfigText(text, "f.toml");
  if (c.ok()) {
    return "";
  }
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(c.status().message());
}

ServerConfig Parsed(std::string_view text) {
  absl::StatusOr<ServerConfig> c = ParseConfigText(text, "f.toml");
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *std::move(c) : ServerConfig{};
}

// Every key of the table set to a value other than its default (and valid).
constexpr std::string_view kEveryKey = R"(threads = 3
io_backend = "epoll"
pin_threads = false
max_connections = 500
recv_buffers = 512
recv_buffer_size = 8192
mailbox_capacity = 1024
max_output_buffer = 65536
debug_defer_ms = 5
http_root = "/srv/www"

[[listener]]
address = "127.0.0.2"
port = 1884

[[listener]]
address = "::1"
port = 0
protocol = "mqtt"

[[listener]]
port = 8080
protocol = "websocket"

[[listener]]
port = 8883
tls = { cert = "own&cert.pem", client_certs = "require" }

[tls]
cert = "/etc/ringmq/server.pem"
key = "/etc/ringmq/server.key"
ca = "/etc/ringmq/ca.pem"
client_certs = "request"
identity_as_username = "cn"
min_version = "1.3"
ciphers = "ECDHE+AESGCM"
ciphersuites = "TLS_AES_128_GCM_SHA256"
ktls = "off"

[limits]
max_keepalive = 120
max_packet_size = 4096
max_inflight = 20
max_queued_messages = 50
max_queued_bytes = 100000
max_queued_bytes_total = 200000
max_sessions = 300
max_session_expiry = 3600
session_expiry_v3 = 60
max_unreleased_qos2_v3 = 30
max_topic_alias = 5
topic_alias_outbound = false
max_topic_alias_bytes = 1000
takeover_publishes_will = true
max_subscriptions_per_session = 40
max_filters_per_subscribe = 10
max_topic_levels = 16
max_retained_messages = 70
max_retained_bytes = 80000
retained_sweep_interval = 30
max_client_id = 64
allow_empty_client_id = false
connect_timeout = 5
sys_interval = 0
decision_timeout_ms = 250
tcp_keepalive_idle = 30
tcp_keepalive_interval = 3
tcp_keepalive_count = 2

[persistence]
mode = "memory"
data_dir = "/var/lib/ringmq"
sync = "full"
store_batch_max = 100
store_max_pending_bytes = 2097152
store_retry_ms = 50
store_full_check = true

[logging]
level = "debug"
format = "json"

[admin]
listen = "127.0.0.1:9100"
)";

TEST(ConfigFileTest, ExampleFileParsesToTheDefaults) {
  const std::string path = ExampleConfigPath();
  ASSERT_FALSE(path.empty()) << "RINGMQ_EXAMPLE_CONFIG is not set";
  absl::StatusOr<ServerConfig> c = ReadConfigFile(path);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->config_path, path);
  // The example writes every default out: the same config as no file at all.
  ServerConfig defaults;
  ServerConfig parsed = *c;
  for (const Setting& s : AllSettings()) {
    EXPECT_EQ(FieldText(s.field(parsed)), FieldText(s.field(defaults))) << s.key;
  }
  EXPECT_TRUE(c->plugins.empty());
}

TEST(ConfigFileTest, EveryKeyIsReadIntoItsField) {
  ServerConfig c = Parsed(kEveryKey);
  ServerConfig defaults;
  for (const Setting& s : AllSettings()) {
    EXPECT_NE(FieldText(s.field(c)), FieldText(s.field(defaults))) << s.key << " was not read";
  }
  EXPECT_EQ(c.listen, (std::vector<std::string>{
                          "127.0.0.2:1884", "[::1]:0", "ws://127.0.0.1:8080",
                          "mqtts://127.0.0.1:8883?cert=own%26cert.pem&client_certs=require"}));
  absl::StatusOr<std::vector<Listener>> listeners = c.Listeners();
  ASSERT_TRUE(listeners.ok()) << listeners.status();
  const Listener& tls = listeners->back();
  EXPECT_TRUE(tls.tls);
  EXPECT_EQ(tls.tls_settings.cert, "own&cert.pem");           // the listener's own
  EXPECT_EQ(tls.tls_settings.key, "/etc/ringmq/server.key");  // from [tls]
  EXPECT_EQ(tls.tls_settings.client_certs, "require");
  EXPECT_EQ(tls.Name(), "mqtts");
  EXPECT_EQ(c.broker.max_inflight, 20u);
  EXPECT_EQ(c.broker.decision_timeout_ms, 250u);
  EXPECT_EQ(c.tcp_keepalive.count, 2u);
  EXPECT_EQ(c.store.persistence, "memory");
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.config_path, "f.toml");
}

TEST(ConfigFileTest, EmptyFileKeepsTheDefaults) {
  ServerConfig c = Parsed("# nothing\n");
  EXPECT_EQ(c.listen, ServerConfig{}.listen);
  EXPECT_EQ(c.broker.max_inflight, 100u);
}

TEST(ConfigFileTest, UnknownKeyAtTopLevel) {
  EXPECT_EQ(ErrorOf("threads = 2\nthreadz = 3\n"), "f.toml:2: threadz: unknown key");
}

TEST(ConfigFileTest, UnknownKeyInATable) {
  EXPECT_EQ(ErrorOf("[limits]\nmax_inflight = 5\n\nmax_inflite = 5\n"),
            "f.toml:4: limits.max_inflite: unknown key");
  EXPECT_EQ(ErrorOf("[logging]\nlevel = \"info\"\nfile = \"x\"\n"),
            "f.toml:3: logging.file: unknown key");
}

TEST(ConfigFileTest, UnknownTable) {
  EXPECT_EQ(ErrorOf("threads = 1\n[limitz]\nmax_inflight = 5\n"),
            "f.toml:2: limitz: unknown table");
  // A setting's key written as a table of its own.
  EXPECT_EQ(ErrorOf("[threads]\n"), "f.toml:1: threads: expected an integer, not a table");
}

TEST(ConfigFileTest, UnknownKeyInAListener) {
  EXPECT_EQ(ErrorOf("[[listener]]\nport = 1\n[[listener]]\nadress = \"::1\"\n"),
            "f.toml:4: listener[1].adress: unknown key (known: address, port, protocol, tls)");
}

TEST(ConfigFileTest, BadListenerTlsTable) {
  EXPECT_EQ(ErrorOf("[[listener]]\nport = 1\ntls = { cart = \"a.pem\" }\n"),
            "f.toml:3: listener[0].tls.cart: unknown TLS setting 'cart' (known: cert, key, ca, "
            "client_certs, identity_as_username, min_version, ciphers, ciphersuites, ktls)");
  EXPECT_EQ(ErrorOf("[[listener]]\nport = 1\ntls = { key = 1 }\n"),
            "f.toml:3: listener[0].tls.key: expected a string, not an integer");
  EXPECT_EQ(ErrorOf("[[listener]]\nport = 1\ntls = \"yes\"\n"),
            "f.toml:3: listener[0].tls: expected a table, not a string");
}

TEST(ConfigFileTest, TlsListenerChecks) {
  ServerConfig c;
  c.listen = {"mqtts://127.0.0.1:8883"};
  EXPECT_THAT(std::string(c.Validate().message()),
              ::testing::HasSubstr("listen 127.0.0.1:8883: a TLS listener needs a certificate"));
  c.tls.cert = "c.pem";
  c.tls.key = "k.pem";
  EXPECT_TRUE(c.Validate().ok()) << c.Validate();
  c.listen = {"mqtts://127.0.0.1:8883?client_certs=require"};
  EXPECT_THAT(std::string(c.Validate().message()), ::testing::HasSubstr("needs a CA file"));
  c.listen = {"mqtts://127.0.0.1:8883?client_certs=require&ca=ca.pem&identity_as_username=dn"};
  EXPECT_THAT(std::string(c.Validate().message()),
              ::testing::HasSubstr("identity_as_username 'dn' is not none, cn, san"));
  c.listen = {"127.0.0.1:1883?cert=a.pem"};
  EXPECT_THAT(std::string(c.Validate().message()),
              ::testing::HasSubstr("settings after '?' are for TLS listeners"));
  c.listen = {"wss://127.0.0.1:8443?cert=a%2"};
  EXPECT_THAT(std::string(c.Validate().message()),
              ::testing::HasSubstr("'%' must be followed by two hex digits"));
  c.listen = {"wss://127.0.0.1:8443?cert=a%26b.pem&min_version=1.3"};
  absl::StatusOr<std::vector<Listener>> l = c.Listeners();
  ASSERT_TRUE(l.ok());
  EXPECT_EQ((*l)[0].protocol, "websocket");
  EXPECT_EQ((*l)[0].tls_settings.cert, "a&b.pem");
  EXPECT_EQ((*l)[0].tls_settings.min_version, "1.3");
  EXPECT_EQ((*l)[0].Name(), "wss");
}

TEST(ConfigFileTest, WrongTypes) {
  EXPECT_EQ(ErrorOf("threads = \"2\"\n"), "f.toml:1: threads: expected an integer, not a string");
  EXPECT_EQ(ErrorOf("[limits]\ntopic_alias_outbound = 1\n"),
            "f.toml:2: limits.topic_alias_outbound: expected a boolean, not an integer");
  EXPECT_EQ(ErrorOf("[logging]\nlevel = 3\n"),
            "f.toml:2: logging.level: expected a string, not an integer");
  EXPECT_EQ(ErrorOf("[limits]\nmax_inflight = 1.5\n"),
            "f.toml:2: limits.max_inflight: expected an integer, not a float");
  EXPECT_EQ(ErrorOf("limits = 3\n"), "f.toml:1: limits: expected a table, not an integer");
  EXPECT_EQ(ErrorOf("listener = \"127.0.0.1:1\"\n"),
            "f.toml:1: listener: expected an array of tables ([[listener]]), not a string");
}

TEST(ConfigFileTest, OutOfRange) {
  EXPECT_EQ(ErrorOf("\n[limits]\nmax_inflight = 70000\n"),
            "f.toml:3: limits.max_inflight: 70000 is outside 1..65535");
  EXPECT_EQ(ErrorOf("threads = -1\n"), "f.toml:1: threads: -1 is outside 0..4294967295");
  EXPECT_EQ(ErrorOf("threads = 4294967296\n"),
            "f.toml:1: threads: 4294967296 is outside 0..4294967295");
  EXPECT_EQ(ErrorOf("threads = 65\n"), "f.toml:1: threads: 65 is outside 0..64");
  EXPECT_EQ(ErrorOf("recv_buffers = 100\n"), "f.toml:1: recv_buffers: 100 is not a power of two");
  EXPECT_EQ(ErrorOf("[[listener]]\nport = 65536\n"),
            "f.toml:2: listener[0].port: 65536 is outside 0..65535");
}

TEST(ConfigFileTest, BadNamedValues) {
  EXPECT_EQ(ErrorOf("[logging]\nlevel = \"loud\"\n"),
            "f.toml:2: logging.level: 'loud' is not debug, info, warning, error or off");
  EXPECT_EQ(ErrorOf("[persistence]\nmode = \"disk\"\n"),
            "f.toml:2: persistence.mode: 'disk' is not sqlite or memory");
  EXPECT_EQ(ErrorOf("[[listener]]\nprotocol = \"mqtts\"\n"),
            "f.toml:2: listener[0].protocol: 'mqtts' is not supported (supported: mqtt, "
            "websocket)");
  EXPECT_NE(
      ErrorOf("[[listener]]\naddress = \"example.com\"\n").find("f.toml:1: listener[0].address"),
      std::string::npos);
  EXPECT_EQ(ErrorOf("listener = []\n"), "f.toml:1: listener: at least one address");
}

TEST(ConfigFileTest, SyntaxErrorNamesTheLine) {
  const std::string e = ErrorOf("threads = 2\n\n[limits\nmax_inflight = 5\n");
  EXPECT_EQ(e.rfind("f.toml:3: syntax error: ", 0), 0u) << e;
  const std::string dup = ErrorOf("threads = 2\nthreads = 3\n");
  EXPECT_EQ(dup.rfind("f.toml:2: syntax error: ", 0), 0u) << dup;
}

TEST(ConfigFileTest, PluginsKeepTheirOrderAndOptions) {
  ServerConfig c = Parsed(R"(
[[plugin]]
name = "zeta"
path = "/opt/zeta.so"
[plugin.options]
users = "/etc/users"
retries = 3
ratio = 0.50
strict = true
alpha = -7

[[plugin]]
name = "alpha"
)");
  ASSERT_EQ(c.plugins.size(), 2u);
  EXPECT_EQ(c.plugins[0].name, "zeta");
  EXPECT_EQ(c.plugins[0].path, "/opt/zeta.so");
  EXPECT_EQ(c.plugins[0].origin, "f.toml:2");
  // Options in file order (not sorted), as text.
  const std::vector<std::pair<std::string, std::string>> options = {{"users", "/etc/users"},
                                                                    {"retries", "3"},
                                                                    {"ratio", "0.50"},
                                                                    {"strict", "true"},
                                                                    {"alpha", "-7"}};
  EXPECT_EQ(c.plugins[0].options, options);
  EXPECT_EQ(c.plugins[1].name, "alpha");
  EXPECT_TRUE(c.plugins[1].path.empty());
  EXPECT_TRUE(c.plugins[1].options.empty());
  EXPECT_EQ(c.plugins[1].origin, "f.toml:12");
}

TEST(ConfigFileTest, PluginOptionArrayOrTableRefused) {
  EXPECT_EQ(ErrorOf("[[plugin]]\nname = \"a\"\n[plugin.options]\nusers = [\"x\", \"y\"]\n"),
            "f.toml:4: plugin[0].options.users: expected a string, integer, float or boolean, "
            "not an array");
  EXPECT_EQ(ErrorOf("[[plugin]]\nname = \"a\"\n[plugin.options.sub]\nk = 1\n"),
            "f.toml:3: plugin[0].options.sub: expected a string, integer, float or boolean, "
            "not a table");
}

TEST(ConfigFileTest, PluginNeedsAName) {
  EXPECT_EQ(ErrorOf("[[plugin]]\npath = \"/x.so\"\n"),
            "f.toml:1: plugin[0].name: required: the plugin's name");
  EXPECT_EQ(ErrorOf("[[plugin]]\nname = \"a\"\nversion = 2\n"),
            "f.toml:3: plugin[0].version: unknown key (known: name, path, options)");
}

TEST(ConfigFileTest, MissingFile) {
  absl::StatusOr<ServerConfig> c = ReadConfigFile("/nonexistent/ringmq.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "/nonexistent/ringmq.toml: cannot be opened: No such file or directory");
}

TEST(ConfigFileTest, ReadsAFile) {
  TempConfigFile f("ringmq.toml", "[limits]\nmax_inflight = 70000\n");
  absl::StatusOr<ServerConfig> c = ReadConfigFile(f.path());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), f.path() + ":2: limits.max_inflight: 70000 is outside 1..65535");
}

}  // namespace
}  // namespace ringmq::config
