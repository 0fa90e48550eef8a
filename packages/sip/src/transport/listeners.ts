import { readFileSync } from 'node:fs';
import type { SecureContextOptions } from 'node:tls';

/** TLS material given as PEM file paths (the usual deployment) or as PEM text (tests). */
export interface TlsOptions {
  certFile?: string;
  keyFile?: string;
  caFile?: string;
  cert?: string | Buffer;
  key?: string | Buffer;
  ca?: string | Buffer;
  /** For clients: verify the server's certificate (default true). */
  rejectUnauthorized?: boolean;
}

export function secureContextOptions(tls: TlsOptions | undefined, what: string): SecureContextOptions {
  const read = (file: string | undefined, inline: string | Buffer | undefined, field: string): string | Buffer | undefined => {
    if (inline !== undefined) return inline;
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (e) {
      throw new Error(`${what}: cannot read ${field} "${file}": ${(e as Error).message}`);
    }
  };
  return {
    cert: read(tls?.certFile, tls?.cert, 'certFile'),
    key: read(tls?.keyFile, tls?.key, 'keyFile'),
    ca: read(tls?.caFile, tls?.ca, 'caFile'),
    // Remote sets must not be talked down to TLS 1.0/1.1 (PSI requires a modern border).
    minVersion: 'TLSv1.2',
  };
}

/**
 * TLS 1.2 suites a server accepts: Mozilla's "intermediate" set less its DHE suites, so ECDHE
 * key exchange and AEAD ciphers only (no static RSA, no CBC, no CCM8). TLS 1.3 suites are not
 * set by this string and stay Node's (all AEAD).
 */
export const SERVER_TLS_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** A TLS handshake not finished by then is cut: a half-open handshake holds a socket for nothing. */
export const TLS_HANDSHAKE_TIMEOUT_MS = 5_000;

/** What every TLS server of psi-lab is made with (SIP over TLS, WSS, HTTPS): the context, the suites, the handshake bound. */
export function serverTlsOptions(tls: TlsOptions | undefined, what: string): SecureContextOptions & { handshakeTimeout: number } {
  return { ...serverSecureContext(tls, what), handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS };
}

/** The part of serverTlsOptions a running server can swap (`setSecureContext`): certificate, key, suites. */
export function serverSecureContext(tls: TlsOptions | undefined, what: string): SecureContextOptions {
  return { ...secureContextOptions(tls, what), ciphers: SERVER_TLS_CIPHERS, honorCipherOrder: true };
}
