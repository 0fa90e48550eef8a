import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';

/** A token shorter than this is no credential. */
const MIN_TOKEN_LENGTH = 16;

/**
 * The admin token kept in `file`: read when it holds one, made (24 random bytes, base64url) and
 * written 0600 when not. Returns it and whether it was made now (to say so once, at first start).
 * @throws Error naming the file when it holds something too short to be a token.
 */
export function ensureAdminToken(file: string): { token: string; created: boolean } {
  if (existsSync(file)) {
    const token = readFileSync(file, 'utf8').trim();
    if (token.length < MIN_TOKEN_LENGTH) throw new Error(`the admin token in ${file} is shorter than ${MIN_TOKEN_LENGTH} characters: delete the file to have one made, or write a longer one`);
    chmodSync(file, 0o600);
    return { token, created: false };
  }
  const token = randomBytes(24).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  return { token, created: true };
}
