// The web UI's static files (web/dist, built by npm), served as the router's fallback.
#include "api/api.h"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace onewindow::api {

namespace {

// Browsers guess a type from content unless told (X-Content-Type-Options: nosniff is on every
// answer), so each file the build makes gets its exact type.
std::string content_type_of(const std::filesystem::path& file) {
  static const std::map<std::string, std::string> types = {
      {".html", "text/html; charset=utf-8"},   {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},           {".map", "application/json"},
      {".svg", "image/svg+xml"},               {".png", "image/png"},
      {".jpg", "image/jpeg"},                  {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},                   {".ico", "image/x-icon"},
      {".webp", "image/webp"},                 {".woff2", "font/woff2"},
      {".woff", "font/woff"},                  {".ttf", "font/ttf"},
      {".txt", "text/plain; charset=utf-8"},   {".wasm", "application/wasm"},
      {".webmanifest", "application/manifest+json"},
  };
  std::string extension = file.extension().string();
  for (char& c : extension) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto found = types.find(extension);
  return found == types.end() ? "application/octet-stream" : found->second;
}

Error not_found(const Request& request) {
  return Error(ErrorKind::not_found, "http.not_found", "no such route: " + request.path);
}

// The request's path as segments under the root, or nullopt when one could climb out of it or
// name something the build never makes: "." and "..", hidden names, backslashes (a separator
// elsewhere) and NUL. The path arrives decoded, so %2e%2e is ".." here too.
std::optional<std::vector<std::string>> safe_segments(std::string_view path) {
  std::vector<std::string> segments;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view segment = path.substr(start, end - start);
    if (!segment.empty()) {
      if (segment.front() == '.') return std::nullopt;
      if (segment.find_first_of(std::string_view("\\\0:", 3)) != std::string_view::npos) return std::nullopt;
      segments.emplace_back(segment);
    }
    start = end + 1;
  }
  return segments;
}

Result<std::string> read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Error(ErrorKind::not_found, "http.not_found", "cannot read " + file.filename().string());
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

Response file_response(const std::filesystem::path& file, std::string body, bool immutable) {
  Response response = Response::text(200, content_type_of(file), std::move(body));
  // Vite names every file under assets/ by a hash of its content: a changed file is a new name.
  // index.html and the rest must be asked for again each time, so a new build is seen at once.
  response.headers.emplace_back("Cache-Control", immutable ? "public, max-age=31536000, immutable" : "no-cache");
  response.headers.emplace_back("X-Frame-Options", "DENY");
  response.headers.emplace_back("Referrer-Policy", "same-origin");
  // Scripts only from this server; Element Plus and ECharts set inline styles, so styles may be
  // inline; images may be data: and blob: URLs (previews of uploads, charts saved as pictures).
  response.headers.emplace_back("Content-Security-Policy",
                                "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                                "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
                                "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'");
  return response;
}

}  // namespace

void add_web_routes(Router& router, std::filesystem::path root) {
  if (root.empty()) return;
  router.set_fallback([root = std::move(root)](const Request& request) -> Result<Response> {
    if (request.path == "/api" || request.path.starts_with("/api/")) return not_found(request);
    auto segments = safe_segments(request.path);
    if (!segments) return not_found(request);
    std::error_code error;
    const std::filesystem::path base = std::filesystem::canonical(root, error);
    if (error) {
      return Error(ErrorKind::not_found, "http.not_found",
                   "the web UI is not built: no directory " + root.string() + " (scripts/build builds it)");
    }
    std::filesystem::path file = base;
    for (const std::string& segment : *segments) file /= segment;
    if (std::filesystem::is_regular_file(file, error)) {
      // A symbolic link inside the root must not lead out of it.
      std::filesystem::path resolved = std::filesystem::canonical(file, error);
      if (error) return not_found(request);
      auto [root_end, unused] = std::mismatch(base.begin(), base.end(), resolved.begin(), resolved.end());
      if (root_end != base.end()) return not_found(request);
      auto body = read_file(resolved);
      if (!body.ok()) return body.take_error();
      bool hashed = !segments->empty() && segments->front() == "assets";
      return file_response(resolved, std::move(body).value(), hashed);
    }
    // A missing file (a stale asset name) is a 404, not the page; anything else is a route of the
    // single-page app, which index.html resolves in the browser.
    if (!segments->empty() && segments->back().find('.') != std::string::npos) return not_found(request);
    std::filesystem::path index = base / "index.html";
    auto body = read_file(index);
    if (!body.ok()) {
      return Error(ErrorKind::not_found, "http.not_found",
                   "the web UI is not built: no " + index.string() + " (scripts/build builds it)");
    }
    return file_response(index, std::move(body).value(), false);
  });
}

}  // namespace onewindow::api
