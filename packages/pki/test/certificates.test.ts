import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import forge from 'node-forge';
import { createCa, createServerCertificate, ensureLabCertificates, serialNumberFrom, writeFileAtomic } from '../src/index.js';

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

  it('generates once, keeps the CA key apart from the certificate it signs, and reads the same files back after', () => {
    const folders = { caDir: join(dir, 'ca'), certDir: join(dir, 'certs') };
    const first = ensureLabCertificates(folders);
    const second = ensureLabCertificates(folders);
    expect(second.ca.cert).toBe(first.ca.cert);
    expect(second.server.cert).toBe(first.server.cert);
    expect(readFileSync(first.files!.caFile, 'utf8')).toBe(first.ca.cert);
    expect(statSync(first.files!.keyFile).mode & 0o077).toBe(0);
    expect(readdirSync(folders.certDir).sort()).toEqual(['ca.pem', 'server.key', 'server.pem']);
    expect(readdirSync(folders.caDir).sort()).toEqual(['ca.key', 'ca.pem']);
    expect(statSync(folders.caDir).mode & 0o077).toBe(0);
    expect(statSync(join(folders.caDir, 'ca.key')).mode & 0o077).toBe(0);
  });

  it('makes a new server certificate (same CA) when the names change, and moves an old lab\'s CA key out of the certificates', () => {
    const certDir = join(dir, 'old-certs');
    // An older lab kept everything in one folder.
    const old = createCa();
    mkdirSync(certDir, { recursive: true });
    writeFileSync(join(certDir, 'ca.pem'), old.cert);
    writeFileSync(join(certDir, 'ca.key'), old.key);
    const caDir = join(dir, 'moved-ca');
    const first = ensureLabCertificates({ caDir, certDir, names: ['localhost', '127.0.0.1'] });
    expect(first.ca.cert).toBe(old.cert);
    expect(existsSync(join(certDir, 'ca.key'))).toBe(false);
    expect(readFileSync(join(caDir, 'ca.key'), 'utf8')).toBe(old.key);
    const renamed = ensureLabCertificates({ caDir, certDir, names: ['localhost', '127.0.0.1', 'gw.psi-lab.test'] });
    expect(renamed.server.cert).not.toBe(first.server.cert);
    expect(new X509Certificate(renamed.server.cert).checkHost('gw.psi-lab.test')).toBe('gw.psi-lab.test');
    expect(ensureLabCertificates({ caDir, certDir, names: ['gw.psi-lab.test'] }).server.cert).toBe(renamed.server.cert);
  });

  // OpenSSL 3 refuses a DER INTEGER with a redundant leading byte ("illegal padding"); forge strips
  // only one. The draws that used to make one certificate in 512 unreadable are the edge cases here.
  it.each([
    ['zeros', [0x00, 0x00, 0x7f]],
    ['a zero, then a small byte', [0x00, 0x12, 0xff]],
    ['a zero, then a high byte', [0x00, 0x80, 0x00]],
    ['the sign bit set', [0xff, 0xff, 0x01]],
    ['0x80', [0x80, 0x00, 0x00]],
    ['all zero', [0x00, 0x00, 0x00]],
  ])('makes a positive, minimally encoded serial number from %s', (_what, head) => {
    const bytes = new Uint8Array(16);
    bytes.set(head);
    const hex = serialNumberFrom(bytes);
    expect(hex).toMatch(/^(0[1-9a-f]|[1-7][0-9a-f])[0-9a-f]{30}$/);
    const keys = forge.pki.rsa.generateKeyPair(512);
    const cert = forge.pki.createCertificate();
    cert.publicKey = keys.publicKey;
    cert.serialNumber = hex;
    cert.setSubject([{ name: 'commonName', value: 'serial' }]);
    cert.setIssuer([{ name: 'commonName', value: 'serial' }]);
    cert.sign(keys.privateKey, forge.md.sha256.create());
    // Throws ERR_OSSL_ASN1_ILLEGAL_PADDING on a padded serial.
    expect(new X509Certificate(forge.pki.certificateToPem(cert)).serialNumber.toLowerCase()).toBe(hex);
  });

  it('replaces a file whole (a temporary name, then rename), with the mode asked, leaving no temporary behind', () => {
    const target = join(dir, 'atomic.pem');
    writeFileSync(target, 'old');
    writeFileAtomic(target, 'new contents', 0o600);
    expect(readFileSync(target, 'utf8')).toBe('new contents');
    expect(statSync(target).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).filter((f) => f.includes('atomic.pem') && f !== 'atomic.pem')).toEqual([]);
  });
});
