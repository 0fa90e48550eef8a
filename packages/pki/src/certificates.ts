import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import forge from 'node-forge';

export interface PemPair {
  cert: string;
  key: string;
}

export interface LabCertificates {
  ca: PemPair;
  server: PemPair;
  /** Paths when written to a folder. */
  files?: { caFile: string; certFile: string; keyFile: string };
}

export interface ServerCertificateOptions {
  /** DNS names and IP addresses the certificate is valid for (subjectAltName). */
  names?: string[];
  commonName?: string;
  days?: number;
}

const DEFAULT_NAMES = ['localhost', '127.0.0.1', '::1'];

/** A self-signed CA: what clients install to trust the lab. */
export function createCa(commonName = 'psi-lab CA', days = 3650): PemPair {
  const keys = forge.pki.rsa.generateKeyPair(2048);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + days * 86_400_000);
  const attrs = [{ name: 'commonName', value: commonName }, { name: 'organizationName', value: 'psi-lab' }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(keys.privateKey) };
}

/** A server certificate signed by `ca`, for TLS and WSS listeners and HTTPS. */
export function createServerCertificate(ca: PemPair, options: ServerCertificateOptions = {}): PemPair {
  const names = options.names ?? DEFAULT_NAMES;
  const caCert = forge.pki.certificateFromPem(ca.cert);
  const caKey = forge.pki.privateKeyFromPem(ca.key);
  const keys = forge.pki.rsa.generateKeyPair(2048);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + (options.days ?? 825) * 86_400_000);
  cert.setSubject([{ name: 'commonName', value: options.commonName ?? names[0] }, { name: 'organizationName', value: 'psi-lab' }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    {
      name: 'subjectAltName',
      altNames: names.map((n) => (isIp(n) ? { type: 7, ip: n } : { type: 2, value: n })),
    },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(keys.privateKey) };
}

/**
 * The lab's certificates in `dir` (ca.pem, ca.key, server.pem, server.key): read when present,
 * generated once when not, so clients that installed the CA keep trusting the lab.
 */
export function ensureLabCertificates(dir: string, options: ServerCertificateOptions = {}): LabCertificates {
  const files = { caFile: join(dir, 'ca.pem'), certFile: join(dir, 'server.pem'), keyFile: join(dir, 'server.key') };
  const caKeyFile = join(dir, 'ca.key');
  if ([files.caFile, caKeyFile, files.certFile, files.keyFile].every((f) => existsSync(f))) {
    return {
      ca: { cert: readFileSync(files.caFile, 'utf8'), key: readFileSync(caKeyFile, 'utf8') },
      server: { cert: readFileSync(files.certFile, 'utf8'), key: readFileSync(files.keyFile, 'utf8') },
      files,
    };
  }
  mkdirSync(dir, { recursive: true });
  const ca = existsSync(files.caFile) && existsSync(caKeyFile)
    ? { cert: readFileSync(files.caFile, 'utf8'), key: readFileSync(caKeyFile, 'utf8') }
    : createCa();
  const server = createServerCertificate(ca, options);
  // Keys first: whoever sees a certificate can then read its key.
  writeFileAtomic(caKeyFile, ca.key, 0o600);
  writeFileAtomic(files.caFile, ca.cert);
  writeFileAtomic(files.keyFile, server.key, 0o600);
  writeFileAtomic(files.certFile, server.cert);
  return { ca, server, files };
}

/**
 * A serial number as forge wants it (hex), from 16 random bytes: positive and minimally encoded.
 * Why by hand: forge writes the hex as the DER INTEGER's bytes and strips at most one leading
 * zero byte, and OpenSSL 3 refuses a certificate whose serial keeps a redundant one ("illegal
 * padding"). A first byte in 0x01..0x7f is neither negative nor padded, so every draw is valid.
 */
export function serialNumberFrom(bytes: Uint8Array): string {
  if (bytes.length < 1 || bytes.length > 20) throw new RangeError(`a serial number takes 1 to 20 bytes, not ${bytes.length}`);
  const hex = Buffer.from(bytes).toString('hex');
  const first = (bytes[0]! & 0x7f) || 0x01;
  return first.toString(16).padStart(2, '0') + hex.slice(2);
}

function randomSerial(): string {
  return serialNumberFrom(randomBytes(16));
}

/**
 * Written beside the target, then renamed over it: a reader (a watcher, a test, a set fetching
 * the CA) sees the old file or the new one, never half of one.
 */
export function writeFileAtomic(file: string, data: string, mode = 0o644): void {
  const temporary = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    writeFileSync(temporary, data, { mode });
    renameSync(temporary, file);
  } catch (e) {
    rmSync(temporary, { force: true });
    throw e;
  }
}

function isIp(name: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(name) || name.includes(':');
}
