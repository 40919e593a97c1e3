// A relying party logging a person in through onewindow, with openid-client (a certified
// relying-party library that nobody here wrote) doing the protocol: discovery, the authorization
// URL with PKCE (S256), state and nonce, the code exchange with ID-token validation (signature
// checked against the JWKS too: enableNonRepudiationChecks), and userinfo. The script also plays
// the browser: it follows the authorization URL with the platform's session cookie and takes the
// code from the redirect. jose then checks the ID token once more on its own, and the key id
// against its RFC 7638 thumbprint.
//
// Usage: node code_flow.mjs PLAN.json    (tests/oidc/oidc_test.cpp writes the plan)
//   {"issuer": "http://127.0.0.1:PORT", "cookie": "onewindow_session=...",
//    "expected": {"sub": ..., "name": ..., "preferred_username": ...},
//    "runs": [{"client_id", "client_secret", "authentication": "client_secret_basic" |
//              "client_secret_post" | "none", "redirect_uri", "scope"}]}
// Prints one JSON line per run and exits 0 only when every check of every run passed.
import * as client from 'openid-client'
import * as jose from 'jose'
import { readFileSync } from 'node:fs'

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`)
}

function authentication(run) {
  switch (run.authentication) {
    case 'client_secret_basic':
      return client.ClientSecretBasic(run.client_secret)
    case 'client_secret_post':
      return client.ClientSecretPost(run.client_secret)
    case 'none':
      return client.None()
    default:
      throw new Error(`unknown authentication ${run.authentication}`)
  }
}

async function codeFlow(plan, run) {
  const metadata = { id_token_signed_response_alg: 'ES256' }
  if (run.client_secret) metadata.client_secret = run.client_secret
  const config = await client.discovery(new URL(plan.issuer), run.client_id, metadata, authentication(run), {
    // The test server speaks plain http on the loopback interface.
    execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks],
  })
  const server = config.serverMetadata()
  check(server.issuer === plan.issuer, 'discovery names the issuer')
  check(server.supportsPKCE(), 'discovery announces PKCE S256')
  check(JSON.stringify(server.id_token_signing_alg_values_supported) === '["ES256"]', 'ID tokens are ES256')

  const verifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const nonce = client.randomNonce()
  const authorizationUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: run.redirect_uri,
    scope: run.scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  })

  // The browser: logged in to the platform, it follows the URL and lands on the redirect URI.
  const answer = await fetch(authorizationUrl, { headers: { cookie: plan.cookie }, redirect: 'manual' })
  check(answer.status === 302, `authorize answers 302, not ${answer.status}: ${await answer.text()}`)
  const callback = new URL(answer.headers.get('location'))
  check(callback.href.startsWith(run.redirect_uri + '?'), `redirected to the registered URI, not ${callback.origin}${callback.pathname}`)
  check(callback.searchParams.get('state') === state, 'state comes back unchanged')

  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  })
  check(tokens.token_type.toLowerCase() === 'bearer', 'token_type Bearer')
  check(typeof tokens.expires_in === 'number' && tokens.expires_in > 0, 'expires_in')
  const claims = tokens.claims()
  check(claims.iss === plan.issuer, 'id token iss')
  check(claims.aud === run.client_id, 'id token aud is the client id')
  check(claims.sub === plan.expected.sub, `id token sub is the account id (${claims.sub})`)
  check(claims.nonce === nonce, 'id token nonce')
  check(typeof claims.auth_time === 'number', 'id token auth_time')
  check(claims.exp > claims.iat, 'id token exp after iat')
  check(claims.name === plan.expected.name, 'id token name')
  check(!('citizen_id' in claims), 'no citizen ID number in the ID token')

  // The same token, checked by jose alone against the published keys.
  const keySet = await (await fetch(server.jwks_uri)).json()
  const header = jose.decodeProtectedHeader(tokens.id_token)
  check(header.alg === 'ES256' && header.typ === 'JWT', 'id token header alg ES256, typ JWT')
  const key = keySet.keys.find((candidate) => candidate.kid === header.kid)
  check(key !== undefined, 'the id token names a key of the JWKS')
  check((await jose.calculateJwkThumbprint(key)) === key.kid, 'the key id is its RFC 7638 thumbprint')
  const verified = await jose.jwtVerify(tokens.id_token, jose.createLocalJWKSet(keySet), {
    issuer: plan.issuer,
    audience: run.client_id,
    algorithms: ['ES256'],
  })
  check(verified.payload.sub === plan.expected.sub, 'jose verifies the id token')

  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub)
  check(userinfo.sub === plan.expected.sub, 'userinfo sub')
  check(userinfo.name === plan.expected.name, 'userinfo name')
  check(userinfo.preferred_username === plan.expected.preferred_username, 'userinfo preferred_username')
  check(!('citizen_id' in userinfo), 'no citizen ID number without the citizen_id scope')

  // The code again: refused, and the tokens it gave are revoked (RFC 6749 section 4.1.2).
  let replay = null
  try {
    await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce })
  } catch (error) {
    replay = error
  }
  check(replay !== null && replay.error === 'invalid_grant', `a used code is refused with invalid_grant (${replay && (replay.error || replay.message)})`)
  let revoked = null
  try {
    await client.fetchUserInfo(config, tokens.access_token, claims.sub)
  } catch (error) {
    revoked = error
  }
  check(revoked !== null && revoked.status === 401, 'the access token of a replayed code is revoked')

  return { client_id: run.client_id, authentication: run.authentication, sub: claims.sub, kid: header.kid, userinfo }
}

const planFile = process.argv[2]
if (!planFile) {
  console.error('usage: node code_flow.mjs PLAN.json')
  process.exit(2)
}
const plan = JSON.parse(readFileSync(planFile, 'utf8'))
try {
  for (const run of plan.runs) console.log(JSON.stringify(await codeFlow(plan, run)))
  console.log('code flow: all checks passed')
} catch (error) {
  console.error(`code flow failed: ${error.message}`)
  if (error.cause) console.error(JSON.stringify(error.cause).slice(0, 2000))
  process.exit(1)
}
