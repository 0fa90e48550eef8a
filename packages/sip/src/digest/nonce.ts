import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Self-validating nonces: base64url(timestamp | random | HMAC-SHA256(secret, timestamp|random|realm|binding)).
 * The server keeps no list of issued nonces, so any instance that shares the secret can check
 * them, and a restart with the same secret does not force every phone to re-authenticate.
 * The binding (what the nonce was issued for, e.g. the source address) is not carried in the
 * nonce, only covered by its MAC: answered from anywhere else, the nonce is simply not ours.
 */

const TIMESTAMP_BYTES = 8;
const RANDOM_BYTES = 12;
// 128 bits of MAC is plenty against forgery and keeps the nonce at 48 characters.
const MAC_BYTES = 16;
const NONCE_BYTES = TIMESTAMP_BYTES + RANDOM_BYTES + MAC_BYTES;
// Buffer.from(s, 'base64url') silently skips junk, so the shape is checked first.
const NONCE_SHAPE = new RegExp(`^[A-Za-z0-9_-]{${(NONCE_BYTES / 3) * 4}}$`);

export type NonceCheck =
  | { status: 'valid'; issuedAt: number }
  /** Authentic but older than the TTL: the client may retry at once with a fresh nonce. */
  | { status: 'stale'; issuedAt: number }
  | { status: 'forged' };

function mac(secret: Buffer, stampAndRandom: Buffer, realm: string, binding: string): Buffer {
  // The NUL keeps realm "ab" + binding "c" apart from realm "a" + binding "bc".
  return createHmac('sha256', secret).update(stampAndRandom).update(realm, 'utf8').update('\0').update(binding, 'utf8').digest().subarray(0, MAC_BYTES);
}

/**
 * What makes each nonce unique: a random prefix drawn once per process and a counter. A nonce
 * need not be secret (it travels in the clear), only unique and unforgeable — the MAC sees to
 * the second — so there is no call to the random generator per challenge, which a flood of
 * unauthenticated requests would otherwise make the gateway pay for every one.
 */
const UNIQUE_PREFIX = randomBytes(RANDOM_BYTES - 4);
let counter = 0;

/** `nowMs` is milliseconds since the epoch; the nonce carries it so its age can be told later. */
export function createNonce(secret: Buffer, realm: string, nowMs: number, binding = ''): string {
  const stampAndRandom = Buffer.alloc(TIMESTAMP_BYTES + RANDOM_BYTES);
  stampAndRandom.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(nowMs))), 0);
  UNIQUE_PREFIX.copy(stampAndRandom, TIMESTAMP_BYTES);
  counter = (counter + 1) >>> 0;
  stampAndRandom.writeUInt32BE(counter, TIMESTAMP_BYTES + RANDOM_BYTES - 4);
  return Buffer.concat([stampAndRandom, mac(secret, stampAndRandom, realm, binding)]).toString('base64url');
}

export function checkNonce(nonce: string, secret: Buffer, realm: string, nowMs: number, ttlMs: number, binding = ''): NonceCheck {
  if (!NONCE_SHAPE.test(nonce)) return { status: 'forged' };
  const raw = Buffer.from(nonce, 'base64url');
  const stampAndRandom = raw.subarray(0, TIMESTAMP_BYTES + RANDOM_BYTES);
  const expected = mac(secret, stampAndRandom, realm, binding);
  if (!timingSafeEqual(expected, raw.subarray(TIMESTAMP_BYTES + RANDOM_BYTES))) return { status: 'forged' };

  const issuedAt = Number(raw.readBigUInt64BE(0));
  // A nonce from the future is authentic (only we can mint it) but means the clock stepped back;
  // bound its life the same way so a clock jump cannot make a nonce last forever.
  const age = Math.abs(nowMs - issuedAt);
  return age > ttlMs ? { status: 'stale', issuedAt } : { status: 'valid', issuedAt };
}
