// ringmq-passwd: manages the password file of the auth_file plugin.
//
//   ringmq-passwd [--stdin] [--opslimit N] [--memlimit BYTES] FILE add|change|delete|check USER
//   ringmq-passwd FILE list
//
// Passwords are read from the terminal without echo, twice (add, change), or as one line from
// standard input with --stdin. The file is created with mode 0600 when missing; every change
// rewrites it whole through a temporary file in the same folder and a rename, keeping every
// other line (comments, blank lines, other users) byte for byte, and its mode and owner.
// Exit status: 0 done; 1 refused or failed (the message says why); 2 usage error.
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "password_file.h"
#include "text_file.h"
#include "verifier_pool.h"

namespace ringmq::auth_file {
namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr size_t kPasswordMax = 65535;  // MQTT's limit for the Password field

constexpr char kUsage[] =
    "usage: ringmq-passwd [OPTIONS] FILE COMMAND [USER]\n"
    "commands:\n"
    "  add USER       add USER (refused if present); creates FILE (mode 0600) when missing\n"
    "  change USER    set a new password for USER\n"
    "  delete USER    remove USER\n"
    "  list           print the user names, one per line\n"
    "  check USER     read a password; exit 0 if it is USER's, 1 if not (and print the time\n"
    "                 the check took: what one check costs the broker's verifier threads)\n"
    "options:\n"
    "  --stdin        read the password as one line from standard input (no prompt, once)\n"
    "  --opslimit N   argon2id passes (default 2, libsodium's INTERACTIVE)\n"
    "  --memlimit N   argon2id memory in bytes, or with a K, M or G suffix (default 64M)\n"
    "exit status: 0 done, 1 refused or failed, 2 usage error\n";

int Fail(const std::string& message) {
  std::fprintf(stderr, "ringmq-passwd: %s\n", message.c_str());
  return kExitFailed;
}

int Usage(const std::string& message) {
  std::fprintf(stderr, "ringmq-passwd: %s\n%s", message.c_str(), kUsage);
  return kExitUsage;
}

struct Args {
  bool from_stdin = false;
  unsigned long long opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
  size_t memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
  std::string file;
  std::string command;
  std::string user;
};

// "123", "64K", "64M", "1G" (powers of 1024).
bool ParseSize(std::string_view text, unsigned long long* out) {
  unsigned long long scale = 1;
  if (!text.empty()) {
    const char suffix = text.back();
    scale = suffix == 'K'   ? 1ull << 10
            : suffix == 'M' ? 1ull << 20
            : suffix == 'G' ? 1ull << 30
                            : 1;
    if (scale != 1) {
      text.remove_suffix(1);
    }
  }
  unsigned long long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
      value > ~0ull / scale) {
    return false;
  }
  *out = value * scale;
  return true;
}

// Returns 0 when the arguments are good, else the exit status (the message is printed).
int ParseArgs(int argc, char** argv, Args* args) {
  std::vector<std::string> positional;
  bool options_done = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (options_done || !a.starts_with("--")) {
      positional.emplace_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
    } else if (a == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (a == "--stdin") {
      args->from_stdin = true;
    } else if (a == "--opslimit" || a == "--memlimit") {
      unsigned long long value = 0;
      if (i + 1 >= argc || !ParseSize(argv[i + 1], &value)) {
        return Usage(std::string(a) + " needs a number");
      }
      ++i;
      if (a == "--opslimit") {
        if (value < crypto_pwhash_OPSLIMIT_MIN || value > crypto_pwhash_OPSLIMIT_MAX) {
          return Usage("--opslimit must be from " + std::to_string(crypto_pwhash_OPSLIMIT_MIN) +
                       " to " + std::to_string(crypto_pwhash_OPSLIMIT_MAX));
        }
        args->opslimit = value;
      } else {
        if (value < crypto_pwhash_MEMLIMIT_MIN || value > crypto_pwhash_MEMLIMIT_MAX) {
          return Usage("--memlimit must be from " + std::to_string(crypto_pwhash_MEMLIMIT_MIN) +
                       " to " + std::to_string(crypto_pwhash_MEMLIMIT_MAX) + " bytes");
        }
        args->memlimit = static_cast<size_t>(value);
      }
    } else {
      return Usage("unknown option " + std::string(a));
    }
  }
  if (positional.size() < 2) {
    return Usage("expected FILE and COMMAND");
  }
  args->file = positional[0];
  args->command = positional[1];
  const bool needs_user = args->command != "list";
  if (args->command != "add" && args->command != "change" && args->command != "delete" &&
      args->command != "check" && args->command != "list") {
    return Usage("unknown command '" + args->command + "'");
  }
  if (positional.size() != (needs_user ? 3u : 2u)) {
    return Usage(needs_user ? args->command + " needs exactly one USER" : "list takes no USER");
  }
  if (needs_user) {
    args->user = positional[2];
  }
  return 0;
}

// ---- reading a password ---------------------------------------------------------------------

// The terminal's settings while echo is off, restored by a signal that ends the program.
int g_tty_fd = -1;
struct termios g_tty_saved;

void RestoreTerminalAndExit(int sig) {
  tcsetattr(g_tty_fd, TCSAFLUSH, &g_tty_saved);
  constexpr char kNewline = '\n';
  (void)!write(g_tty_fd, &kNewline, 1);
  _exit(128 + sig);
}

// One line from `fd` without its "\n" (and "\r"); false on EOF before any byte or on error.
bool ReadLine(int fd, std::string* line) {
  line->clear();
  char c = 0;
  bool any = false;
  while (true) {
    const ssize_t n = read(fd, &c, 1);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    any = true;
    if (c == '\n') {
      break;
    }
    if (line->size() > kPasswordMax) {
      continue;  // keeps reading to the end of the line; refused below
    }
    line->push_back(c);
  }
  if (!line->empty() && line->back() == '\r') {
    line->pop_back();
  }
  return any;
}

bool PromptNoEcho(int fd, const char* prompt, std::string* line) {
  (void)!write(fd, prompt, std::strlen(prompt));
  const bool ok = ReadLine(fd, line);
  (void)!write(fd, "\n", 1);
  return ok;
}

// Reads the password into *password (SecretCopy storage). `twice`: ask again and compare.
int ReadPassword(const Args& args, bool twice, std::string* password) {
  *password = SecretCopy({});
  password->reserve(kPasswordMax + 2);
  if (args.from_stdin) {
    if (!ReadLine(STDIN_FILENO, password)) {
      return Fail("no password on standard input");
    }
  } else {
    g_tty_fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (g_tty_fd < 0 || tcgetattr(g_tty_fd, &g_tty_saved) != 0) {
      return Fail("no terminal to read the password from (use --stdin)");
    }
    struct termios quiet = g_tty_saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    signal(SIGINT, &RestoreTerminalAndExit);
    signal(SIGTERM, &RestoreTerminalAndExit);
    signal(SIGHUP, &RestoreTerminalAndExit);
    tcsetattr(g_tty_fd, TCSAFLUSH, &quiet);
    std::string again = SecretCopy({});
    again.reserve(kPasswordMax + 2);
    bool ok = PromptNoEcho(g_tty_fd, "Password: ", password);
    if (ok && twice) {
      ok = PromptNoEcho(g_tty_fd, "Password again: ", &again);
    }
    tcsetattr(g_tty_fd, TCSAFLUSH, &g_tty_saved);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    close(g_tty_fd);
    const bool same = !twice || again == *password;
    WipeString(&again);
    if (!ok) {
      return Fail("no password read from the terminal");
    }
    if (!same) {
      WipeString(password);
      return Fail("the passwords do not match");
    }
  }
  if (password->empty()) {
    return Fail("empty password");
  }
  if (password->size() > kPasswordMax) {
    WipeString(password);
    return Fail("password longer than 65535 bytes");
  }
  return 0;
}

// ---- the file ---------------------------------------------------------------------------------

// Writes `text` to `path` atomically: a temporary file in the same folder, fsync, rename, and
// fsync of the folder. The new file gets `mode`, and the old file's owner when we may.
int WriteAtomically(const std::string& path, const std::string& text, mode_t mode,
                    const struct stat* old) {
  std::string temp = path + ".tmp.XXXXXX";
  const int fd = mkstemp(temp.data());
  if (fd < 0) {
    return Fail(temp + ": " + std::strerror(errno));
  }
  auto fail = [&](const char* what) {
    const int saved = errno;
    close(fd);
    unlink(temp.c_str());
    return Fail(temp + ": " + what + ": " + std::strerror(saved));
  };
  if (fchmod(fd, mode) != 0) {
    return fail("chmod");
  }
  if (old != nullptr && (old->st_uid != geteuid() || old->st_gid != getegid())) {
    (void)!fchown(fd, old->st_uid, old->st_gid);  // only root may; otherwise we keep ours
  }
  for (size_t done = 0; done < text.size();) {
    const ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return fail("write");
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    return fail("fsync");
  }
  close(fd);
  if (rename(temp.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    unlink(temp.c_str());
    return Fail(path + ": rename: " + std::strerror(saved));
  }
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  const int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    fsync(dir_fd);
    close(dir_fd);
  }
  return 0;
}

// `text` with line `line_number` (1-based) replaced by `replacement` (no line when empty).
std::string ReplaceLine(std::string_view text, size_t line_number, std::string_view replacement) {
  std::string out;
  out.reserve(text.size() + replacement.size() + 1);
  size_t current = 0;
  while (!text.empty()) {
    ++current;
    const size_t end = text.find('\n');
    const std::string_view line =
        text.substr(0, end == std::string_view::npos ? text.size() : end + 1);
    text.remove_prefix(line.size());
    if (current != line_number) {
      out += line;
    } else if (!replacement.empty()) {
      out += replacement;
      out += '\n';
    }
  }
  return out;
}

int Run(const Args& args) {
  std::string text;
  std::string error;
  struct stat old {};
  const bool exists = stat(args.file.c_str(), &old) == 0;
  if (!exists && !(errno == ENOENT && args.command == "add")) {
    return Fail(args.file + ": " + std::strerror(errno));
  }
  if (exists && !ReadTextFile(args.file, &text, &error)) {
    return Fail(error);
  }
  std::vector<PasswordEntry> entries;
  if (!ParsePasswordLines(text, args.file, &entries, &error)) {
    return Fail(error + " (fix the file by hand first)");
  }
  if (args.command == "list") {
    for (const PasswordEntry& e : entries) {
      std::printf("%s\n", e.username.c_str());
    }
    return 0;
  }
  if (std::string why; !IsWritableUsername(args.user, &why)) {
    return Fail(why);
  }
  const PasswordEntry* entry = nullptr;
  for (const PasswordEntry& e : entries) {
    if (e.username == args.user) {
      entry = &e;
    }
  }
  if (args.command == "add" && entry != nullptr) {
    return Fail("user '" + args.user + "' is already in " + args.file + " (use change)");
  }
  if (args.command != "add" && entry == nullptr) {
    return Fail("no user '" + args.user + "' in " + args.file);
  }
  const mode_t mode = exists ? (old.st_mode & 07777) : 0600;
  if (args.command == "delete") {
    return WriteAtomically(args.file, ReplaceLine(text, entry->line, {}), mode, &old);
  }
  std::string password;
  if (const int rc = ReadPassword(args, args.command != "check", &password); rc != 0) {
    return rc;
  }
  if (args.command == "check") {
    const auto start = std::chrono::steady_clock::now();
    const bool ok = PasswordFile::Parse(text, args.file, &error)->Verify(args.user, password);
    const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - start;
    WipeString(&password);
    std::printf("%s (%.1f ms)\n", ok ? "ok" : "wrong password", took.count());
    return ok ? 0 : kExitFailed;
  }
  char hash[crypto_pwhash_STRBYTES];
  const int hashed =
      crypto_pwhash_str(hash, password.data(), password.size(), args.opslimit, args.memlimit);
  WipeString(&password);
  if (hashed != 0) {
    return Fail("argon2id failed (out of memory? try a lower --memlimit)");
  }
  const std::string line = args.user + ":" + hash;
  if (args.command == "change") {
    return WriteAtomically(args.file, ReplaceLine(text, entry->line, line), mode, &old);
  }
  if (!text.empty() && text.back() != '\n') {
    text += '\n';
  }
  text += line;
  text += '\n';
  return WriteAtomically(args.file, text, mode, exists ? &old : nullptr);
}

}  // namespace
}  // namespace ringmq::auth_file

int main(int argc, char** argv) {
  ringmq::auth_file::Args args;
  if (const int rc = ringmq::auth_file::ParseArgs(argc, argv, &args); rc != 0) {
    return rc;
  }
  if (sodium_init() < 0) {
    return ringmq::auth_file::Fail("libsodium failed to initialise");
  }
  return ringmq::auth_file::Run(args);
}
