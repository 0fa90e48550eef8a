import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import tls, { type TLSSocket } from 'node:tls';
import { createCa, createServerCertificate, writeFileAtomic, type PemPair } from '@psi-lab/pki';
import { leaseLoopbackAddress } from '@psi-lab/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startGatewayLab, type GatewayLab } from './helpers/gateway-lab.js';
import { waitFor } from './helpers/test-set.js';

const HOST = await leaseLoopbackAddress();
const SIP_TLS_PORT = 5061;
const HTTPS_PORT = 8443;
/** The names the gateway puts in the certificate it generates (certificate.names by default). */
const NAMES = ['localhost', '127.0.0.1', HOST];
/** How often this lab's watcher polls the files (the default is 2 s): a change is seen in a moment. */
const WATCH_INTERVAL_MS = 100;
/** A poll, the watcher's 300 ms wait for the second file, and a loaded machine's delays, many times over. */
const WATCH_TIMEOUT_MS = 10_000;

let lab: GatewayLab;
let certs: { dir: string; caFile: string; certFile: string; keyFile: string };
/**
 * Server certificates an operator renews with, signed by a CA of the operator's: the one the
 * gateway generated kept no private key. The clients here trust both CAs.
 */
let renewalCa: PemPair;
let trusted: string[];
let renewed: PemPair;
let third: PemPair;
const sockets: TLSSocket[] = [];

beforeAll(async () => {
  lab = await startGatewayLab(HOST, { certificate: { watchIntervalMs: WATCH_INTERVAL_MS } });
  const dir = join(lab.dir, 'certs');
  certs = { dir, caFile: join(dir, 'ca.pem'), certFile: join(dir, 'server.pem'), keyFile: join(dir, 'server.key') };
  renewalCa = createCa('the operator\'s CA');
  trusted = [lab.ca, renewalCa.cert];
  renewed = createServerCertificate(renewalCa, { names: NAMES, commonName: 'renewed.gateway.lab' });
  third = createServerCertificate(renewalCa, { names: NAMES, commonName: 'third.gateway.lab' });
}, 60_000);
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.destroy();
});
afterAll(async () => {
  await lab?.close();
});

function fingerprintOf(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

/** The server pair the gateway is not using now, of the two made for these tests: a change to make. */
function pairNotLoaded(): PemPair {
  return lab.gateway.status().certificate.fingerprint256 === fingerprintOf(renewed.cert) ? third : renewed;
}

/** A TLS connection to the gateway that completed its handshake (or the handshake's error). */
async function connect(port: number, options: tls.ConnectionOptions = { ca: trusted }): Promise<TLSSocket> {
  const socket = tls.connect({ host: HOST, port, ...options });
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', () => {
      socket.off('error', reject);
      resolve();
    });
    socket.once('error', reject);
  });
  return socket;
}

/** The certificate a brand-new connection is shown. */
async function freshFingerprint(port: number): Promise<string> {
  const socket = await connect(port);
  expect(socket.authorized).toBe(true);
  const fingerprint = socket.getPeerCertificate().fingerprint256;
  socket.destroy();
  return fingerprint;
}

/** Writes `request` and collects what comes back until `done` matches it. */
async function exchange(socket: TLSSocket, request: string, done: RegExp): Promise<string> {
  let received = '';
  const onData = (chunk: Buffer): void => {
    received += chunk.toString('utf8');
  };
  socket.on('data', onData);
  socket.write(request);
  try {
    await waitFor(() => done.test(received) || socket.destroyed, undefined, `an answer matching ${done}`);
  } finally {
    socket.off('data', onData);
  }
  return received;
}

let sequence = 0;
/** SIP OPTIONS over an open TLS connection: 200 proves the SIP side uses the connection. */
function sipOptions(socket: TLSSocket): Promise<string> {
  const n = ++sequence;
  const local = `${socket.localAddress}:${socket.localPort}`;
  const request = [
    `OPTIONS sip:${HOST} SIP/2.0`,
    `Via: SIP/2.0/TLS ${local};branch=z9hG4bK-cert-${n};rport`,
    'Max-Forwards: 70',
    `From: <sip:probe@${socket.localAddress}>;tag=cert${n}`,
    `To: <sip:${HOST}>`,
    `Call-ID: cert-${n}@${socket.localAddress}`,
    `CSeq: ${n} OPTIONS`,
    'Content-Length: 0', '', '',
  ].join('\r\n');
  return exchange(socket, request, /^SIP\/2\.0 \d{3}[^\r\n]*\r\n[\s\S]*\r\n\r\n/);
}

function httpHealthz(socket: TLSSocket): Promise<string> {
  return exchange(socket, `GET /healthz HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`, /\{"status":"ok"\}/);
}

/** Replaces the certificate files as an operator should: key first, each renamed into place whole. */
function installPair(cert: string, key: string): void {
  writeFileAtomic(certs.keyFile, key, 0o600);
  writeFileAtomic(certs.certFile, cert);
}

/**
 * What a TLS 1.1-only client gets; SECLEVEL=0 lets it offer TLS 1.1, so any refusal is the
 * server's. A handshake that succeeds fails the test at once (nothing else would end the wait).
 */
async function tls11Error(port: number): Promise<NodeJS.ErrnoException> {
  const old = tls.connect({ host: HOST, port, ca: trusted, minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
  sockets.push(old);
  return new Promise((resolve, reject) => {
    old.once('error', resolve);
    old.once('secureConnect', () => reject(new Error(`port ${port} completed a ${old.getProtocol()} handshake with a TLS 1.1-only client`)));
  });
}

/** The next certificate the gateway's listeners switch to; rejects, saying so, after `timeoutMs`. */
function nextReload(timeoutMs: number): Promise<{ cert: string; key: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      lab.gateway.certificate.off('reload', onReload);
      reject(new Error(`the watcher loaded no new certificate within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReload = (pem: { cert: string; key: string }): void => {
      clearTimeout(timer);
      resolve(pem);
    };
    lab.gateway.certificate.once('reload', onReload);
  });
}

describe('the gateway\'s Web Server certificate', () => {
  it('is generated at first start, with its CA, and serves TLS on 5061 and HTTPS on 8443', async () => {
    for (const file of [certs.caFile, certs.certFile, certs.keyFile]) expect(existsSync(file), file).toBe(true);
    expect(statSync(certs.keyFile).mode & 0o777).toBe(0o600);
    // The CA's private key is not kept beside the certificate it signed (nor anywhere).
    expect(readdirSync(certs.dir).sort()).toEqual(['ca.pem', 'server.key', 'server.pem']);
    const server = new X509Certificate(readFileSync(certs.certFile));
    const ca = new X509Certificate(lab.ca);
    expect(ca.ca).toBe(true);
    expect(server.verify(ca.publicKey)).toBe(true);
    expect(server.subjectAltName).toContain(`IP Address:${HOST}`);
    expect(lab.gateway.status().certificate.fingerprint256).toBe(server.fingerprint256);

    const sip = await connect(SIP_TLS_PORT);
    expect(sip.authorized).toBe(true);
    expect(sip.getPeerCertificate().fingerprint256).toBe(server.fingerprint256);
    expect(await sipOptions(sip)).toMatch(/^SIP\/2\.0 200 /);
    const web = await connect(HTTPS_PORT);
    expect(web.authorized).toBe(true);
    expect(web.getPeerCertificate().fingerprint256).toBe(server.fingerprint256);
    expect(await httpHealthz(web)).toMatch(/^HTTP\/1\.1 200 /);
  });

  it.each([SIP_TLS_PORT, HTTPS_PORT])('is not trusted on %i by a client without the CA', async (port) => {
    await expect(connect(port, {})).rejects.toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
  });

  it('is replaced without a restart when its files change, and open connections stay up', async () => {
    const before = lab.gateway.status().certificate.fingerprint256;
    const openSip = await connect(SIP_TLS_PORT);
    const openWeb = await connect(HTTPS_PORT);
    const next = pairNotLoaded();
    const wanted = fingerprintOf(next.cert);
    expect(wanted).not.toBe(before);

    // Nothing but the watcher reloads here: the event is its doing.
    const reloaded = nextReload(WATCH_TIMEOUT_MS);
    installPair(next.cert, next.key);
    expect(fingerprintOf((await reloaded).cert)).toBe(wanted);
    expect(lab.gateway.status().certificate.fingerprint256).toBe(wanted);
    expect(await freshFingerprint(SIP_TLS_PORT)).toBe(wanted);
    expect(await freshFingerprint(HTTPS_PORT)).toBe(wanted);

    // Connections made before keep their session, old certificate and all, and still work.
    expect(openSip.getPeerCertificate().fingerprint256).toBe(before);
    expect(await sipOptions(openSip)).toMatch(/^SIP\/2\.0 200 /);
    expect(openWeb.getPeerCertificate().fingerprint256).toBe(before);
    expect(await httpHealthz(openWeb)).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('refuses a replacement whose key does not match, keeping the current certificate', async () => {
    const current = lab.gateway.status().certificate.fingerprint256;
    const currentKey = readFileSync(certs.keyFile, 'utf8');
    const next = pairNotLoaded();
    installPair(next.cert, currentKey);
    expect(lab.gateway.reloadCertificate()).toBe(false);
    expect(lab.gateway.status().certificate.fingerprint256).toBe(current);
    expect(await freshFingerprint(SIP_TLS_PORT)).toBe(current);
    expect(await freshFingerprint(HTTPS_PORT)).toBe(current);

    // Once the matching key follows, the new pair is taken (by this call, or by the watcher just before).
    installPair(next.cert, next.key);
    lab.gateway.reloadCertificate();
    const wanted = fingerprintOf(next.cert);
    expect(lab.gateway.status().certificate.fingerprint256).toBe(wanted);
    expect(await freshFingerprint(SIP_TLS_PORT)).toBe(wanted);
    expect(await freshFingerprint(HTTPS_PORT)).toBe(wanted);
  });

  // A pair must make a TLS context before it is taken: the listeners would throw on it otherwise.
  it('refuses a replacement the TLS stack cannot use (a corrupt block after the certificate), keeping the current one', async () => {
    const current = lab.gateway.status().certificate.fingerprint256;
    const currentPair = { cert: readFileSync(certs.certFile, 'utf8'), key: readFileSync(certs.keyFile, 'utf8') };
    // The first block is a good certificate of the key (not the one in use, so taking it would show):
    // only a TLS context finds the rest broken.
    const next = pairNotLoaded();
    const corruptChain = `${next.cert}-----BEGIN CERTIFICATE-----\nAAAAAAAA\n-----END CERTIFICATE-----\n`;
    try {
      installPair(corruptChain, next.key);
      expect(lab.gateway.reloadCertificate()).toBe(false);
      expect(lab.gateway.status().certificate.fingerprint256).toBe(current);
      expect(await freshFingerprint(SIP_TLS_PORT)).toBe(current);
      expect(await freshFingerprint(HTTPS_PORT)).toBe(current);
    } finally {
      // The files say again what is in use (the watcher refuses the corrupt pair whenever it reads it).
      installPair(currentPair.cert, currentPair.key);
    }
    expect(lab.gateway.status().certificate.fingerprint256).toBe(current);
  });

  it.each([SIP_TLS_PORT, HTTPS_PORT])('refuses TLS 1.1 clients on %i, also after a reload, and accepts TLS 1.2', async (port) => {
    expect((await tls11Error(port)).code).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
    // A reload builds new TLS contexts: they must keep the minimum version.
    const next = pairNotLoaded();
    installPair(next.cert, next.key);
    lab.gateway.reloadCertificate();
    expect(lab.gateway.status().certificate.fingerprint256).toBe(fingerprintOf(next.cert));
    expect((await tls11Error(port)).code).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
    const modern = await connect(port, { ca: trusted, maxVersion: 'TLSv1.2' });
    expect(modern.getProtocol()).toBe('TLSv1.2');
  });
});
