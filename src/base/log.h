// Logging: spdlog's default logger, one line per event on standard error. Every line passes
// through redact_identifiers (base/identifiers.h) first, so a citizen ID number that slips into
// a message is masked; secrets must never be passed to it in the first place. Thread-safe.
#pragma once

#include "base/result.h"

#include <string_view>

namespace onewindow::log {

// "trace", "debug", "info", "warn", "error" or "off"; anything else is log.bad_level.
Status configure(std::string_view level);

void info(std::string_view message);
void warn(std::string_view message);
void error(std::string_view message);
void debug(std::string_view message);

}  // namespace onewindow::log
