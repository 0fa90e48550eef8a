import { createHash } from 'node:crypto';

/**
 * Digest algorithms of RFC 7616 §3.2 (registered for SIP by RFC 8760). The "-sess" variants
 * fold the nonce and cnonce into HA1 so a proxy can hand a per-session key to a third party.
 */
export type DigestAlgorithm = 'MD5' | 'MD5-sess' | 'SHA-256' | 'SHA-256-sess' | 'SHA-512-256' | 'SHA-512-256-sess';

export const DIGEST_ALGORITHMS: readonly DigestAlgorithm[] = [
  'MD5',
  'MD5-sess',
  'SHA-256',
  'SHA-256-sess',
  'SHA-512-256',
  'SHA-512-256-sess',
];

export type DigestQop = 'auth' | 'auth-int';

const NODE_HASH: Record<DigestAlgorithm, string> = {
  MD5: 'md5',
  'MD5-sess': 'md5',
  'SHA-256': 'sha256',
  'SHA-256-sess': 'sha256',
  'SHA-512-256': 'sha512-256',
  'SHA-512-256-sess': 'sha512-256',
};

/** Algorithm tokens are case-insensitive ("md5" is common); absent means MD5 (RFC 2617 §3.2.1). */
export function parseDigestAlgorithm(value: string | undefined): DigestAlgorithm | undefined {
  if (value === undefined) return 'MD5';
  const wanted = value.toLowerCase();
  return DIGEST_ALGORITHMS.find((name) => name.toLowerCase() === wanted);
}

export function isSessionAlgorithm(algorithm: DigestAlgorithm): boolean {
  return algorithm.endsWith('-sess');
}

/** The hash without the "-sess" suffix, which is also what a user store keys its HA1 by. */
export function baseAlgorithm(algorithm: DigestAlgorithm): DigestAlgorithm {
  return isSessionAlgorithm(algorithm) ? (algorithm.slice(0, -'-sess'.length) as DigestAlgorithm) : algorithm;
}

/** Lower-case hex, as RFC 7616 requires for every intermediate and final value. */
export function digestHash(algorithm: DigestAlgorithm, data: string | Buffer): string {
  return createHash(NODE_HASH[algorithm]).update(data).digest('hex');
}

/**
 * HA1 = H(username ":" realm ":" password). This is what a user store should keep instead of
 * the password: it only works for one realm, and it is the same for a "-sess" algorithm and its
 * base (the session key is derived per request by sessionHa1).
 */
export function computeHa1(algorithm: DigestAlgorithm, username: string, realm: string, password: string): string {
  return digestHash(algorithm, `${username}:${realm}:${password}`);
}

/** RFC 7616 §3.4.2: for "-sess", HA1 becomes H(H(user:realm:password) ":" nonce ":" cnonce). */
export function sessionHa1(algorithm: DigestAlgorithm, ha1: string, nonce: string, cnonce: string): string {
  return digestHash(algorithm, `${ha1}:${nonce}:${cnonce}`);
}

export interface DigestResponseInput {
  algorithm: DigestAlgorithm;
  /** H(username:realm:password), before any "-sess" derivation. */
  ha1: string;
  nonce: string;
  method: string;
  uri: string;
  /** Absent: the RFC 2069 form without nonce-count, still sent by old SIP phones. */
  qop?: DigestQop;
  /** The 8 hex digits exactly as sent on the wire. */
  nc?: string;
  cnonce?: string;
  /** Only used by qop=auth-int. */
  body?: string | Buffer;
}

/** The request-digest of RFC 7616 §3.4.1 (RFC 2617 §3.2.2.1 when qop is absent). */
export function computeDigestResponse(input: DigestResponseInput): string {
  const { algorithm, nonce, method, uri, qop } = input;
  let ha1 = input.ha1.toLowerCase();
  if (isSessionAlgorithm(algorithm)) {
    if (input.cnonce === undefined) throw new TypeError(`${algorithm} needs a cnonce`);
    ha1 = sessionHa1(algorithm, ha1, nonce, input.cnonce);
  }
  const ha2 =
    qop === 'auth-int'
      ? digestHash(algorithm, `${method}:${uri}:${digestHash(algorithm, input.body ?? '')}`)
      : digestHash(algorithm, `${method}:${uri}`);
  if (qop === undefined) return digestHash(algorithm, `${ha1}:${nonce}:${ha2}`);
  if (input.nc === undefined || input.cnonce === undefined) throw new TypeError(`qop=${qop} needs nc and cnonce`);
  return digestHash(algorithm, `${ha1}:${nonce}:${input.nc}:${input.cnonce}:${qop}:${ha2}`);
}
