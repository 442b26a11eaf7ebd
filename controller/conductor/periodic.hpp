#pragma once
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace ferry::controller::conductor {

// Runs a task every `period` on its own thread until Stop(); Stop() returns promptly (the wait
// is on a condition variable, not a sleep). An exception from the task is logged, not fatal:
// a database blip must not kill the liveness checker for good.
class Periodic {
 public:
  Periodic(std::string name, std::chrono::milliseconds period, std::function<void()> task);
  ~Periodic();
  void Start();
  void Stop();
  void Wake();  // run now

 private:
  void Loop();
  std::string name_;
  std::chrono::milliseconds period_;
  std::function<void()> task_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool wake_ = false;
  std::thread thread_;
};

}  // namespace ferry::controller::conductor
