#include "controller/conductor/periodic.hpp"

#include <spdlog/spdlog.h>

namespace ferry::controller::conductor {

Periodic::Periodic(std::string name, std::chrono::milliseconds period, std::function<void()> task)
    : name_(std::move(name)), period_(period), task_(std::move(task)) {}

Periodic::~Periodic() { Stop(); }

void Periodic::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void Periodic::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Periodic::Wake() {
  {
    std::lock_guard lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

void Periodic::Loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    try {
      task_();
    } catch (const std::exception& e) {
      spdlog::warn("periodic task failed task={} error={}", name_, e.what());
    }
    lock.lock();
    cv_.wait_for(lock, period_, [&] { return stop_ || wake_; });
    wake_ = false;
  }
}

}  // namespace ferry::controller::conductor
