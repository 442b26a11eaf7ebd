#include "common/log.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "common/journal_sink.hpp"

namespace ferry {

void InitLogging(const std::string& component, const std::string& level, const std::string& file,
                 bool journal) {
  std::shared_ptr<spdlog::logger> logger;
  if (journal) {
    std::string identifier = component.rfind("ferry-", 0) == 0 ? component : "ferry-" + component;
    logger = std::make_shared<spdlog::logger>(
        component, std::make_shared<JournalSink>(kJournalSocket, identifier));
  } else if (file.empty()) {
    logger = spdlog::stderr_logger_mt(component);
  } else {
    logger = spdlog::basic_logger_mt(component, file);
  }
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %n %v", spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace ferry
