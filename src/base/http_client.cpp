#include "base/http_client.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>

namespace onewindow {

namespace {

constexpr std::size_t most_answer_bytes = 64 * 1024;

// curl_global_init is not thread-safe; it runs once, before the first request.
void initialise_curl() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::size_t keep_answer(char* data, std::size_t size, std::size_t count, void* answer) {
  auto& body = static_cast<HttpAnswer*>(answer)->body;
  std::size_t bytes = size * count;
  body.append(data, std::min(bytes, most_answer_bytes - std::min(most_answer_bytes, body.size())));
  return bytes;
}

// curl calls this about once a second and at every transfer; non-zero aborts the transfer.
int abort_when_cancelled(void* cancel, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(cancel)->load() ? 1 : 0;
}

}  // namespace

Status check_http_url(std::string_view url, std::string_view field) {
  std::string_view rest;
  if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else {
    return Error::invalid("http_client.bad_url", std::string(field),
                          std::string(field) + " must be an http:// or https:// URL");
  }
  if (rest.empty() || rest.front() == '/' || rest.front() == ':' || url.size() > 2000 ||
      url.find_first_of(" \t\r\n") != std::string_view::npos) {
    return Error::invalid("http_client.bad_url", std::string(field),
                          std::string(field) + " must name a host, with no spaces, in at most 2000 bytes");
  }
  return ok_status();
}

Result<HttpAnswer> http_post(const HttpPost& request) {
  ONEWINDOW_TRY(check_http_url(request.url, "url"));
  initialise_curl();
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return Error(ErrorKind::internal, "http_client.unreachable", "curl could not start a request");
  curl_slist* list = nullptr;
  list = curl_slist_append(list, ("Content-Type: " + request.content_type).c_str());
  // No "Expect: 100-continue" round trip before larger bodies.
  list = curl_slist_append(list, "Expect:");
  for (const auto& header : request.headers) list = curl_slist_append(list, header.c_str());
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(list, curl_slist_free_all);

  HttpAnswer answer;
  char message[CURL_ERROR_SIZE] = {};
  CURL* handle = curl.get();
  curl_easy_setopt(handle, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(handle, CURLOPT_POST, 1L);
  curl_easy_setopt(handle, CURLOPT_POSTFIELDS, request.body.data());
  curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.connect_timeout.count()));
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(handle, CURLOPT_USERAGENT, "onewindow");
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, keep_answer);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, message);
  if (request.cancel) {
    curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, abort_when_cancelled);
    curl_easy_setopt(handle, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(request.cancel));
  }
  CURLcode done = curl_easy_perform(handle);
  if (done != CURLE_OK) {
    return Error(ErrorKind::unavailable, "http_client.unreachable",
                 std::string("no answer: ") + (message[0] ? message : curl_easy_strerror(done)));
  }
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &answer.status);
  return answer;
}

}  // namespace onewindow
