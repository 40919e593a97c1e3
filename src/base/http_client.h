// Outgoing HTTP (libcurl): what the platform sends to other systems, such as the exchange's
// pushed events. One call, one request, no state kept between calls.
//
// Contract:
// - post() sends one POST and returns the answer's status and body, whatever the status: what a
//   status means is the caller's business. Only http:// and https:// URLs are sent (https with
//   the system's certificate authorities, checked); redirects are not followed.
// - It never takes longer than the timeout, connection included, and never raises signals, so it
//   may be called from any thread.
// - Errors: http_client.bad_url (invalid_argument) for another scheme or no host;
//   http_client.unreachable (unavailable) when no answer came: refused, timed out, reset; its
//   message is curl's, which names no body.
//
// Thread safety: post() may be called from many threads at once.
#pragma once

#include "base/result.h"

#include <atomic>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace onewindow {

struct HttpPost {
  std::string url;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::string> headers;  // "Name: value"
  std::chrono::milliseconds timeout{10000};
  std::chrono::milliseconds connect_timeout{3000};
  // When set, the request is given up soon after it turns true (a server shutting down does not
  // wait out a slow endpoint's timeout): http_client.unreachable.
  const std::atomic<bool>* cancel = nullptr;
};

struct HttpAnswer {
  long status = 0;
  std::string body;  // at most the first 64 KiB
};

Result<HttpAnswer> http_post(const HttpPost& request);

// Whether `url` is one http_post() sends to: http:// or https:// with a host. The field named in
// the error is `field`.
Status check_http_url(std::string_view url, std::string_view field);

}  // namespace onewindow
