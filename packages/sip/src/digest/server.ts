import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { formatAuthHeader, parseAuthHeader } from '../message/auth.js';
import type { AuthHeader } from '../message/auth.js';
import { parseUri, uriEquals } from '../message/uri.js';
import { computeDigestResponse, parseDigestAlgorithm } from './algorithms.js';
import type { DigestAlgorithm } from './algorithms.js';
import { checkNonce, createNonce } from './nonce.js';
import { NonceCountTracker } from './nonce-counts.js';

export interface DigestServerOptions {
  realm: string;
  /** Signs nonces. Share it between instances that must accept each other's nonces. */
  secret?: string | Buffer;
  nonceTtlSeconds?: number;
  /** Offered in this order; RFC 8760 wants SHA-256 before MD5 so capable clients pick it. */
  algorithms?: DigestAlgorithm[];
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
  /** Cap on remembered nonce-counts. */
  maxNonces?: number;
  /**
   * Refuse answers without qop (default true). qop=auth is always offered; an answer without it
   * has no nonce-count, so nothing tells a replay from the original (RFC 2069 style).
   */
  requireQop?: boolean;
}

export type DigestFailureReason =
  | 'missing'
  | 'not-digest'
  | 'malformed'
  | 'wrong-realm'
  | 'unsupported-algorithm'
  | 'forged-nonce'
  | 'stale'
  | 'replay'
  /** qop=auth was offered (and is required) but the answer carried none. */
  | 'qop-missing'
  /** The answer's uri names another URI than the request's Request-URI. */
  | 'uri-mismatch'
  | 'unknown-user'
  | 'bad-response';

export type DigestVerdict =
  | { ok: true; username: string; realm: string; algorithm: DigestAlgorithm }
  | { ok: false; reason: DigestFailureReason; stale: boolean; username?: string };

export interface DigestRequest {
  method: string;
  /** The Authorization (or Proxy-Authorization) value, undefined when the request had none. */
  header: string | undefined;
  /** The request's Request-URI: when given, the answer's `uri` must name the same URI (RFC 3261 §22.4). */
  requestUri?: string;
  /**
   * What the nonce was issued for, as given to `challenge({ boundTo })` (the source address,
   * say): a nonce answered by anyone else fails as forged. Default: bound to nothing.
   */
  boundTo?: string;
}

export interface ChallengeOptions {
  stale?: boolean;
  /** Binds the nonces to this (e.g. the requester's address); verify must be given the same. */
  boundTo?: string;
  /**
   * What identifies the request being challenged (Call-ID, CSeq, Via branch): its
   * retransmissions get the very same challenge, as a transaction would repeat its answer.
   * A stateless challenger needs this: a client (SIPp) takes a 401 with a new nonce for an
   * unexpected message, not for the retransmission it is.
   */
  request?: string;
}

/** How long, and how many, challenges are remembered for retransmissions (Timer F: 64 × T1). */
const CHALLENGE_MEMORY_MS = 32_000;
const CHALLENGE_MEMORY_MAX = 10_000;

/**
 * Returns HA1 = H(username:realm:password) for the hash of `algorithm` (the same value for a
 * "-sess" variant and its base), or undefined for an unknown user.
 */
export type Ha1Lookup = (username: string, realm: string, algorithm: DigestAlgorithm) => string | undefined;
export type AsyncHa1Lookup = (
  username: string,
  realm: string,
  algorithm: DigestAlgorithm,
) => string | undefined | Promise<string | undefined>;

/** Everything verify learned from the header before it needed the user's HA1. */
interface PendingCheck {
  username: string;
  algorithm: DigestAlgorithm;
  nonce: string;
  issuedAt: number;
  expired: boolean;
  uri: string;
  response: string;
  qop?: 'auth';
  nc?: string;
  cnonce?: string;
}

const NC_SHAPE = /^[0-9a-fA-F]{8}$/;

function fail(reason: DigestFailureReason, username?: string): DigestVerdict {
  return username === undefined ? { ok: false, reason, stale: false } : { ok: false, reason, stale: false, username };
}

/** An HA1 that matches nobody: unknown users cost the same hashing as known ones (no timing oracle). */
const DUMMY_HA1 = randomBytes(32).toString('hex');

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * Server side of SIP Digest (RFC 3261 §22.4, RFC 7616, RFC 8760), qop=auth. It never sees a
 * password: the caller's lookup hands it the stored HA1.
 */
export class DigestServer {
  readonly realm: string;
  readonly algorithms: readonly DigestAlgorithm[];
  private readonly secret: Buffer;
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly opaque: string;
  private readonly nonceCounts: NonceCountTracker;
  private readonly requireQop: boolean;
  /** Recent challenges by request, oldest first: bounded, a few hundred bytes each. */
  private readonly recent = new Map<string, { values: string[]; at: number }>();

  constructor(options: DigestServerOptions) {
    this.realm = options.realm;
    this.algorithms = [...(options.algorithms ?? ['SHA-256', 'MD5'])];
    if (this.algorithms.length === 0) throw new RangeError('DigestServer needs at least one algorithm');
    const secret = options.secret ?? randomBytes(32);
    this.secret = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
    this.ttlMs = (options.nonceTtlSeconds ?? 300) * 1000;
    this.now = options.now ?? Date.now;
    this.nonceCounts = new NonceCountTracker(options.maxNonces ?? 100_000, this.ttlMs);
    this.requireQop = options.requireQop ?? true;
    // Stable per secret and realm, so every instance sharing the secret hands out the same one.
    this.opaque = createHmac('sha256', this.secret).update(`opaque:${this.realm}`).digest().subarray(0, 16).toString('base64url');
  }

  /** One WWW-Authenticate (or Proxy-Authenticate) value per configured algorithm, in order. */
  challenge(options: ChallengeOptions = {}): string[] {
    if (options.request === undefined) return this.freshChallenge(options);
    const now = this.now();
    const key = `${options.request}\u0000${options.boundTo ?? ''}\u0000${options.stale ? 1 : 0}`;
    const known = this.recent.get(key);
    if (known && now - known.at < CHALLENGE_MEMORY_MS) return known.values;
    const values = this.freshChallenge(options);
    this.recent.delete(key);
    this.recent.set(key, { values, at: now });
    for (const [old, entry] of this.recent) {
      if (this.recent.size <= CHALLENGE_MEMORY_MAX && now - entry.at < CHALLENGE_MEMORY_MS) break;
      this.recent.delete(old);
    }
    return values;
  }

  private freshChallenge(options: ChallengeOptions): string[] {
    return this.algorithms.map((algorithm) => {
      const params: Array<[string, string]> = [
        ['realm', this.realm],
        ['nonce', createNonce(this.secret, this.realm, this.now(), options.boundTo)],
        ['opaque', this.opaque],
        ['algorithm', algorithm],
        ['qop', 'auth'],
      ];
      if (options.stale) params.push(['stale', 'true']);
      return formatAuthHeader({ scheme: 'Digest', params });
    });
  }

  verify(req: DigestRequest, lookupHa1: Ha1Lookup): DigestVerdict {
    const pending = this.inspect(req);
    if ('ok' in pending) return pending;
    return this.conclude(req, pending, lookupHa1(pending.username, this.realm, pending.algorithm));
  }

  /** For user stores behind I/O; the lookup may return a value or a Promise. */
  async verifyAsync(req: DigestRequest, lookupHa1: AsyncHa1Lookup): Promise<DigestVerdict> {
    const pending = this.inspect(req);
    if ('ok' in pending) return pending;
    return this.conclude(req, pending, await lookupHa1(pending.username, this.realm, pending.algorithm));
  }

  /** Checks that need no user data, cheapest and least revealing first. */
  private inspect(req: DigestRequest): PendingCheck | DigestVerdict {
    if (req.header === undefined || req.header.trim() === '') return fail('missing');
    let parsed: AuthHeader;
    try {
      parsed = parseAuthHeader(req.header);
    } catch {
      return fail('malformed');
    }
    if (parsed.scheme.toLowerCase() !== 'digest') return fail('not-digest');

    const p = parsed.params;
    const username = p.get('username');
    const realm = p.get('realm');
    const nonce = p.get('nonce');
    const uri = p.get('uri');
    const response = p.get('response');
    if (username === undefined || realm === undefined || nonce === undefined || uri === undefined || response === undefined) {
      return fail('malformed', username);
    }

    const qopText = p.get('qop');
    const nc = p.get('nc');
    const cnonce = p.get('cnonce');
    let qop: 'auth' | undefined;
    if (qopText !== undefined) {
      // Only "auth" was offered, so anything else is a client not following the challenge.
      if (qopText.toLowerCase() !== 'auth') return fail('malformed', username);
      if (nc === undefined || !NC_SHAPE.test(nc) || cnonce === undefined) return fail('malformed', username);
      qop = 'auth';
    } else if (this.requireQop) {
      return fail('qop-missing', username);
    }

    if (realm !== this.realm) return fail('wrong-realm', username);

    const algorithm = parseDigestAlgorithm(p.get('algorithm'));
    if (algorithm === undefined || !this.algorithms.includes(algorithm)) {
      return fail('unsupported-algorithm', username);
    }
    if (algorithm.endsWith('-sess') && cnonce === undefined) return fail('malformed', username);

    if (req.requestUri !== undefined && !sameUri(uri, req.requestUri)) return fail('uri-mismatch', username);

    const nonceCheck = checkNonce(nonce, this.secret, this.realm, this.now(), this.ttlMs, req.boundTo);
    if (nonceCheck.status === 'forged') return fail('forged-nonce', username);
    // Old phones drop opaque; one that sends a different value is not answering our challenge.
    const opaque = p.get('opaque');
    if (opaque !== undefined && !sameText(opaque, this.opaque)) return fail('forged-nonce', username);

    return {
      username,
      algorithm,
      nonce,
      issuedAt: nonceCheck.issuedAt,
      expired: nonceCheck.status === 'stale',
      uri,
      response: response.toLowerCase(),
      qop,
      nc,
      cnonce,
    };
  }

  private conclude(req: DigestRequest, pending: PendingCheck, ha1: string | undefined): DigestVerdict {
    const { username, algorithm } = pending;
    const expected = computeDigestResponse({
      algorithm,
      ha1: ha1 ?? DUMMY_HA1.slice(0, ha1Length(algorithm)),
      nonce: pending.nonce,
      method: req.method,
      uri: pending.uri,
      qop: pending.qop,
      nc: pending.nc,
      cnonce: pending.cnonce,
    });
    const matches = sameText(expected, pending.response);
    if (ha1 === undefined) return fail('unknown-user', username);
    if (!matches) return fail('bad-response', username);

    // RFC 7616 §3.3: stale=true only when the credentials were right, so the client retries
    // with the new nonce instead of prompting the user again.
    if (pending.expired) return { ok: false, reason: 'stale', stale: true, username };

    if (pending.qop !== undefined && pending.nc !== undefined) {
      const counted = this.nonceCounts.record(pending.nonce, parseInt(pending.nc, 16), pending.issuedAt, this.now());
      if (counted === 'replay') return fail('replay', username);
      if (counted === 'forgotten') return { ok: false, reason: 'stale', stale: true, username };
    }
    return { ok: true, username, realm: this.realm, algorithm };
  }
}

/** The digest uri and the Request-URI name the same URI: compared as URIs, or as text when either does not parse. */
function sameUri(digestUri: string, requestUri: string): boolean {
  if (digestUri === requestUri) return true;
  try {
    return uriEquals(parseUri(digestUri), parseUri(requestUri));
  } catch {
    return false;
  }
}

function ha1Length(algorithm: DigestAlgorithm): number {
  return algorithm.startsWith('MD5') ? 32 : 64;
}
