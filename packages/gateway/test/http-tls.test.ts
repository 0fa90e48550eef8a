import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { Agent, request } from 'node:https';
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import { createCa, createServerCertificate, type PemPair } from '@psi-lab/pki';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { within } from '@psi-lab/testkit';
import { createStatusRequestHandler, startHttpsServer, type HttpsServer } from '../src/http/index.js';
import { COUNTER_HELP, type GatewayCounters, type GatewayStatus } from '../src/status/types.js';

let ca: PemPair;
let first: PemPair;
let second: PemPair;
let running: HttpsServer | undefined;
const TOKEN = 'admin-token-for-the-tls-tests';
const clientSockets: Socket[] = [];

beforeAll(() => {
  ca = createCa('http-tls test CA');
  first = createServerCertificate(ca, { commonName: 'first.gateway.test', names: ['127.0.0.1'] });
  second = createServerCertificate(ca, { commonName: 'second.gateway.test', names: ['127.0.0.1'] });
});

afterEach(async () => {
  for (const socket of clientSockets.splice(0)) socket.destroy();
  await running?.close();
  running = undefined;
});

function emptyStatus(): GatewayStatus {
  return {
    startedAt: new Date().toISOString(),
    listeners: [],
    pbx: { target: '127.0.0.1:5070/tcp', credentials: 0 },
    certificate: { subject: 'CN=first.gateway.test', validTo: '', fingerprint256: '', loadedAt: '' },
    registrations: [],
    calls: [],
    blocks: [],
    counters: Object.fromEntries(Object.keys(COUNTER_HELP).map((name) => [name, 0])) as unknown as GatewayCounters,
  };
}

async function start(status: () => GatewayStatus = emptyStatus, maxConnectionsPerSource = 64): Promise<HttpsServer> {
  running = await startHttpsServer({
    name: 'admin server', host: '127.0.0.1', port: 0, tls: first, maxConnectionsPerSource,
    onRequest: createStatusRequestHandler({ status, now: Date.now, adminToken: TOKEN }),
  });
  return running;
}

/** The SHA-256 fingerprint a fresh connection is shown, and the answer's status. */
function peerFingerprint(port: number, agent: Agent | false = false): Promise<{ status: number; fingerprint256: string; subject: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', ca: ca.cert, agent }, (res) => {
      const peer = (res.socket as TLSSocket).getPeerCertificate();
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, fingerprint256: peer.fingerprint256, subject: String(peer.subject.CN) }));
    });
    req.on('error', reject);
    req.end();
  });
}

function fingerprintOf(pair: PemPair): string {
  return new X509Certificate(pair.cert).fingerprint256;
}

/** A TLS connection that completed its handshake and has sent nothing since. */
async function openTlsConnection(port: number, options: { minVersion?: 'TLSv1.1'; maxVersion?: 'TLSv1.1' | 'TLSv1.2'; ciphers?: string } = {}): Promise<TLSSocket> {
  const socket = connectTls({ host: '127.0.0.1', port, ca: ca.cert, ...options });
  clientSockets.push(socket);
  await once(socket, 'secureConnect');
  return socket;
}

describe('status server TLS', () => {
  it('swaps the certificate for new connections with setCertificate', async () => {
    const { port } = await start();
    expect(fingerprintOf(first)).not.toBe(fingerprintOf(second));
    const before = await peerFingerprint(port);
    expect(before).toEqual({ status: 200, fingerprint256: fingerprintOf(first), subject: 'first.gateway.test' });

    running!.setCertificate(second);
    const after = await peerFingerprint(port);
    expect(after).toEqual({ status: 200, fingerprint256: fingerprintOf(second), subject: 'second.gateway.test' });
  });

  it('refuses a certificate that does not match its key and keeps serving the current one', async () => {
    const { port } = await start();
    expect(() => running!.setCertificate({ cert: second.cert, key: first.key })).toThrow(/not usable/);
    expect((await peerFingerprint(port)).fingerprint256).toBe(fingerprintOf(first));
  });

  it('refuses TLS 1.1 clients and accepts TLS 1.2', async () => {
    const { port } = await start();
    // SECLEVEL=0 lets the client offer TLS 1.1 at all: the refusal must come from the server.
    const old = connectTls({ host: '127.0.0.1', port, ca: ca.cert, minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
    clientSockets.push(old);
    // A handshake that succeeds fails the test at once: nothing else would end the wait for an error.
    const error = await new Promise<NodeJS.ErrnoException>((resolve, reject) => {
      old.once('error', resolve);
      old.once('secureConnect', () => reject(new Error(`the server completed a ${old.getProtocol()} handshake with a TLS 1.1-only client`)));
    });
    expect(error.code).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');

    const modern = await openTlsConnection(port, { maxVersion: 'TLSv1.2' });
    expect(modern.getProtocol()).toBe('TLSv1.2');
  });

  it('takes TLS 1.2 only with ECDHE and an AEAD cipher: no static RSA, no CBC', async () => {
    const { port } = await start();
    for (const cipher of ['AES128-SHA', 'AES256-GCM-SHA384', 'ECDHE-RSA-AES128-SHA', 'ECDHE-RSA-AES256-SHA384', 'AES128-CCM8']) {
      const client = connectTls({ host: '127.0.0.1', port, ca: ca.cert, maxVersion: 'TLSv1.2', ciphers: `${cipher}@SECLEVEL=0` });
      clientSockets.push(client);
      const outcome = await new Promise<string>((resolve) => {
        client.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
        client.once('secureConnect', () => resolve(`accepted ${client.getCipher().name}`));
      });
      expect(outcome, cipher).not.toMatch(/^accepted/);
    }
    const good = await openTlsConnection(port, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' });
    expect(good.getCipher().name).toBe('ECDHE-RSA-AES128-GCM-SHA256');
    const tls13 = await openTlsConnection(port);
    expect(tls13.getProtocol()).toBe('TLSv1.3');
  });

  it('cuts a connection that never finishes its TLS handshake within a few seconds', async () => {
    const { port } = await start();
    const silent = connectTcp(port, '127.0.0.1');
    clientSockets.push(silent);
    await once(silent, 'connect');
    const opened = Date.now();
    await within(once(silent, 'close'), 15_000, 'the server to close a connection that sent no ClientHello');
    // The handshake bound is 5 s: closed by it, not by a minutes-long default.
    expect(Date.now() - opened).toBeLessThan(14_000);
  }, 20_000);

  it('caps the connections one source address may hold', async () => {
    const { port } = await start(emptyStatus, 3);
    const held = await Promise.all([0, 1, 2].map(() => openTlsConnection(port)));
    const fourth = connectTcp(port, '127.0.0.1');
    clientSockets.push(fourth);
    await within(once(fourth, 'close'), 10_000, 'the server to close the fourth connection from one address');
    expect(held.every((socket) => !socket.destroyed)).toBe(true);
  });
});

describe('status server close()', () => {
  it('returns with a keep-alive connection, an idle TLS connection and a handshake in progress open', async () => {
    const { port } = await start();
    const agent = new Agent({ keepAlive: true, ca: ca.cert });
    expect((await peerFingerprint(port, agent)).status).toBe(200);
    const keptAlive = Object.values(agent.freeSockets).flat()[0];
    expect(keptAlive, 'the agent keeps its connection').toBeDefined();
    const idleTls = await openTlsConnection(port);
    const handshaking = connectTcp(port, '127.0.0.1');
    clientSockets.push(handshaking);
    await once(handshaking, 'connect');

    const closedSockets = [keptAlive!, idleTls, handshaking].map((socket) => once(socket, 'close'));
    await running!.close();
    running = undefined;
    await Promise.all(closedSockets);
    agent.destroy();
  });

  it('finishes an answer in progress, then closes its keep-alive connection', async () => {
    let closing: Promise<void> | undefined;
    const { port } = await start(() => {
      closing = running!.close();
      return { ...emptyStatus(), listeners: [{ protocol: 'wss', address: '127.0.0.1', port: 1, path: '/sip' }] };
    });
    const agent = new Agent({ keepAlive: true, ca: ca.cert });
    const answer = await new Promise<{ status: number; body: string; socket: Socket }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/api/status', agent, headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
        let body = '';
        // Captured now: once the answer ends, the agent takes the socket back.
        const socket = res.socket;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => { body += chunk; });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, socket }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body).listeners).toEqual([{ protocol: 'wss', address: '127.0.0.1', port: 1, path: '/sip' }]);
    expect(closing).toBeDefined();
    running = undefined;
    await closing;
    if (!answer.socket.destroyed) await once(answer.socket, 'close');
    agent.destroy();
  });

  it('leaves upgraded connections to their handler and resolves once they are gone', async () => {
    const { server, port } = await start();
    const upgraded: Socket[] = [];
    server.on('upgrade', (_req, socket: Socket) => {
      upgraded.push(socket);
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n');
      socket.on('data', (data) => socket.write(data));
    });
    const client = await openTlsConnection(port);
    client.write('GET /sip HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n');
    await once(client, 'data');
    const idleTls = await openTlsConnection(port);

    let closeResolved = false;
    const closing = running!.close().then(() => { closeResolved = true; });
    running = undefined;
    await once(idleTls, 'close');
    // Everything the HTTP layer owned is closed; the upgraded connection still works.
    client.write('still there?');
    const [echo] = (await once(client, 'data')) as [Buffer];
    expect(echo.toString()).toBe('still there?');
    expect(closeResolved).toBe(false);

    upgraded[0].destroy();
    await closing;
    expect(closeResolved).toBe(true);
  });
});
