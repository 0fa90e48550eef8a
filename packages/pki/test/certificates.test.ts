import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createCa, createServerCertificate, ensureLabCertificates } from '../src/index.js';

describe('lab certificates', () => {
  const dir = mkdtempSync(join(tmpdir(), 'psi-pki-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('signs a server certificate the CA verifies, valid for its names', () => {
    const ca = createCa('test CA');
    const server = createServerCertificate(ca, { names: ['gw.psi-lab.test', '127.0.0.1'] });
    const caCert = new X509Certificate(ca.cert);
    const cert = new X509Certificate(server.cert);
    expect(caCert.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkHost('gw.psi-lab.test')).toBe('gw.psi-lab.test');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkHost('other.example')).toBeUndefined();
    expect(cert.checkIssued(caCert)).toBe(true);
  });

  it('generates once into a folder and reads the same files back after', () => {
    const first = ensureLabCertificates(join(dir, 'certs'));
    const second = ensureLabCertificates(join(dir, 'certs'));
    expect(second.ca.cert).toBe(first.ca.cert);
    expect(second.server.cert).toBe(first.server.cert);
    expect(readFileSync(first.files!.caFile, 'utf8')).toBe(first.ca.cert);
    expect(statSync(first.files!.keyFile).mode & 0o077).toBe(0);
  });
});
