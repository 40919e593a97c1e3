#include "base/log.h"

#include "base/identifiers.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace onewindow::log {

Status configure(std::string_view level) {
  auto parsed = spdlog::level::from_str(std::string(level));
  // from_str answers "off" for anything it does not know; only the word "off" may mean that.
  if (parsed == spdlog::level::off && level != "off") {
    return Error::invalid("log.bad_level", "log.level",
                          "log.level must be one of trace, debug, info, warn, error, off");
  }
  spdlog::drop("onewindow");  // configure may run again (tests, reloads)
  auto logger = spdlog::stderr_logger_mt("onewindow");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  logger->set_level(parsed);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  return ok_status();
}

namespace {
void write(spdlog::level::level_enum level, std::string_view message) {
  auto* logger = spdlog::default_logger_raw();
  if (!logger->should_log(level)) return;
  logger->log(level, "{}", redact_identifiers(message));
}
}  // namespace

void info(std::string_view message) { write(spdlog::level::info, message); }
void warn(std::string_view message) { write(spdlog::level::warn, message); }
void error(std::string_view message) { write(spdlog::level::err, message); }
void debug(std::string_view message) { write(spdlog::level::debug, message); }

}  // namespace onewindow::log
