// TOTP codes (RFC 6238: SHA-1, 6 digits, 30-second steps) for the demo's officials, from the
// secrets the demo writes into its data directory.
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';

function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of text.replace(/=+$/, '').toUpperCase()) {
    const value = alphabet.indexOf(c);
    if (value < 0) throw new Error('not base32');
    bits += value.toString(2).padStart(5, '0');
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

export function totpCode(secret, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const digest = createHmac('sha1', base32(secret)).update(counter).digest();
  const offset = digest[digest.length - 1] & 0x0f;
  const value = (digest.readUInt32BE(offset) & 0x7fffffff) % 1000000;
  return String(value).padStart(6, '0');
}

// The accounts' TOTP secrets, by username, from data_dir/demo-accounts.txt.
export function demoSecrets(dataDirectory) {
  const secrets = {};
  const text = readFileSync(`${dataDirectory}/demo-accounts.txt`, 'utf8');
  for (const match of text.matchAll(/^\s+\w+: (\S+)(?: \(\w+\))?\s+TOTP secret (\w+)/gm)) secrets[match[1]] = match[2];
  return secrets;
}

// The server spends each 30-second step once per account and takes the next step too, so a
// second login within the same step uses the next one; a third waits for time to move on.
const lastStep = {};
export async function freshCode(username, secret) {
  for (;;) {
    const now = Math.floor(Date.now() / 1000 / 30);
    const used = lastStep[username] ?? -Infinity;
    const step = used < now ? now : used < now + 1 ? now + 1 : null;
    if (step !== null) {
      lastStep[username] = step;
      return totpCode(secret, step);
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}
