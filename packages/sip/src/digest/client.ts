import { randomBytes } from 'node:crypto';
import { formatAuthHeader, parseAuthHeader } from '../message/auth.js';
import type { AuthHeader } from '../message/auth.js';
import { computeDigestResponse, computeHa1, parseDigestAlgorithm } from './algorithms.js';
import type { DigestAlgorithm, DigestQop } from './algorithms.js';

export interface AnswerChallengeOptions {
  /** One WWW-Authenticate or Proxy-Authenticate value. */
  challenge: string;
  method: string;
  /** The Request-URI of the request being authorized, exactly as it will be sent. */
  uri: string;
  username: string;
  /** Give either the password or a precomputed HA1 = H(username:realm:password). */
  password?: string;
  ha1?: string;
  /** Random when absent; fixed only for tests and vectors. */
  cnonce?: string;
  /** How many times this nonce has been used, this request included. Default 1. */
  nc?: number;
  /** Only hashed when the server offers nothing but qop=auth-int. */
  body?: string | Buffer;
}

function parseDigestChallenge(value: string): AuthHeader {
  const parsed = parseAuthHeader(value, 'WWW-Authenticate');
  if (parsed.scheme.toLowerCase() !== 'digest') {
    throw new Error(`cannot answer a ${parsed.scheme} challenge: only Digest is supported`);
  }
  return parsed;
}

function offeredQops(challenge: AuthHeader): string[] | undefined {
  const qop = challenge.params.get('qop');
  return qop?.split(',').map((option) => option.trim().toLowerCase()).filter(Boolean);
}

/** qop=auth when offered; auth-int only when it is the sole option; none for RFC 2069 servers. */
function chooseQop(offered: string[] | undefined): DigestQop | undefined | null {
  if (offered === undefined) return undefined;
  if (offered.includes('auth')) return 'auth';
  if (offered.includes('auth-int')) return 'auth-int';
  return null;
}

/** Builds the Authorization (or Proxy-Authorization) value answering one Digest challenge. */
export function answerChallenge(options: AnswerChallengeOptions): string {
  const challenge = parseDigestChallenge(options.challenge);
  const realm = challenge.params.get('realm');
  const nonce = challenge.params.get('nonce');
  if (realm === undefined || nonce === undefined) throw new Error('Digest challenge lacks realm or nonce');

  const algorithmText = challenge.params.get('algorithm');
  const algorithm = parseDigestAlgorithm(algorithmText);
  if (algorithm === undefined) throw new Error(`unsupported Digest algorithm ${algorithmText}`);

  const qop = chooseQop(offeredQops(challenge));
  if (qop === null) throw new Error(`no supported qop in ${challenge.params.get('qop')}`);

  let ha1: string;
  if (options.ha1 !== undefined) ha1 = options.ha1;
  else if (options.password !== undefined) ha1 = computeHa1(algorithm, options.username, realm, options.password);
  else throw new TypeError('answerChallenge needs a password or an ha1');

  const nc = options.nc ?? 1;
  if (!Number.isInteger(nc) || nc < 1 || nc > 0xffffffff) throw new RangeError(`nonce-count out of range: ${nc}`);
  const ncText = nc.toString(16).padStart(8, '0');
  // -sess needs a cnonce even without qop, to derive the session key.
  const needsCnonce = qop !== undefined || algorithm.endsWith('-sess');
  const cnonce = needsCnonce ? (options.cnonce ?? randomBytes(12).toString('hex')) : undefined;

  const response = computeDigestResponse({
    algorithm,
    ha1,
    nonce,
    method: options.method,
    uri: options.uri,
    qop,
    nc: qop ? ncText : undefined,
    cnonce,
    body: options.body,
  });

  const params: Array<[string, string]> = [
    ['username', options.username],
    ['realm', realm],
    ['nonce', nonce],
    ['uri', options.uri],
    ['response', response],
  ];
  // Echo algorithm only when the server named it: RFC 2069-era servers do not expect it.
  if (algorithmText !== undefined) params.push(['algorithm', algorithm]);
  if (cnonce !== undefined) params.push(['cnonce', cnonce]);
  const opaque = challenge.params.get('opaque');
  if (opaque !== undefined) params.push(['opaque', opaque]);
  if (qop !== undefined) params.push(['qop', qop], ['nc', ncText]);
  return formatAuthHeader({ scheme: 'Digest', params });
}

/**
 * Picks the challenge to answer among several (RFC 8760 §2.4: a server may offer one per
 * algorithm). Returns the first value using the most preferred algorithm we can answer,
 * or undefined when none is usable.
 */
export function pickChallenge(values: string[], prefer: DigestAlgorithm[] = ['SHA-256', 'MD5']): string | undefined {
  let best: { value: string; rank: number } | undefined;
  for (const value of values) {
    let challenge: AuthHeader;
    try {
      challenge = parseDigestChallenge(value);
    } catch {
      continue;
    }
    if (!challenge.params.has('realm') || !challenge.params.has('nonce')) continue;
    if (chooseQop(offeredQops(challenge)) === null) continue;
    const algorithm = parseDigestAlgorithm(challenge.params.get('algorithm'));
    const rank = algorithm === undefined ? -1 : prefer.indexOf(algorithm);
    if (rank < 0) continue;
    if (best === undefined || rank < best.rank) best = { value, rank };
  }
  return best?.value;
}
