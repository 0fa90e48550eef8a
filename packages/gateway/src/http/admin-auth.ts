import { createHash, timingSafeEqual } from 'node:crypto';

/** The challenge sent with 401: Basic, so a browser opening the status page asks for the token. */
export const ADMIN_CHALLENGE = 'Basic realm="psi-lab gateway admin", charset="UTF-8"';

/**
 * Whether an `Authorization` header carries the admin token: `Bearer <token>` for tools, or
 * HTTP Basic with the token as password and any user name for browsers.
 */
export function carriesAdminToken(authorization: string | undefined, token: string): boolean {
  if (!authorization) return false;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (bearer) return secretsEqual(bearer[1], token);
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization);
  if (!basic) return false;
  const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  // user-pass = user-id ":" password; without a colon there is no password at all.
  if (colon < 0) return false;
  return secretsEqual(decoded.slice(colon + 1), token);
}

/** Compares in constant time; hashing first makes the lengths equal and hides them. */
function secretsEqual(given: string, expected: string): boolean {
  const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}
