import { createCa, createServerCertificate, type PemPair } from '@psi-lab/pki';

let cached: { ca: PemPair; server: PemPair } | undefined;

/** One CA and server certificate per test process: RSA key generation is slow in pure JS. */
export function testCertificates(): { ca: PemPair; server: PemPair } {
  if (!cached) {
    const ca = createCa('psi-lab test CA');
    cached = { ca, server: createServerCertificate(ca) };
  }
  return cached;
}
