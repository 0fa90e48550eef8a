import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import tls, { type TLSSocket } from 'node:tls';
import { createServerCertificate, type PemPair } from '@psi-lab/pki';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startGatewayLab, type GatewayLab } from './helpers/gateway-lab.js';
import { waitFor } from './helpers/test-set.js';

const HOST = '127.0.0.24';
const SIP_TLS_PORT = 5061;
const HTTPS_PORT = 8443;
/** The names the gateway puts in the certificate it generates (certificate.names by default). */
const NAMES = ['localhost', '127.0.0.1', HOST];
/** The watcher polls every 2 s and waits 300 ms for the second file: three polls' worth. */
const WATCH_TIMEOUT_MS = 8000;

let lab: GatewayLab;
let certs: { dir: string; caFile: string; certFile: string; keyFile: string };
/** Server certificates signed by the lab's own CA, so clients trusting ca.pem accept them. */
let renewed: PemPair;
let third: PemPair;
const sockets: TLSSocket[] = [];

beforeAll(async () => {
  lab = await startGatewayLab(HOST, { media: { portMin: 42600, portMax: 42799 } });
  const dir = join(lab.dir, 'certs');
  certs = { dir, caFile: join(dir, 'ca.pem'), certFile: join(dir, 'server.pem'), keyFile: join(dir, 'server.key') };
  const ca = { cert: lab.ca, key: readFileSync(join(dir, 'ca.key'), 'utf8') };
  renewed = createServerCertificate(ca, { names: NAMES, commonName: 'renewed.gateway.lab' });
  third = createServerCertificate(ca, { names: NAMES, commonName: 'third.gateway.lab' });
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

/** A TLS connection to the gateway that completed its handshake (or the handshake's error). */
async function connect(port: number, options: tls.ConnectionOptions = { ca: lab.ca }): Promise<TLSSocket> {
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
    await waitFor(() => done.test(received) || socket.destroyed, 5000, `an answer matching ${done}`);
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

/** Replaces the certificate files as an operator would: both written, key first. */
function installPair(cert: string, key: string): void {
  writeFileSync(certs.keyFile, key, { mode: 0o600 });
  writeFileSync(certs.certFile, cert);
}

/** What a TLS 1.1-only client gets; SECLEVEL=0 lets it offer TLS 1.1, so any refusal is the server's. */
async function tls11Error(port: number): Promise<NodeJS.ErrnoException> {
  const old = tls.connect({ host: HOST, port, ca: lab.ca, minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
  sockets.push(old);
  const [error] = (await once(old, 'error')) as [NodeJS.ErrnoException];
  return error;
}

describe('the gateway\'s Web Server certificate', () => {
  it('is generated at first start, with its CA, and serves TLS on 5061 and HTTPS on 8443', async () => {
    for (const file of [certs.caFile, certs.certFile, certs.keyFile]) expect(existsSync(file), file).toBe(true);
    expect(statSync(certs.keyFile).mode & 0o777).toBe(0o600);
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
    const wanted = fingerprintOf(renewed.cert);
    expect(wanted).not.toBe(before);

    installPair(renewed.cert, renewed.key);
    await waitFor(() => lab.gateway.status().certificate.fingerprint256 === wanted, WATCH_TIMEOUT_MS, 'the watcher to load the new certificate');
    expect(await freshFingerprint(SIP_TLS_PORT)).toBe(wanted);
    expect(await freshFingerprint(HTTPS_PORT)).toBe(wanted);

    // Connections made before keep their session, old certificate and all, and still work.
    expect(openSip.getPeerCertificate().fingerprint256).toBe(before);
    expect(await sipOptions(openSip)).toMatch(/^SIP\/2\.0 200 /);
    expect(openWeb.getPeerCertificate().fingerprint256).toBe(before);
    expect(await httpHealthz(openWeb)).toMatch(/^HTTP\/1\.1 200 /);
  }, 15_000);

  it('refuses a replacement whose key does not match, keeping the current certificate', async () => {
    const current = lab.gateway.status().certificate.fingerprint256;
    const currentKey = readFileSync(certs.keyFile, 'utf8');
    installPair(third.cert, currentKey);
    expect(lab.gateway.reloadCertificate()).toBe(false);
    expect(lab.gateway.status().certificate.fingerprint256).toBe(current);
    expect(await freshFingerprint(SIP_TLS_PORT)).toBe(current);
    expect(await freshFingerprint(HTTPS_PORT)).toBe(current);

    // Once the matching key follows, the new pair is taken.
    installPair(third.cert, third.key);
    lab.gateway.reloadCertificate();
    const wanted = fingerprintOf(third.cert);
    expect(lab.gateway.status().certificate.fingerprint256).toBe(wanted);
    expect(await freshFingerprint(SIP_TLS_PORT)).toBe(wanted);
    expect(await freshFingerprint(HTTPS_PORT)).toBe(wanted);
  });

  // A pair must make a TLS context before it is taken: the listeners would throw on it otherwise.
  it('refuses a replacement the TLS stack cannot use (a corrupt block after the certificate), keeping the current one', async () => {
    const current = lab.gateway.status().certificate.fingerprint256;
    // The first block is a good certificate of the key: only a TLS context finds the rest broken.
    const corruptChain = `${renewed.cert}-----BEGIN CERTIFICATE-----\nAAAAAAAA\n-----END CERTIFICATE-----\n`;
    try {
      installPair(corruptChain, renewed.key);
      expect(lab.gateway.reloadCertificate()).toBe(false);
      expect(lab.gateway.status().certificate.fingerprint256).toBe(current);
      expect(await freshFingerprint(SIP_TLS_PORT)).toBe(current);
      expect(await freshFingerprint(HTTPS_PORT)).toBe(current);
    } finally {
      // A usable pair again before the watcher's next poll reads the corrupt one.
      installPair(third.cert, third.key);
      lab.gateway.reloadCertificate();
    }
  });

  it.each([SIP_TLS_PORT, HTTPS_PORT])('refuses TLS 1.1 clients on %i, also after a reload, and accepts TLS 1.2', async (port) => {
    expect((await tls11Error(port)).code).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
    // A reload builds new TLS contexts: they must keep the minimum version.
    const next = readFileSync(certs.certFile, 'utf8') === renewed.cert ? third : renewed;
    installPair(next.cert, next.key);
    lab.gateway.reloadCertificate();
    expect(lab.gateway.status().certificate.fingerprint256).toBe(fingerprintOf(next.cert));
    expect((await tls11Error(port)).code).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
    const modern = await connect(port, { ca: lab.ca, maxVersion: 'TLSv1.2' });
    expect(modern.getProtocol()).toBe('TLSv1.2');
  });
});
