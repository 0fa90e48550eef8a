import { createHash } from 'node:crypto';
import type { HashAlgorithm } from './types.js';

/** Stated in every weak-password error, so the fix is in the message. */
export const PASSWORD_POLICY = 'at least 8 characters, not the extension itself, and not all digits';

/** What is wrong with a SIP password for this extension, or undefined when it passes. */
export function passwordWeakness(password: string, extension: string): string | undefined {
  if (password.length < 8) return `it has ${password.length} characters`;
  if (password === extension) return 'it is the extension itself';
  if (/^[0-9]+$/.test(password)) return 'it is all digits';
  return undefined;
}

/** RFC 7616 §3.4.2: HA1 = H(username ":" realm ":" password), lower-case hex. */
export function computeHa1(extension: string, realm: string, password: string, algorithm: HashAlgorithm): string {
  const hash = algorithm === 'MD5' ? 'md5' : 'sha256';
  return createHash(hash).update(`${extension}:${realm}:${password}`, 'utf8').digest('hex');
}
