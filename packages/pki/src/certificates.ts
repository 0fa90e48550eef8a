import { X509Certificate, generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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

/**
 * An RSA 2048 key pair made by node:crypto (OpenSSL, native: tens of milliseconds) rather than
 * forge's JavaScript (seconds), in the shape forge signs and builds certificates with.
 */
function rsaKeyPair(): { publicKey: forge.pki.rsa.PublicKey; privateKey: forge.pki.rsa.PrivateKey } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    publicKey: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()) as forge.pki.rsa.PublicKey,
    privateKey: forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()) as forge.pki.rsa.PrivateKey,
  };
}

/** A self-signed CA: what clients install to trust the lab. */
export function createCa(commonName = 'psi-lab CA', days = 3650): PemPair {
  const keys = rsaKeyPair();
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
  const keys = rsaKeyPair();
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

export interface LabCertificateOptions extends ServerCertificateOptions {
  /** Where the CA lives (ca.pem, ca.key): apart from every certificate it signs, readable by its owner only. */
  caDir: string;
  /** Where the server certificate goes (server.pem, server.key) with a copy of ca.pem, the file clients install. */
  certDir: string;
}

/**
 * The lab's CA in `caDir` (read when present, made once when not, so clients that installed it
 * keep trusting the lab) and a server certificate it signed in `certDir`. The CA's private key
 * never sits beside a certificate it signed: whoever can read the gateway's files cannot mint
 * certificates. A server certificate that does not cover `names` (the public address changed)
 * or expires within 30 days is made anew.
 */
export function ensureLabCertificates(options: LabCertificateOptions): LabCertificates {
  const { caDir, certDir, ...serverOptions } = options;
  const ca = ensureLabCa(caDir, certDir);
  const files = { caFile: join(certDir, 'ca.pem'), certFile: join(certDir, 'server.pem'), keyFile: join(certDir, 'server.key') };
  mkdirSync(certDir, { recursive: true });
  if (!existsSync(files.caFile) || readFileSync(files.caFile, 'utf8') !== ca.cert) writeFileAtomic(files.caFile, ca.cert);
  let server: PemPair | undefined;
  if (existsSync(files.certFile) && existsSync(files.keyFile)) {
    const current = { cert: readFileSync(files.certFile, 'utf8'), key: readFileSync(files.keyFile, 'utf8') };
    if (stillFits(current.cert, ca.cert, serverOptions.names ?? DEFAULT_NAMES)) server = current;
  }
  if (!server) {
    server = createServerCertificate(ca, serverOptions);
    // Key first: whoever sees the certificate can then read its key.
    writeFileAtomic(files.keyFile, server.key, 0o600);
    writeFileAtomic(files.certFile, server.cert);
  }
  return { ca, server, files };
}

/**
 * The CA in `dir`, made once. A CA key left in `formerDir` by an older lab (which kept it with
 * the server certificate) is moved here first, so the sets that trust that CA keep trusting.
 */
export function ensureLabCa(dir: string, formerDir?: string): PemPair {
  const caFile = join(dir, 'ca.pem');
  const caKeyFile = join(dir, 'ca.key');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const oldKey = formerDir === undefined ? undefined : join(formerDir, 'ca.key');
  if (oldKey && existsSync(oldKey) && !existsSync(caKeyFile) && existsSync(join(formerDir!, 'ca.pem'))) {
    writeFileAtomic(caKeyFile, readFileSync(oldKey, 'utf8'), 0o600);
    writeFileAtomic(caFile, readFileSync(join(formerDir!, 'ca.pem'), 'utf8'));
    rmSync(oldKey);
  }
  if (existsSync(caFile) && existsSync(caKeyFile)) return { cert: readFileSync(caFile, 'utf8'), key: readFileSync(caKeyFile, 'utf8') };
  const ca = createCa();
  writeFileAtomic(caKeyFile, ca.key, 0o600);
  writeFileAtomic(caFile, ca.cert);
  return ca;
}

/** Signed by this CA, valid for 30 more days at least, and naming every one of `names`. */
function stillFits(certPem: string, caPem: string, names: string[]): boolean {
  try {
    const cert = new X509Certificate(certPem);
    if (!cert.checkIssued(new X509Certificate(caPem))) return false;
    if (Date.parse(cert.validTo) - Date.now() < 30 * 86_400_000) return false;
    return names.every((name) => (isIp(name) ? cert.checkIP(name) !== undefined : cert.checkHost(name) !== undefined));
  } catch {
    return false;
  }
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
