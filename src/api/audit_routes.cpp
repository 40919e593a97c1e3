#include "api/api.h"

#include "audit/audit.h"

#include <charconv>
#include <limits>

namespace onewindow::api {

namespace {

Result<std::int64_t> parse_count(std::string_view text, std::string_view field) {
  std::int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || value < 0) {
    return Error::invalid("http.bad_parameter", std::string(field),
                          std::string(field) + " must be a whole number from 0 to " +
                              std::to_string(std::numeric_limits<std::int64_t>::max()));
  }
  return value;
}

Result<std::int64_t> query_count(const Request& request, std::string_view field) {
  auto found = request.query.find(std::string(field));
  if (found == request.query.end()) {
    return Error::invalid("http.missing_parameter", std::string(field), std::string(field) + " is required");
  }
  return parse_count(found->second, field);
}

nlohmann::json hex_list(const std::vector<audit::Sm3Digest>& digests) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& digest : digests) list.push_back(crypto::to_hex(digest));
  return list;
}

const nlohmann::json hex_hash_schema = {{"type", "string"}, {"pattern", "^[0-9a-f]{64}$"}};
const nlohmann::json count_schema = {{"type", "integer"}, {"minimum", 0}};

}  // namespace

void add_audit_routes(Router& router, audit::TransparencyLog& log) {
  router.add({"GET", "/api/v1/audit/tree-head", "public",
              "The latest signed tree head of the transparency log. signature is the hex DER SM2 signature "
              "(SM3, ID 1234567812345678) of exactly the bytes of signed_message.",
              "audit",
              [&log](const Request&) -> Result<Response> {
                auto head = log.latest_tree_head();
                if (!head.ok()) return head.take_error();
                return Response::json(200, {{"tree_size", head->tree_size},
                                            {"timestamp", head->timestamp},
                                            {"root_hash", crypto::to_hex(head->root_hash)},
                                            {"signature", crypto::to_hex(head->signature)},
                                            {"signed_message", head->signed_message()}});
              },
              nullptr,
              {{"type", "object"},
               {"required", {"tree_size", "timestamp", "root_hash", "signature", "signed_message"}},
               {"properties",
                {{"tree_size", count_schema},
                 {"timestamp", {{"type", "string"}, {"format", "date-time"}}},
                 {"root_hash", hex_hash_schema},
                 {"signature", {{"type", "string"}, {"pattern", "^([0-9a-f]{2})+$"}}},
                 {"signed_message", {{"type", "string"}}}}}}});

  router.add({"GET", "/api/v1/audit/entries/{index}", "audit.read",
              "One entry of the transparency log: its canonical JSON (content, the exact bytes of the leaf), "
              "the same parsed (entry), and its leaf hash. Entries hold personal data.",
              "audit",
              [&log](const Request& request) -> Result<Response> {
                auto index = parse_count(request.path_parameters.at("index"), "index");
                if (!index.ok()) return index.take_error();
                auto entry = log.entry(*index);
                if (!entry.ok()) return entry.take_error();
                return Response::json(200, {{"index", entry->index},
                                            {"content", entry->content},
                                            {"entry", nlohmann::json::parse(entry->content, nullptr, false)},
                                            {"leaf_hash", crypto::to_hex(entry->leaf_hash)}});
              },
              nullptr,
              {{"type", "object"},
               {"required", {"index", "content", "entry", "leaf_hash"}},
               {"properties",
                {{"index", count_schema},
                 {"content", {{"type", "string"}}},
                 {"entry", {{"type", "object"}}},
                 {"leaf_hash", hex_hash_schema}}}}});

  router.add({"GET", "/api/v1/audit/proofs/inclusion", "public",
              "RFC 9162 inclusion proof (audit path, nearest the leaf first) of entry `index` in the tree of "
              "`tree_size` entries.",
              "audit",
              [&log](const Request& request) -> Result<Response> {
                auto index = query_count(request, "index");
                if (!index.ok()) return index.take_error();
                auto tree_size = query_count(request, "tree_size");
                if (!tree_size.ok()) return tree_size.take_error();
                auto path = log.inclusion_proof(*index, *tree_size);
                if (!path.ok()) return path.take_error();
                return Response::json(200, {{"index", *index}, {"tree_size", *tree_size}, {"audit_path", hex_list(*path)}});
              },
              nullptr,
              {{"type", "object"},
               {"required", {"index", "tree_size", "audit_path"}},
               {"properties",
                {{"index", count_schema},
                 {"tree_size", count_schema},
                 {"audit_path", {{"type", "array"}, {"items", hex_hash_schema}}}}}}});

  router.add({"GET", "/api/v1/audit/proofs/consistency", "public",
              "RFC 9162 consistency proof between the trees of `first` and `second` entries.", "audit",
              [&log](const Request& request) -> Result<Response> {
                auto first = query_count(request, "first");
                if (!first.ok()) return first.take_error();
                auto second = query_count(request, "second");
                if (!second.ok()) return second.take_error();
                auto path = log.consistency_proof(*first, *second);
                if (!path.ok()) return path.take_error();
                return Response::json(200, {{"first", *first}, {"second", *second}, {"consistency_path", hex_list(*path)}});
              },
              nullptr,
              {{"type", "object"},
               {"required", {"first", "second", "consistency_path"}},
               {"properties",
                {{"first", count_schema},
                 {"second", count_schema},
                 {"consistency_path", {{"type", "array"}, {"items", hex_hash_schema}}}}}}});
}

}  // namespace onewindow::api
