import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClientInviteTransaction, SipApp, SipRequest, newBranch, type IncomingRequest, type SipResponse,
} from '../src/index.js';
import { testCertificates, within } from '@psi-lab/testkit';
import { TEST_USERS, createTestServer } from './helpers/test-server.js';

const certs = testCertificates();
const dir = mkdtempSync(join(tmpdir(), 'psi-app-'));
writeFileSync(join(dir, 'server.pem'), certs.server.cert);
writeFileSync(join(dir, 'server.key'), certs.server.key);
writeFileSync(join(dir, 'ca.pem'), certs.ca.cert);
const tls = { certFile: join(dir, 'server.pem'), keyFile: join(dir, 'server.key') };

describe('SipApp: a server and a client built on the stack', () => {
  const { app: server, registrations } = createTestServer({ supported: ['path'] });
  const client = new SipApp({ tlsClient: { caFile: join(dir, 'ca.pem') } });
  const ports: Record<string, number> = {};
  const seen: string[] = [];
  const acks: IncomingRequest[] = [];
  let ringing: IncomingRequest | undefined;

  beforeAll(async () => {
    for (const protocol of ['udp', 'tcp', 'tls', 'ws', 'wss'] as const) {
      ports[protocol] = (await server.listen({ protocol, port: 0, tls, path: '/sip' })).local.port;
    }
    await client.listen({ protocol: 'udp', port: 0 });
    // Middleware runs first, in order, for every request; `locals` carries what it learned.
    server.use((req, _res, next) => {
      req.locals.seenAt = Date.now();
      seen.push(req.method);
      next();
    });
    server.use('INFO', (_req, res) => void res.send(202));
    server.method('PUBLISH', () => {
      throw new Error('handler bug');
    });
    server.on('ack', (req) => acks.push(req));
    server.method('UPDATE', (req, res) => void res.send(200, { headers: { 'X-Seen': String(typeof req.locals.seenAt) } }));
  });
  afterAll(async () => {
    await client.close();
    await server.close();
  });

  const target = (protocol: string, user = 'alice'): string =>
    `sip:${user}@127.0.0.1:${ports[protocol]};transport=${protocol}`;

  for (const protocol of ['udp', 'tcp', 'tls', 'ws', 'wss'] as const) {
    it(`registers with digest authentication over ${protocol}`, async () => {
      const before = registrations.length;
      const { response } = await client.request({
        method: 'REGISTER', uri: target(protocol), destination: { path: '/sip' },
        headers: { Contact: `<sip:alice@127.0.0.1:5999;transport=${protocol}>`, Expires: 600 },
        auth: { username: 'alice', password: TEST_USERS.alice },
      });
      expect(response.status).toBe(200);
      expect(response.get('expires')).toBe('600');
      expect(registrations.slice(before)).toEqual(['alice']);
    });
  }

  it('authenticates with HA1 alone (how PSI clients get their credentials)', async () => {
    const { computeHa1 } = await import('../src/index.js');
    const ha1 = computeHa1('MD5', 'bob', 'psi-lab-test', TEST_USERS.bob);
    const { response } = await client.request({ method: 'REGISTER', uri: target('tcp', 'bob'), auth: { username: 'bob', ha1 } });
    expect(response.status).toBe(200);
  });

  it('answers a wrong password with 401 again, never 200', async () => {
    const { response } = await client.request({ method: 'REGISTER', uri: target('udp'), auth: { username: 'alice', password: 'wrong' } });
    expect(response.status).toBe(401);
    expect(response.getAll('www-authenticate').length).toBeGreaterThan(0);
  });

  it('answers OPTIONS by itself with Allow listing the handled methods', async () => {
    const { response } = await client.request({ method: 'OPTIONS', uri: target('udp') });
    expect(response.status).toBe(200);
    expect(response.get('allow')).toMatch(/REGISTER/);
    expect(response.get('allow')).toMatch(/INVITE/);
    expect(response.get('server')).toBe('psi-lab test server');
  });

  it('runs middleware before handlers, and per-method middleware can answer', async () => {
    const before = seen.length;
    expect((await client.request({ method: 'INFO', uri: target('udp') })).response.status).toBe(202);
    const update = await client.request({ method: 'UPDATE', uri: target('udp') });
    expect(update.response.get('x-seen')).toBe('number');
    expect(seen.slice(before)).toEqual(['INFO', 'UPDATE']);
  });

  it('turns a handler error into 500', async () => {
    expect((await client.request({ method: 'PUBLISH', uri: target('udp') })).response.status).toBe(500);
  });

  it('answers 501 to an unknown method and 405 to a known one without a handler', async () => {
    const unknown = await client.request({ method: 'FOO', uri: target('udp') });
    expect(unknown.response.status).toBe(501);
    const known = await client.request({ method: 'SUBSCRIBE', uri: target('udp') });
    expect(known.response.status).toBe(405);
    expect(known.response.get('allow')).toMatch(/OPTIONS/);
  });

  it('applies the UAS checks of RFC 3261 §8.2: 420, 415, 406, 483', async () => {
    const req = (headers: Record<string, string | number>, body?: string) => client.request({ method: 'INVITE', uri: target('udp'), headers, body });
    const r420 = await req({ Require: 'foo, path' });
    expect(r420.response.status).toBe(420);
    expect(r420.response.get('unsupported')).toBe('foo');
    expect((await req({ 'Content-Type': 'text/weird' }, 'x')).response.status).toBe(415);
    expect((await req({ Accept: 'text/nothing' })).response.status).toBe(406);
    const mf0 = await client.request({ method: 'OPTIONS', uri: target('udp'), headers: {} , callId: 'mf0' });
    expect(mf0.response.status).toBe(200);
    const zero = new SipRequest('OPTIONS', target('udp'), [
      ['Via', `SIP/2.0/UDP 127.0.0.1:${client.transport.sentBy('udp').port};branch=${newBranch()};rport`],
      ['Max-Forwards', 0], ['From', '<sip:a@127.0.0.1>;tag=1'], ['To', `<${target('udp')}>`], ['Call-ID', 'zero-mf'], ['CSeq', '1 OPTIONS'],
    ]);
    const final = await new Promise<SipResponse>((resolve) => {
      client.transactions.sendRequest(zero, { protocol: 'udp', address: '127.0.0.1', port: ports.udp }).on('final', (r) => resolve(r));
    });
    expect(final.status).toBe(483);
  });

  it('as a proxy, holds Proxy-Require against what it supports, and Require only on REGISTER (RFC 3261 §16.3)', async () => {
    const proxy = new SipApp({ proxy: true, supported: ['path'] });
    proxy.method('INVITE', (_req, res) => void res.send(200));
    proxy.register((_req, res) => void res.send(200));
    const { local } = await proxy.listen({ protocol: 'udp', host: '127.0.0.1', port: 0 });
    try {
      const to = (method: string, headers: Record<string, string>): Promise<number> =>
        client.request({ method, uri: `sip:1001@127.0.0.1:${local.port}`, destination: { protocol: 'udp', address: '127.0.0.1', port: local.port }, headers }).then((r) => r.response.status);
      // Require is for the far end of what a proxy forwards: 100rel, timer... pass.
      expect(await to('INVITE', { Require: '100rel, foo' })).toBe(200);
      expect(await to('INVITE', { 'Proxy-Require': 'foo' })).toBe(420);
      expect(await to('INVITE', { 'Proxy-Require': 'path' })).toBe(200);
      expect(await to('REGISTER', { Require: 'foo' })).toBe(420);
      expect(await to('REGISTER', { Require: 'path' })).toBe(200);
    } finally {
      await proxy.close();
    }
  });

  it('cancels a ringing INVITE: 200 to the CANCEL, 487 to the INVITE, and the handler hears it', async () => {
    const canceled = new Promise<void>((resolve) => {
      server.method('INVITE', (req, res) => {
        ringing = req;
        void res.send(180);
        req.on('cancel', () => resolve());
      });
    });
    const invite = new SipRequest('INVITE', target('udp'), [
      ['Via', `SIP/2.0/UDP 127.0.0.1:${client.transport.sentBy('udp').port};branch=${newBranch()};rport`],
      ['Max-Forwards', 70], ['From', '<sip:a@127.0.0.1>;tag=c1'], ['To', `<${target('udp')}>`], ['Call-ID', 'cancel-me'], ['CSeq', '1 INVITE'],
    ]);
    const tx = client.transactions.sendRequest(invite, { protocol: 'udp', address: '127.0.0.1', port: ports.udp });
    expect(tx).toBeInstanceOf(ClientInviteTransaction);
    const provisional = new Promise<SipResponse>((resolve) => tx.on('provisional', (r) => resolve(r)));
    const final = new Promise<SipResponse>((resolve) => tx.on('final', (r) => resolve(r)));
    expect((await provisional).status).toBe(180);
    const cancelTx = await (tx as ClientInviteTransaction).cancel();
    const cancelAnswer = await new Promise<SipResponse>((resolve) => cancelTx!.on('final', (r) => resolve(r)));
    expect(cancelAnswer.status).toBe(200);
    await canceled;
    expect((await final).status).toBe(487);
    expect(ringing?.canceled).toBe(true);
  });

  it('delivers the ACK of a 2xx to the application', async () => {
    server.method('INVITE', (_req, res) => void res.send(200, { body: 'v=0\r\n', headers: { Contact: `<sip:alice@127.0.0.1:${ports.udp}>` } }));
    // Listening before the request goes out: the ACK may come right behind the 200.
    const acked = within(new Promise<IncomingRequest>((resolve) => {
      const on = (req: IncomingRequest): void => {
        if (req.callId !== 'ack-me') return;
        server.off('ack', on);
        resolve(req);
      };
      server.on('ack', on);
    }), 10_000, 'the ACK of the 2xx to reach the application');
    acked.catch(() => undefined); // awaited below; this only keeps an early rejection from counting as unhandled
    const { response } = await client.request({ method: 'INVITE', uri: target('udp'), body: 'v=0\r\n', callId: 'ack-me' });
    expect(response.status).toBe(200);
    expect((await acked).method).toBe('ACK');
    expect(acks.some((a) => a.callId === 'ack-me')).toBe(true);
  });
});
