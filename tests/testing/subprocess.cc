#include "tests/testing/subprocess.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

extern char** environ;

namespace ringmq::testing {

// fork + exec, so the child can ask for SIGKILL when its parent ends (posix_spawn cannot).
// Between fork and exec the child calls only async-signal-safe functions.
absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::StartDyingWithParent(
    const std::vector<std::string>& argv, const int pipe_fds[2]) {
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  int err_pipe[2];  // carries errno of a failed exec
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    int err = errno;
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    return absl::ErrnoToStatus(err, "pipe2");
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
      ::_exit(127);  // the parent ended before prctl
    }
    ::dup2(pipe_fds[1], STDOUT_FILENO);  // dup2 clears O_CLOEXEC on the copy
    ::execve(args[0], args.data(), environ);
    int err = errno;
    (void)!::write(err_pipe[1], &err, sizeof err);
    ::_exit(127);
  }
  int fork_errno = errno;
  ::close(pipe_fds[1]);
  ::close(err_pipe[1]);
  if (pid < 0) {
    ::close(pipe_fds[0]);
    ::close(err_pipe[0]);
    return absl::ErrnoToStatus(fork_errno, "fork");
  }
  int exec_errno = 0;
  ssize_t n;
  do {
    n = ::read(err_pipe[0], &exec_errno, sizeof exec_errno);
  } while (n < 0 && errno == EINTR);
  ::close(err_pipe[0]);
  std::unique_ptr<Subprocess> p(new Subprocess());
  p->pid_ = pid;
  p->stdout_fd_ = pipe_fds[0];
  if (n == sizeof exec_errno) {
    p->Wait(std::chrono::seconds(5));
    return absl::ErrnoToStatus(exec_errno, "execve " + argv[0]);
  }
  return p;
}

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Start(const std::vector<std::string>& argv,
                                                              const SubprocessOptions& options) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return absl::ErrnoToStatus(errno, "pipe2");
  }
  if (options.die_with_parent) {
    return StartDyingWithParent(argv, pipe_fds);
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  std::vector<char*> args;
  for (const std::string& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (rc != 0) {
    ::close(pipe_fds[0]);
    return absl::ErrnoToStatus(rc, "posix_spawn " + argv[0]);
  }
  std::unique_ptr<Subprocess> p(new Subprocess());
  p->pid_ = pid;
  p->stdout_fd_ = pipe_fds[0];
  return p;
}

Subprocess::~Subprocess() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    Wait(std::chrono::seconds(10));
  }
  if (stdout_fd_ >= 0) {
    ::close(stdout_fd_);
  }
}

std::optional<std::string> Subprocess::ReadLine(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    size_t nl = pending_.find('\n');
    if (nl != std::string::npos) {
      std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || stdout_fd_ < 0) {
      return std::nullopt;
    }
    pollfd pfd{stdout_fd_, POLLIN, 0};
    int r = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (r <= 0) {
      if (r < 0 && errno == EINTR) {
        continue;
      }
      return std::nullopt;
    }
    char buf[4096];
    ssize_t n = ::read(stdout_fd_, buf, sizeof buf);
    if (n <= 0) {
      ::close(stdout_fd_);
      stdout_fd_ = -1;
      if (!pending_.empty()) {
        std::string line = std::move(pending_);
        pending_.clear();
        return line;
      }
      return std::nullopt;
    }
    pending_.append(buf, static_cast<size_t>(n));
  }
}

std::optional<std::string> Subprocess::WaitForLine(const std::string& prefix,
                                                   std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return std::nullopt;
    }
    std::optional<std::string> line = ReadLine(left);
    if (!line) {
      return std::nullopt;
    }
    if (line->rfind(prefix, 0) == 0) {
      return line;
    }
  }
}

void Subprocess::Signal(int sig) {
  if (running()) {
    ::kill(pid_, sig);
  }
}

bool Subprocess::running() {
  if (reaped_ || pid_ <= 0) {
    return false;
  }
  int status;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    status_ = status;
    return false;
  }
  return true;
}

std::optional<int> Subprocess::Wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // Poll with a short interval: waitpid has no timeout, and the wait is bounded overall.
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return std::nullopt;
    }
    ::usleep(2000);
  }
  return status_;
}

std::optional<uint16_t> PortFromListeningLine(const std::string& line) {
  // The first word of the form HOST:DIGITS ("listening 127.0.0.1:PORT ...").
  size_t start = 0;
  while (start < line.size()) {
    size_t end = line.find(' ', start);
    std::string word = line.substr(start, end == std::string::npos ? end : end - start);
    size_t c = word.rfind(':');
    if (c != std::string::npos && c + 1 < word.size() && word.size() - c <= 6 &&
        word.find_first_not_of("0123456789", c + 1) == std::string::npos) {
      unsigned long port = std::strtoul(word.c_str() + c + 1, nullptr, 10);
      if (port <= 65535) {
        return static_cast<uint16_t>(port);
      }
    }
    if (end == std::string::npos) {
      break;
    }
    start = end + 1;
  }
  return std::nullopt;
}

}  // namespace ringmq::testing
