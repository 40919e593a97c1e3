// Checking tokens as the platform and relying parties must: a forged, expired, wrong-audience,
// wrong-issuer or wrong-kind token is refused by verify_id_token / verify_access_token. Also the
// signing key: sealed at rest, made once, kept across restarts.
#include "fixture.h"

namespace onewindow::oidc {
namespace {

struct Parts {
  std::string header, claims, signature;
};

Parts split(const std::string& token) {
  auto first = token.find('.');
  auto second = token.find('.', first + 1);
  return {token.substr(0, first), token.substr(first + 1, second - first - 1), token.substr(second + 1)};
}

nlohmann::json decoded(const std::string& part) {
  auto bytes = crypto::base64url_decode(part);
  return nlohmann::json::parse(std::string(bytes->begin(), bytes->end()));
}

std::string encoded(const nlohmann::json& value) { return crypto::base64url_encode(value.dump()); }

class Tokens : public OidcPlatform {
 protected:
  void SetUp() override {
    OidcPlatform::SetUp();
    if (HasFatalFailure()) return;
    HttpResponse answer = redeem(code_for(browser_login()));
    ASSERT_EQ(answer.status, 200) << answer.body;
    id_token_ = json_of(answer)["id_token"];
    access_token_ = json_of(answer)["access_token"];
  }

  void expect_refused(const Result<VerifiedToken>& result, const std::string& code) {
    ASSERT_FALSE(result.ok()) << "a token that should be refused verified";
    EXPECT_EQ(result.error().code, code) << result.error().message;
    EXPECT_EQ(result.error().kind, ErrorKind::unauthenticated);
  }

  std::string id_token_;
  std::string access_token_;
};

TEST_F(Tokens, AGenuineIdTokenVerifies) {
  auto verified = provider_->verify_id_token(id_token_, "demo-portal");
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  EXPECT_EQ(verified->subject, citizen_.id);
  EXPECT_EQ(verified->client_id, "demo-portal");
  EXPECT_EQ(verified->header["alg"], "ES256");
  EXPECT_EQ(verified->header["typ"], "JWT");
  EXPECT_EQ(verified->header["kid"], (*provider_->jwks())["keys"][0]["kid"]);
  const auto& claims = verified->claims;
  EXPECT_EQ(claims["iss"], issuer_);
  EXPECT_EQ(claims["aud"], "demo-portal");
  EXPECT_EQ(claims["nonce"], "nonce-456");
  EXPECT_EQ(claims["name"], "张三");
  EXPECT_EQ(claims["exp"].get<std::int64_t>() - claims["iat"].get<std::int64_t>(), 600);
  EXPECT_TRUE(claims["auth_time"].is_number_integer());
  EXPECT_FALSE(claims.contains("citizen_id"));
  auto access = provider_->verify_access_token(access_token_);
  ASSERT_TRUE(access.ok()) << access.error().message;
  EXPECT_EQ(access->claims["scope"], "openid profile");
  EXPECT_EQ(access->claims["aud"], issuer_);
  EXPECT_EQ(access->client_id, "demo-portal");
}

TEST_F(Tokens, OpensslVerifiesTheIdTokenSignature) {
  auto keys = provider_->jwks();
  ASSERT_TRUE(keys.ok());
  auto key = crypto::P256PublicKey::from_jwk((*keys)["keys"][0]);
  ASSERT_TRUE(key.ok());
  Parts parts = split(id_token_);
  auto der = crypto::es256_signature_to_der(*crypto::base64url_decode(parts.signature));
  ASSERT_TRUE(der.ok());
  onewindow::testing::TemporaryDirectory files;
  files.write("public.pem", *key->to_pem());
  files.write("signed", parts.header + "." + parts.claims);
  files.write("signature.der", std::string(der->begin(), der->end()));
  auto result = onewindow::testing::run_command("cd '" + files.path().string() +
                                                "' && openssl dgst -sha256 -verify public.pem -signature signature.der signed");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output, "Verified OK\n");
}

TEST_F(Tokens, AForgedTokenIsRefused) {
  Parts parts = split(id_token_);
  // The signature changed.
  std::string signature = parts.signature;
  signature[5] = signature[5] == 'A' ? 'B' : 'A';
  expect_refused(provider_->verify_id_token(parts.header + "." + parts.claims + "." + signature, "demo-portal"),
                 "oidc.token_signature");
  // The claims changed (another subject), the signature kept.
  nlohmann::json claims = decoded(parts.claims);
  claims["sub"] = "acc_someone_else";
  expect_refused(provider_->verify_id_token(parts.header + "." + encoded(claims) + "." + parts.signature, "demo-portal"),
                 "oidc.token_signature");
  // Unsigned ("alg": "none").
  nlohmann::json none = decoded(parts.header);
  none["alg"] = "none";
  expect_refused(provider_->verify_id_token(encoded(none) + "." + parts.claims + ".", "demo-portal"), "oidc.token_malformed");
  expect_refused(provider_->verify_id_token(encoded(none) + "." + parts.claims + "." + parts.signature, "demo-portal"),
                 "oidc.token_signature");
  // Signed with another key that claims our key id.
  auto other = crypto::P256PrivateKey::generate();
  std::string input = parts.header + "." + encoded(claims);
  std::string forged = input + "." + crypto::base64url_encode(*other->sign(input));
  expect_refused(provider_->verify_id_token(forged, "demo-portal"), "oidc.token_signature");
  // Signed with another key under its own key id.
  nlohmann::json header = decoded(parts.header);
  header["kid"] = other->public_key().thumbprint();
  input = encoded(header) + "." + encoded(claims);
  expect_refused(provider_->verify_id_token(input + "." + crypto::base64url_encode(*other->sign(input)), "demo-portal"),
                 "oidc.token_signature");
  // HS256 with the public key as the secret: the classic confusion, refused by algorithm.
  header = decoded(parts.header);
  header["alg"] = "HS256";
  expect_refused(provider_->verify_id_token(encoded(header) + "." + parts.claims + "." + parts.signature, "demo-portal"),
                 "oidc.token_signature");
  // Header members of the wrong type are refused, not thrown over.
  header = decoded(parts.header);
  header["alg"] = 256;
  expect_refused(provider_->verify_id_token(encoded(header) + "." + parts.claims + "." + parts.signature, "demo-portal"),
                 "oidc.token_signature");
  header = decoded(parts.header);
  header["kid"] = nlohmann::json::array();
  expect_refused(provider_->verify_id_token(encoded(header) + "." + parts.claims + "." + parts.signature, "demo-portal"),
                 "oidc.token_malformed");
  // Not a JWS at all.
  for (const std::string& malformed :
       std::vector<std::string>{"", "abc", "a.b", "a.b.c.d", parts.header + "." + parts.claims, "!!!.@@@.###"}) {
    expect_refused(provider_->verify_id_token(malformed, "demo-portal"), "oidc.token_malformed");
  }
  expect_refused(provider_->verify_id_token(std::string(10000, 'a'), "demo-portal"), "oidc.token_malformed");
}

TEST_F(Tokens, AnExpiredTokenIsRefused) {
  clock_.advance(std::chrono::minutes(9));
  EXPECT_TRUE(provider_->verify_id_token(id_token_, "demo-portal").ok());
  clock_.advance(std::chrono::minutes(1));  // exactly at exp: expired
  expect_refused(provider_->verify_id_token(id_token_, "demo-portal"), "oidc.token_expired");
  expect_refused(provider_->verify_access_token(access_token_), "oidc.token_expired");
  clock_.advance(std::chrono::hours(24));
  expect_refused(provider_->verify_id_token(id_token_, "demo-portal"), "oidc.token_expired");
}

TEST_F(Tokens, ATokenForAnotherAudienceIsRefused) {
  expect_refused(provider_->verify_id_token(id_token_, "civil-portal"), "oidc.token_audience");
  expect_refused(provider_->verify_id_token(id_token_, ""), "oidc.token_audience");
  expect_refused(provider_->verify_id_token(id_token_, issuer_), "oidc.token_audience");
}

TEST_F(Tokens, ATokenOfAnotherIssuerIsRefused) {
  // Another provider on the same database and key, under another name: what it signs says so.
  Options elsewhere = options_;
  elsewhere.issuer = "https://sso.qingdao.gov.cn";
  ASSERT_TRUE(validate_options(elsewhere).ok());
  Provider other(*database_, *log_, *directory_service_, *key_encryption_, clock_, elsewhere);
  std::string code = code_for(browser_login());
  auto tokens = other.token({"application/x-www-form-urlencoded", "",
                             "grant_type=authorization_code&code=" + encode(code) + "&redirect_uri=" + encode(redirect_uri) +
                                 "&code_verifier=" + verifier + "&client_id=demo-portal&client_secret=" + encode(portal_secret_)});
  ASSERT_TRUE(tokens.ok()) << tokens.error().message;
  std::string foreign = (*tokens)["id_token"];
  ASSERT_TRUE(other.verify_id_token(foreign, "demo-portal").ok());
  expect_refused(provider_->verify_id_token(foreign, "demo-portal"), "oidc.token_issuer");
  expect_refused(other.verify_id_token(id_token_, "demo-portal"), "oidc.token_issuer");
}

TEST_F(Tokens, AccessAndIdTokensAreNotInterchangeable) {
  expect_refused(provider_->verify_id_token(access_token_, issuer_), "oidc.token_type");
  expect_refused(provider_->verify_access_token(id_token_), "oidc.token_type");
}

TEST_F(Tokens, ARevokedOrUnknownAccessTokenIsRefused) {
  // A well-signed access token the provider does not keep: as if made by someone holding the key
  // but not through the token endpoint, or dropped from the table.
  ASSERT_EQ(1, *database_->write_value<std::int64_t>([](store::Session& session) {
    return session.execute("UPDATE oidc_access_token SET revoked_at = '2000-01-01T00:00:00.000Z'");
  }));
  expect_refused(provider_->verify_access_token(access_token_), "oidc.token_revoked");
}

TEST_F(Tokens, TheSigningKeyIsSealedAtRestAndKept) {
  struct Stored {
    std::string key_id;
    store::Blob sealed;
  };
  auto stored = database_->read_value<Stored>([](store::Session& session) -> Result<Stored> {
    auto rows = session.query("SELECT key_id, sealed_private_key FROM oidc_signing_key");
    if (!rows.ok()) return rows.take_error();
    EXPECT_EQ(rows->size(), 1u);
    return Stored{(*rows)[0].text(0), (*rows)[0].blob(1)};
  });
  ASSERT_TRUE(stored.ok());
  std::string sealed(stored->sealed.begin(), stored->sealed.end());
  EXPECT_EQ(sealed.find("PRIVATE KEY"), std::string::npos);
  // The key-encryption key opens it, bound to its row.
  auto opened = key_encryption_->decrypt(stored->sealed, crypto::as_bytes("oidc_signing_key:" + stored->key_id));
  ASSERT_TRUE(opened.ok());
  auto key = crypto::P256PrivateKey::from_pem(std::string(opened->begin(), opened->end()));
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->public_key().thumbprint(), stored->key_id);
  EXPECT_FALSE(key_encryption_->decrypt(stored->sealed, crypto::as_bytes("oidc_signing_key:another")).ok());

  // A restarted provider uses the same key: earlier tokens still verify, the JWKS is the same.
  Provider restarted(*database_, *log_, *directory_service_, *key_encryption_, clock_, options_);
  EXPECT_TRUE(restarted.verify_id_token(id_token_, "demo-portal").ok());
  EXPECT_EQ((*restarted.jwks())["keys"], (*provider_->jwks())["keys"]);
  EXPECT_EQ(recorded("oidc.signing_key_created"), 1);

  // Under another key-encryption key the provider cannot sign.
  auto wrong = crypto::Sm4Envelope::create(*crypto::from_hex("ffeeddccbbaa99887766554433221100"));
  Provider mistaken(*database_, *log_, *directory_service_, *wrong, clock_, options_);
  auto keys = mistaken.jwks();
  ASSERT_FALSE(keys.ok());
  EXPECT_EQ(keys.error().code, "crypto.authentication_failed");
}

TEST(Options, IssuerMustBeAnOriginWithoutPath) {
  for (std::string good : {"https://sso.qingdao.gov.cn", "https://sso.qingdao.gov.cn:8443", "http://127.0.0.1:8080",
                           "http://localhost:8080", "http://[::1]:8080"}) {
    Options options;
    options.issuer = good;
    EXPECT_TRUE(validate_options(options).ok()) << good;
  }
  for (std::string bad : {"", "sso.qingdao.gov.cn", "http://sso.qingdao.gov.cn", "https://sso.qingdao.gov.cn/",
                          "https://sso.qingdao.gov.cn/oidc", "https://sso.qingdao.gov.cn?x=1", "https://user@host",
                          "https://host:port", "ftp://host"}) {
    Options options;
    options.issuer = bad;
    auto checked = validate_options(options);
    ASSERT_FALSE(checked.ok()) << bad;
    EXPECT_EQ(checked.error().code, "oidc.bad_options");
    EXPECT_EQ(checked.error().details["field"], "issuer");
  }
  Options zero;
  zero.issuer = "https://sso.qingdao.gov.cn";
  zero.code_lifetime = std::chrono::seconds(0);
  EXPECT_EQ(validate_options(zero).error().details["field"], "code_lifetime");
}

}  // namespace
}  // namespace onewindow::oidc
