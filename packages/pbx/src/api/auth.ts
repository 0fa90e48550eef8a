import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { MbgEntry } from '../store/types.js';
import { ApiError } from './errors.js';

/** Compares secrets in constant time; hashing first makes the lengths equal and hides them. */
export function secretsEqual(given: string, expected: string): boolean {
  const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** Administrators and tools: `Authorization: Bearer <token>`. */
export function requireBearer(req: IncomingMessage, token: string): void {
  const header = req.headers.authorization ?? '';
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match || !secretsEqual(match[1], token)) {
    throw new ApiError(401, 'unauthorized', 'authorization',
      header ? 'the bearer token is wrong' : 'this API needs an "Authorization: Bearer <token>" header',
      { 'www-authenticate': 'Bearer realm="psi-pbx"' });
  }
}

/**
 * The gateway: HTTP Basic with the MBG entry's account and shared secret, as the real MBG
 * authenticates its link to the MiVoice 5000. 403 while no MBG entry exists: then no
 * credentials could ever be right, and saying so is the useful answer.
 */
export function requireGateway(req: IncomingMessage, mbg: MbgEntry | null): void {
  if (!mbg) throw new ApiError(403, 'no-gateway', null, 'no MBG entry is configured on the pbx: add one (PUT /api/mbg) before the gateway can read credentials');
  // Set credentials go to the MBG's own address only, whoever knows its secret.
  const source = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  if (source !== mbg.address) {
    throw new ApiError(403, 'not-the-gateway', null, `the gateway route answers only the MBG's address (${isIP(mbg.address) ? 'the one in the MBG entry' : 'an IP address: the MBG entry names a host'}), not ${source}`);
  }
  const challenge = { 'www-authenticate': 'Basic realm="psi-pbx gateway", charset="UTF-8"' };
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(req.headers.authorization ?? '');
  if (!match) throw new ApiError(401, 'unauthorized', 'authorization', 'the gateway route needs HTTP Basic authentication with the MBG account and shared secret', challenge);
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const account = colon < 0 ? decoded : decoded.slice(0, colon);
  const secret = colon < 0 ? '' : decoded.slice(colon + 1);
  // Both compared every time: which half was wrong is not the caller's business.
  const accountOk = secretsEqual(account, mbg.account);
  const secretOk = secretsEqual(secret, mbg.sharedSecret);
  if (!accountOk || !secretOk) throw new ApiError(401, 'unauthorized', 'authorization', 'wrong MBG account or shared secret', challenge);
}
