#include "api/api.h"

#include <array>
#include <cstdio>

namespace onewindow::api {

namespace {
// Upper bounds of the latency buckets, in seconds: fine below 10 ms where most answers are.
constexpr std::array<double, 13> bucket_bounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                  0.1,    0.25,  0.5,    1.0,   2.5,  10.0};

std::string label_value(std::string_view text) { return prometheus_label(text); }

std::string number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.9g", value);
  return buffer;
}
}  // namespace

std::string prometheus_label(std::string_view text) {
  std::string escaped;
  for (char c : text) {
    if (c == '\\' || c == '"') escaped += '\\';
    if (c == '\n') {
      escaped += "\\n";
      continue;
    }
    escaped += c;
  }
  return escaped;
}

struct Metrics::Series {
  std::string method;
  std::string route;
  std::array<std::uint64_t, bucket_bounds.size()> buckets{};
  std::uint64_t count = 0;
  double sum_seconds = 0;
};

void Metrics::record(std::string_view method, std::string_view route, int status,
                     std::chrono::nanoseconds duration) {
  double seconds = std::chrono::duration<double>(duration).count();
  std::string key = std::string(method) + " " + std::string(route);
  std::lock_guard lock(mutex_);
  auto& series = series_[key];
  if (!series) {
    series = std::make_shared<Series>();
    series->method = method;
    series->route = route;
  }
  for (std::size_t i = 0; i < bucket_bounds.size(); ++i) {
    if (seconds <= bucket_bounds[i]) ++series->buckets[i];
  }
  ++series->count;
  series->sum_seconds += seconds;
  ++responses_[key + " " + std::to_string(status)];
}

std::string Metrics::render_prometheus() const {
  std::string out = render_http();
  for (const auto& collector : collectors_) out += collector();
  return out;
}

std::string Metrics::render_http() const {
  std::lock_guard lock(mutex_);
  std::string out;
  out += "# HELP onewindow_http_requests_total HTTP requests answered, by route and status.\n";
  out += "# TYPE onewindow_http_requests_total counter\n";
  for (const auto& [key, count] : responses_) {
    auto first_space = key.find(' ');
    auto last_space = key.rfind(' ');
    out += "onewindow_http_requests_total{method=\"" + label_value(key.substr(0, first_space)) +
           "\",route=\"" + label_value(key.substr(first_space + 1, last_space - first_space - 1)) +
           "\",status=\"" + key.substr(last_space + 1) + "\"} " + std::to_string(count) + "\n";
  }
  out += "# HELP onewindow_http_request_duration_seconds Time to answer HTTP requests, by route.\n";
  out += "# TYPE onewindow_http_request_duration_seconds histogram\n";
  for (const auto& [key, series] : series_) {
    std::string labels = "method=\"" + label_value(series->method) + "\",route=\"" + label_value(series->route) + "\"";
    for (std::size_t i = 0; i < bucket_bounds.size(); ++i) {
      out += "onewindow_http_request_duration_seconds_bucket{" + labels + ",le=\"" + number(bucket_bounds[i]) +
             "\"} " + std::to_string(series->buckets[i]) + "\n";
    }
    out += "onewindow_http_request_duration_seconds_bucket{" + labels + ",le=\"+Inf\"} " +
           std::to_string(series->count) + "\n";
    out += "onewindow_http_request_duration_seconds_sum{" + labels + "} " + number(series->sum_seconds) + "\n";
    out += "onewindow_http_request_duration_seconds_count{" + labels + "} " + std::to_string(series->count) + "\n";
  }
  return out;
}

}  // namespace onewindow::api
