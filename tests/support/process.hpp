#pragma once
// Real processes for integration tests: start a binary with arguments, its output to a log
// file, and stop it gently (SIGTERM) or hard (SIGKILL, like a crash).
#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace ferry::testing {

class Process {
 public:
  // env: extra "NAME=value" entries for the child's environment.
  Process(std::string binary, std::vector<std::string> args, std::string log_path,
          std::vector<std::string> env = {});
  ~Process();  // SIGKILL if still running
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool Running();
  // Waits for the process to exit by itself; SIGKILL after `timeout`. Returns the wait status.
  int Wait(std::chrono::milliseconds timeout);
  int Terminate(std::chrono::milliseconds grace = std::chrono::seconds(5));  // exit status
  void Kill();                                                               // SIGKILL and reap
  std::string Log() const;

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  std::string log_path_;
};

// The process is stopped by a signal ('T' in /proc/<pid>/stat): a controller that SIGSTOPped
// itself at a test pause point (FERRY_TEST_PAUSE_BEFORE_SEND).
bool StoppedBySignal(pid_t pid);

// Polls for a non-empty file (a port file); returns its first line or "" on timeout.
std::string WaitForFile(const std::string& path, std::chrono::milliseconds timeout);
std::string TempDir(const std::string& prefix);  // a fresh directory under $TMPDIR or /tmp

}  // namespace ferry::testing
