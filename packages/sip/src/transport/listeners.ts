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
