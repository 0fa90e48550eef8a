import { X509Certificate, createPrivateKey } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, readFileSync, unwatchFile, watchFile } from 'node:fs';
import { dirname, join } from 'node:path';
import { createCa, createServerCertificate, writeFileAtomic } from '@psi-lab/pki';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/index.js';

export interface CertificateInfo {
  subject: string;
  validTo: string;
  fingerprint256: string;
  loadedAt: string;
}

export interface WebCertificateEvents {
  /** A new certificate was read and checked: listeners switch to it. */
  reload: [pem: { cert: string; key: string }];
}

/**
 * The MBG's "Web Server" certificate: one PEM pair serving SIP over TLS, WSS and the HTTPS status
 * page. Generated (with a CA for sets to install) when none exists; re-read when its files change
 * or on demand (SIGHUP). A new pair that fails to load is refused and the old one stays in use.
 */
export class WebCertificate extends EventEmitter<WebCertificateEvents> {
  cert: string;
  key: string;
  private loadedAt = new Date();
  private watching = false;
  private debounce: NodeJS.Timeout | undefined;

  private constructor(private readonly config: GatewayConfig['certificate'], private readonly logger?: Logger) {
    super();
    const pair = readPair(config.certFile, config.keyFile);
    this.cert = pair.cert;
    this.key = pair.key;
  }

  /** Load the configured pair, generating a CA and a server certificate first if the files are missing. */
  static open(config: GatewayConfig['certificate'], logger?: Logger): WebCertificate {
    // A CA key left beside the certificate (by an older psi-lab) lets whoever reads these files mint certificates.
    const strayCaKey = join(dirname(config.caFile), 'ca.key');
    if (existsSync(strayCaKey)) logger?.warn({ file: strayCaKey }, 'a CA private key sits beside the gateway\'s certificate: move it somewhere only its owner reads (it is not needed to serve TLS)');
    if (!existsSync(config.certFile) || !existsSync(config.keyFile)) generate(config, logger);
    return new WebCertificate(config, logger);
  }

  get info(): CertificateInfo {
    const x509 = new X509Certificate(this.cert);
    return { subject: x509.subject.replace(/\n/g, ', '), validTo: new Date(x509.validTo).toISOString(), fingerprint256: x509.fingerprint256, loadedAt: this.loadedAt.toISOString() };
  }

  /** Read the files again; true when a new certificate is now in use. */
  reload(): boolean {
    let pair;
    try {
      pair = readPair(this.config.certFile, this.config.keyFile);
    } catch (e) {
      this.logger?.error({ err: (e as Error).message }, 'certificate not reloaded: the previous one stays in use');
      return false;
    }
    if (pair.cert === this.cert && pair.key === this.key) return false;
    this.cert = pair.cert;
    this.key = pair.key;
    this.loadedAt = new Date();
    this.logger?.info({ subject: this.info.subject, validTo: this.info.validTo, fingerprint256: this.info.fingerprint256 }, 'certificate reloaded');
    this.emit('reload', pair);
    return true;
  }

  /** Reload when either file changes (polled: works on every file system, including bind mounts). */
  watch(intervalMs = 2000): void {
    if (this.watching) return;
    this.watching = true;
    const onChange = (): void => {
      // A certificate and its key are usually replaced one after the other: wait for both.
      clearTimeout(this.debounce);
      this.debounce = setTimeout(() => {
        try {
          this.reload();
        } catch (e) {
          this.logger?.error({ err: (e as Error).message }, 'certificate reload failed: the previous one stays in use');
        }
      }, 300);
      this.debounce.unref();
    };
    for (const f of [this.config.certFile, this.config.keyFile]) watchFile(f, { interval: intervalMs, persistent: false }, onChange);
  }

  close(): void {
    clearTimeout(this.debounce);
    if (!this.watching) return;
    for (const f of [this.config.certFile, this.config.keyFile]) unwatchFile(f);
    this.watching = false;
  }
}

/** Both files, checked: a readable certificate, a readable key, and the key belongs to the certificate. */
function readPair(certFile: string, keyFile: string): { cert: string; key: string } {
  const read = (file: string, what: string): string => {
    try {
      return readFileSync(file, 'utf8');
    } catch (e) {
      throw new Error(`certificate.${what}: cannot read "${file}": ${(e as Error).message}`);
    }
  };
  const cert = read(certFile, 'certFile');
  const key = read(keyFile, 'keyFile');
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (e) {
    throw new Error(`certificate.certFile: "${certFile}" is not a PEM certificate (${(e as Error).message})`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (e) {
    throw new Error(`certificate.keyFile: "${keyFile}" is not a PEM private key (${(e as Error).message})`);
  }
  if (!x509.checkPrivateKey(privateKey)) throw new Error(`certificate.keyFile: "${keyFile}" is not the key of "${certFile}"`);
  // What the listeners will do with it: a chain with a broken block passes the checks above only.
  try {
    createSecureContext({ cert, key, minVersion: 'TLSv1.2' });
  } catch (e) {
    throw new Error(`certificate.certFile: "${certFile}" cannot serve TLS (${(e as Error).message})`);
  }
  const now = Date.now();
  if (Date.parse(x509.validTo) < now) throw new Error(`certificate.certFile: "${certFile}" expired on ${new Date(x509.validTo).toISOString()}`);
  return { cert, key };
}

/**
 * A first start without a certificate: a CA made for the occasion signs a server certificate,
 * and its private key is thrown away. Kept beside the certificate, it would let anyone who can
 * read the gateway's files mint certificates its sets trust; a deployment that wants to renew
 * under the same CA signs its own certificate and points certFile and keyFile at it.
 */
function generate(config: GatewayConfig['certificate'], logger?: Logger): void {
  const ca = createCa('psi-lab gateway CA');
  const server = createServerCertificate(ca, { names: config.names });
  for (const f of [config.caFile, config.certFile, config.keyFile]) mkdirSync(dirname(f), { recursive: true });
  const replacedCa = existsSync(config.caFile);
  // Key first, each file renamed into place whole: the watcher never reads half a pair.
  writeFileAtomic(config.keyFile, server.key, 0o600);
  writeFileAtomic(config.caFile, ca.cert);
  writeFileAtomic(config.certFile, server.cert);
  logger?.info({ certFile: config.certFile, caFile: config.caFile, names: config.names }, 'generated the Web Server certificate and a CA for it (sets install the CA; its private key was not kept)');
  if (replacedCa) logger?.warn({ caFile: config.caFile }, 'the CA file was replaced by a new CA: sets must install it again');
}
