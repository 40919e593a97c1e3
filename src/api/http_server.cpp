// The HTTP transport: the one translation unit that includes RESTinio. It turns RESTinio's
// requests into api::Request, asks the Router, and writes the api::Response back with the
// request id, access log line and metrics. Handlers run on RESTinio's thread pool.
#include "api/api.h"

#include "base/identifiers.h"
#include "base/log.h"

#include <restinio/all.hpp>

#include <condition_variable>
#include <future>
#include <thread>

namespace onewindow::api {

namespace {

using Traits = restinio::default_traits_t;

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

// An incoming request id is kept when it is short and plain, so that ids can follow a request
// across systems; anything else is replaced, since it will be echoed into logs and headers.
bool acceptable_request_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  }
  return true;
}

// Whether a handler set this header itself (then it replaces the server's default, as the web
// UI's caching does for no-store).
bool has_header(const Response& response, std::string_view lower_case_name) {
  for (const auto& [name, value] : response.headers) {
    if (name.size() != lower_case_name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < name.size() && same; ++i) {
      same = std::tolower(static_cast<unsigned char>(name[i])) == lower_case_name[i];
    }
    if (same) return true;
  }
  return false;
}

// The headers every answer carries, in the one place for both a whole and a streamed body. The
// security headers are defaults a handler may replace (the web UI's pages set their own policy):
// an API answer is never to be framed, sniffed, cached, sent on as a referrer, or run as a page.
template <typename Builder>
void append_headers(Builder& builder, const Request& request, const Response& response, bool closing) {
  builder.append_header("X-Request-Id", request.request_id);
  builder.append_header(restinio::http_field::content_type, response.content_type);
  builder.append_header("X-Content-Type-Options", "nosniff");
  if (!has_header(response, "cache-control")) builder.append_header(restinio::http_field::cache_control, "no-store");
  if (!has_header(response, "x-frame-options")) builder.append_header("X-Frame-Options", "DENY");
  if (!has_header(response, "referrer-policy")) builder.append_header("Referrer-Policy", "no-referrer");
  // JSON shown as a page would run nothing, and no other site may frame it. Other answers
  // (license PDFs, exports, materials) are left to their routes: Chromium's PDF viewer does not
  // open under a policy of 'none'.
  if (response.content_type == "application/json" && !has_header(response, "content-security-policy")) {
    builder.append_header("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
  }
  for (const auto& [name, value] : response.headers) builder.append_header(name, value);
  if (closing) builder.connection_close();
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX in a path. RESTinio's decoder is for query components ('+' as space, '/' refused),
// so paths get their own. An encoded '/' would change which route matches and is refused.
std::optional<std::string> decode_path(std::string_view raw) {
  std::string decoded;
  decoded.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '%') {
      decoded += raw[i];
      continue;
    }
    if (i + 2 >= raw.size()) return std::nullopt;
    int high = hex_value(raw[i + 1]), low = hex_value(raw[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    char c = static_cast<char>(high * 16 + low);
    if (c == '/' || c == '\0') return std::nullopt;
    decoded += c;
    i += 2;
  }
  return decoded;
}

std::string lower(std::string_view text) {
  std::string result(text);
  for (char& c : result) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return result;
}

}  // namespace

struct Server::Implementation {
  const Router& router;
  Metrics& metrics;
  ServerOptions options;
  std::unique_ptr<restinio::running_server_instance_t<restinio::http_server_t<Traits>>> running;

  std::atomic<bool> draining{false};
  std::mutex in_flight_mutex;
  std::condition_variable in_flight_done;
  int in_flight = 0;  // requests received and not yet written back
  // Streamed bodies still being produced, each on a thread of its own; the server is not torn
  // down before they end, and `stopped` tells them the connection will never be written again.
  int streams = 0;
  std::atomic<bool> stopped{false};

  Implementation(const Router& router, Metrics& metrics, ServerOptions options)
      : router(router), metrics(metrics), options(std::move(options)) {}

  void finished_one() {
    std::lock_guard lock(in_flight_mutex);
    if (--in_flight == 0) in_flight_done.notify_all();
  }

  restinio::request_handling_status_t handle(const restinio::request_handle_t& incoming) {
    auto started = std::chrono::steady_clock::now();
    {
      std::lock_guard lock(in_flight_mutex);
      ++in_flight;
    }
    Request request;
    request.method = incoming->header().method().c_str();
    incoming->header().for_each_field([&](const restinio::http_header_field_t& field) {
      request.headers[lower(field.name())] = field.value();
    });
    request.client_address = incoming->remote_endpoint().address().to_string();
    std::string supplied_id = request.header("x-request-id");
    request.request_id = acceptable_request_id(supplied_id) ? supplied_id : new_id("req");

    std::string route_pattern = "unmatched";
    Response response = respond(incoming, request, route_pattern);

    if (response.stream) return stream(incoming, request, route_pattern, std::move(response), started);
    auto builder = incoming->create_response(restinio::http_status_line_t{
        restinio::http_status_code_t{static_cast<std::uint16_t>(response.status)}, reason_phrase(response.status)});
    append_headers(builder, request, response, draining.load());
    std::size_t bytes = response.body.size();
    if (request.method != "HEAD") builder.set_body(std::move(response.body));

    auto elapsed = std::chrono::steady_clock::now() - started;
    metrics.record(request.method, route_pattern, response.status, elapsed);
    if (options.access_log) {
      // The path is logged, the query string is not: it may carry personal data. log:: masks ID
      // numbers in the path.
      log::info("access request_id=" + request.request_id + " method=" + request.method + " path=" +
                std::string(incoming->header().path()) + " route=" + route_pattern +
                " status=" + std::to_string(response.status) + " bytes=" + std::to_string(bytes) +
                " duration_ms=" +
                std::to_string(std::chrono::duration<double, std::milli>(elapsed).count()));
    }
    builder.done([this](const auto&) { finished_one(); });
    return restinio::request_accepted();
  }

  // A streamed body: the head now, then the pieces from a thread of the stream's own, each
  // waiting for the one before to be written (or the client to be gone), so that a slow client
  // holds back the producer instead of filling memory.
  restinio::request_handling_status_t stream(const restinio::request_handle_t& incoming, const Request& request,
                                             const std::string& route_pattern, Response response,
                                             std::chrono::steady_clock::time_point started) {
    auto builder = std::make_shared<restinio::response_builder_t<restinio::chunked_output_t>>(
        incoming->create_response<restinio::chunked_output_t>(restinio::http_status_line_t{
            restinio::http_status_code_t{static_cast<std::uint16_t>(response.status)}, reason_phrase(response.status)}));
    append_headers(*builder, request, response, draining.load());
    {
      std::lock_guard lock(in_flight_mutex);
      ++streams;
    }
    std::thread([this, builder, produce = std::move(response.stream), method = request.method,
                 path = std::string(incoming->header().path()), request_id = request.request_id, route_pattern,
                 status = response.status, started] {
      std::size_t bytes = 0;
      bool gone = false;
      auto write = [&](std::string_view piece) -> bool {
        if (gone) return false;
        if (piece.empty()) return true;
        auto written = std::make_shared<std::promise<bool>>();
        auto done = written->get_future();
        builder->append_chunk(std::string(piece));
        builder->flush([written](const restinio::asio_ns::error_code& error) { written->set_value(!error); });
        // Waits in short slices, so that a server that stops is not held up by a stream.
        auto give_up = std::chrono::steady_clock::now() + options.request_timeout;
        while (done.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
          if (stopped.load() || std::chrono::steady_clock::now() > give_up) {
            gone = true;
            return false;
          }
        }
        if (!done.get()) {
          gone = true;
          return false;
        }
        bytes += piece.size();
        return true;
      };
      try {
        produce(write);
      } catch (const std::exception& failure) {
        log::error("request_id=" + request_id + " streamed body failed: " + failure.what());
      }
      auto elapsed = std::chrono::steady_clock::now() - started;
      metrics.record(method, route_pattern, status, elapsed);
      if (options.access_log) {
        log::info("access request_id=" + request_id + " method=" + method + " path=" + path + " route=" + route_pattern +
                  " status=" + std::to_string(status) + " bytes=" + std::to_string(bytes) + " streamed duration_ms=" +
                  std::to_string(std::chrono::duration<double, std::milli>(elapsed).count()));
      }
      if (stopped.load()) {
        finished_one();
      } else {
        builder->done([this](const auto&) { finished_one(); });
      }
      std::lock_guard lock(in_flight_mutex);
      --streams;
      in_flight_done.notify_all();
    }).detach();
    return restinio::request_accepted();
  }

  Response respond(const restinio::request_handle_t& incoming, Request& request, std::string& route_pattern) {
    if (draining.load()) {
      return error_response(Error(ErrorKind::unavailable, "server.shutting_down",
                                  "the server is shutting down; retry on another instance"),
                            request.request_id);
    }
    auto path = decode_path(incoming->header().path());
    if (!path) {
      return error_response(Error::invalid("http.bad_path", "path", "the path has a malformed percent-encoding"),
                            request.request_id);
    }
    request.path = std::move(*path);
    if (!incoming->header().query().empty()) {
      // RFC 3986 lets a query carry , ; : @ ! $ ' ( ) * + = / ? unescaped (?items=name,birth_date),
      // as browsers send them; & alone separates parameters.
      auto query = restinio::try_parse_query<restinio::parse_query_traits::relaxed>(
          incoming->header().query());
      if (!query) {
        return error_response(Error::invalid("http.bad_query", "query", "the query string is malformed"),
                              request.request_id);
      }
      for (const auto& [name, value] : *query) request.query[std::string(name)] = std::string(value);
    }
    if (incoming->body().size() > options.max_body_bytes) {
      return error_response(Error(ErrorKind::too_large, "http.body_too_large",
                                  "the body is larger than the limit of " +
                                      std::to_string(options.max_body_bytes) + " bytes",
                                  {{"field", "body"}, {"limit", options.max_body_bytes}}),
                            request.request_id);
    }
    request.body = incoming->body();
    return router.dispatch(request, route_pattern);
  }
};

Server::Server(const Router& router, Metrics& metrics, ServerOptions options)
    : implementation_(std::make_unique<Implementation>(router, metrics, std::move(options))) {}

Server::~Server() {
  if (implementation_->running) drain_and_stop();
}

bool Server::draining() const { return implementation_->draining.load(); }

Status Server::start() {
  auto& options = implementation_->options;
  // RESTinio drops a connection whose body is over its own limit without an answer. Its limit
  // is set well above ours so that ordinary oversized bodies get our 413 in the envelope, while
  // a huge one is still cut off before it fills memory.
  std::uint64_t transport_body_limit = std::max<std::uint64_t>(options.max_body_bytes * 8, 8 * 1024 * 1024);
  auto limits = restinio::incoming_http_msg_limits_t{}
                    .max_url_size(options.max_header_bytes)
                    .max_field_name_size(options.max_header_bytes)
                    .max_field_value_size(options.max_header_bytes)
                    .max_field_count(128)
                    .max_body_size(transport_body_limit);
  Implementation* implementation = implementation_.get();
  try {
    implementation_->running = restinio::run_async<Traits>(
        restinio::own_io_context(),
        restinio::server_settings_t<Traits>{}
            .address(options.address)
            .port(static_cast<std::uint16_t>(options.port))
            .handle_request_timeout(options.request_timeout)
            .read_next_http_message_timelimit(options.request_timeout)
            .write_http_response_timelimit(options.request_timeout)
            .incoming_http_msg_limits(limits)
            .request_handler([implementation](const restinio::request_handle_t& request) {
              return implementation->handle(request);
            }),
        static_cast<std::size_t>(std::max(1, options.threads)));
  } catch (const std::exception& failure) {
    return Error(ErrorKind::unavailable, "server.listen",
                 "cannot listen on " + options.address + ":" + std::to_string(options.port) + ": " + failure.what(),
                 {{"field", "listen"}});
  }
  return ok_status();
}

void Server::drain_and_stop() {
  auto& implementation = *implementation_;
  if (!implementation.running) return;
  implementation.draining.store(true);
  {
    std::unique_lock lock(implementation.in_flight_mutex);
    implementation.in_flight_done.wait_for(lock, implementation.options.shutdown_grace,
                                           [&] { return implementation.in_flight == 0; });
  }
  implementation.running->stop();
  implementation.running->wait();
  implementation.stopped.store(true);
  {
    std::unique_lock lock(implementation.in_flight_mutex);
    implementation.in_flight_done.wait(lock, [&] { return implementation.streams == 0; });
  }
  implementation.running.reset();
}

}  // namespace onewindow::api
