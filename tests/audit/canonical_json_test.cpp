// Canonical JSON and the hashing primitives, without a database.
#include "audit/audit.h"

#include <gtest/gtest.h>

namespace onewindow::audit {
namespace {

std::string canonical(const nlohmann::json& value) {
  auto text = canonical_json(value);
  EXPECT_TRUE(text.ok()) << text.error().message;
  return text.ok() ? *text : "";
}

TEST(CanonicalJson, SortsKeysByBytesAndLeavesNoSpace) {
  nlohmann::json value = {{"b", 1}, {"a", {{"z", true}, {"y", nullptr}}}, {"é", "x"}, {"Z", -3}, {"aa", {1, 2}}};
  EXPECT_EQ(canonical(value), R"({"Z":-3,"a":{"y":null,"z":true},"aa":[1,2],"b":1,"é":"x"})");
  // Code point order, also beyond the Basic Multilingual Plane (where UTF-16 order would differ).
  EXPECT_EQ(canonical({{"\xef\xbd\xa1", 1}, {"\xf0\x9f\x98\x80", 2}}), "{\"\xef\xbd\xa1\":1,\"\xf0\x9f\x98\x80\":2}");
}

TEST(CanonicalJson, EscapesOnlyWhatJsonRequires) {
  EXPECT_EQ(canonical("quote \" backslash \\ slash / tab \t newline \n"),
            R"("quote \" backslash \\ slash / tab \t newline \n")");
  EXPECT_EQ(canonical(std::string("\x01\x1f\x7f\b\f\r", 6)), "\"\\u0001\\u001f\x7f\\b\\f\\r\"");
  EXPECT_EQ(canonical("青岛市 Laixi"), "\"青岛市 Laixi\"");
  EXPECT_EQ(canonical(std::string("nul\0byte", 8)), R"("nul\u0000byte")");
}

TEST(CanonicalJson, WritesIntegersOnly) {
  EXPECT_EQ(canonical({{"n", std::int64_t{-9223372036854775807 - 1}}, {"u", std::uint64_t{18446744073709551615u}}}),
            R"({"n":-9223372036854775808,"u":18446744073709551615})");
  auto fraction = canonical_json({{"n", 0.5}});
  ASSERT_FALSE(fraction.ok());
  EXPECT_EQ(fraction.error().code, "audit.non_integer_number");
  EXPECT_FALSE(canonical_json(1.0).ok());
}

TEST(CanonicalJson, RefusesWhatHasNoCanonicalForm) {
  for (std::string bad : {"\xff", "\xc0\x80", "\xe0\x80\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe4\xb8", "a\x80"}) {
    auto text = canonical_json(bad);
    ASSERT_FALSE(text.ok());
    EXPECT_EQ(text.error().code, "audit.invalid_utf8");
    auto as_key = canonical_json({{bad, 1}});
    ASSERT_FALSE(as_key.ok());
    EXPECT_EQ(as_key.error().code, "audit.invalid_utf8");
  }
  nlohmann::json deep = 1;
  for (int i = 0; i < 70; ++i) deep = nlohmann::json::array({deep});
  auto too_deep = canonical_json(deep);
  ASSERT_FALSE(too_deep.ok());
  EXPECT_EQ(too_deep.error().code, "audit.too_deep");
  auto binary = canonical_json(nlohmann::json::binary({1, 2, 3}));
  ASSERT_FALSE(binary.ok());
  EXPECT_EQ(binary.error().code, "audit.bad_details");
}

TEST(CanonicalJson, AppendsAroundTheCallersOwnText) {
  std::string out = "{\"a\":";
  ASSERT_TRUE(append_canonical_string("青岛 \"quoted\"\n", out).ok());
  out += ",\"b\":";
  ASSERT_TRUE(append_canonical_json({{"y", 1}, {"x", {"p", "q"}}}, out).ok());
  out += '}';
  EXPECT_EQ(out, canonical({{"b", {{"x", {"p", "q"}}, {"y", 1}}}, {"a", "青岛 \"quoted\"\n"}}));
  std::string refused;
  auto bad = append_canonical_string("\xff", refused);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "audit.invalid_utf8");
  EXPECT_EQ(append_canonical_json({{"n", 0.5}}, refused).error().code, "audit.non_integer_number");
}

TEST(MerkleHashes, PrefixLeavesAndNodesAsRfc9162Does) {
  std::string entry = R"({"index":0})";
  EXPECT_EQ(leaf_hash(entry), crypto::sm3(std::string(1, '\0') + entry));
  Sm3Digest left = leaf_hash("a");
  Sm3Digest right = leaf_hash("b");
  std::string joined = std::string(1, '\x01') + std::string(left.begin(), left.end()) + std::string(right.begin(), right.end());
  EXPECT_EQ(node_hash(left, right), crypto::sm3(joined));
  // SM3 of the empty string, from GB/T 32905's reference implementation.
  EXPECT_EQ(crypto::to_hex(empty_tree_hash()), "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b");
}

TEST(MerkleProofs, RejectMalformedProofs) {
  Sm3Digest a = leaf_hash("a"), b = leaf_hash("b"), c = leaf_hash("c");
  Sm3Digest ab = node_hash(a, b);
  Sm3Digest root = node_hash(ab, c);
  std::vector<Sm3Digest> path = {b, c};
  EXPECT_TRUE(verify_inclusion(0, 3, a, path, root).ok());
  EXPECT_TRUE(verify_inclusion(2, 3, c, std::vector<Sm3Digest>{ab}, root).ok());
  EXPECT_FALSE(verify_inclusion(0, 3, a, std::vector<Sm3Digest>{b}, root).ok());          // too short
  EXPECT_FALSE(verify_inclusion(0, 3, a, std::vector<Sm3Digest>{b, c, c}, root).ok());    // too long
  EXPECT_FALSE(verify_inclusion(3, 3, a, path, root).ok());                               // beyond the tree
  EXPECT_FALSE(verify_inclusion(0, 3, b, path, root).ok());                               // another leaf
  Status wrong = verify_inclusion(0, 3, a, std::vector<Sm3Digest>{c, b}, root);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, "audit.bad_proof");

  // {a, b} is a prefix of {a, b, c}: the proof is {c} (first is a power of two, so its root is
  // implied).
  EXPECT_TRUE(verify_consistency(2, 3, ab, root, std::vector<Sm3Digest>{c}).ok());
  EXPECT_FALSE(verify_consistency(2, 3, ab, root, std::vector<Sm3Digest>{}).ok());
  EXPECT_FALSE(verify_consistency(2, 3, node_hash(b, a), root, std::vector<Sm3Digest>{c}).ok());
  EXPECT_FALSE(verify_consistency(0, 3, ab, root, std::vector<Sm3Digest>{c}).ok());
  EXPECT_TRUE(verify_consistency(3, 3, root, root, std::vector<Sm3Digest>{}).ok());
  EXPECT_FALSE(verify_consistency(3, 3, root, ab, std::vector<Sm3Digest>{}).ok());
}

}  // namespace
}  // namespace onewindow::audit
