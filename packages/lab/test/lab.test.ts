import https from 'node:https';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipApp } from '@psi-lab/sip';
import { parseLabArgs } from '../src/options.js';
import { describeIfSipp, runSipp, leaseLoopbackAddress, startLabProcess, within, type LabProcess } from '@psi-lab/testkit';

/** Its own loopback addresses, so the test never meets a lab a developer left running on 127.0.0.1 and .2. */
const HOST = await leaseLoopbackAddress();
/** The lab's site LAN: the pbx and the gateway's LAN side (and admin pages). */
const INTERNAL = await leaseLoopbackAddress();

/** One HTTPS GET trusting the lab's CA. */
function httpsGet(url: string, ca: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https.get(url, { ca, headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

describe('lab flags', () => {
  it('parses every flag and names a bad one with the fix', () => {
    expect(parseLabArgs(['--data', '/tmp/x', '--users', '10', '--csv', '/tmp/u.csv', '--trunk', '127.0.0.1:5090', '--host', '127.0.0.3']))
      .toEqual({ dataDir: '/tmp/x', host: '127.0.0.3', internalHost: '127.0.0.2', users: 10, csv: '/tmp/u.csv', trunk: '127.0.0.1:5090', sipTrace: false, whiteList: [], mediaNetworks: [] });
    expect(parseLabArgs(['--white-list', '127.0.0.1/32', '--white-list=10.0.0.0/8']).whiteList).toEqual(['127.0.0.1/32', '10.0.0.0/8']);
    expect(() => parseLabArgs(['--white-list', '10.0.0.1/8'])).toThrow(/--white-list takes an address block/);
    expect(parseLabArgs(['--media-network', '127.0.0.0/8']).mediaNetworks).toEqual(['127.0.0.0/8']);
    expect(() => parseLabArgs(['--media-network', 'everywhere'])).toThrow(/--media-network takes an address block/);
    expect(parseLabArgs(['--internal-host=127.0.0.9', '--admin-host', '0.0.0.0', '--public-address=gw.example.com']))
      .toMatchObject({ internalHost: '127.0.0.9', adminHost: '0.0.0.0', publicAddress: 'gw.example.com' });
    expect(parseLabArgs(['--help']).help).toBe(true);
    expect(() => parseLabArgs(['--users', 'many'])).toThrow(/--users takes a whole number/);
    expect(() => parseLabArgs(['--trunk', 'nowhere'])).toThrow(/--trunk takes HOST:PORT/);
    expect(() => parseLabArgs(['--bogus'])).toThrow(/unknown flag "--bogus"/);
    expect(() => parseLabArgs(['--host', '127.0.0.2'])).toThrow(/--host and --internal-host are both 127\.0\.0\.2/);
    expect(() => parseLabArgs(['--internal-host', '0.0.0.0'])).toThrow(/one address of the site's LAN/);
  });
});

describe('npm run lab', () => {
  const data = mkdtempSync(join(tmpdir(), 'psi-lab-data-'));
  const csv = join(data, 'users.csv');
  let lab: LabProcess;

  beforeAll(async () => {
    lab = startLabProcess(data, ['--host', HOST, '--internal-host', INTERNAL, '--users', '20', '--csv', csv]);
    await lab.ready;
  }, 60_000);
  afterAll(async () => {
    await lab?.stop();
    rmSync(data, { recursive: true, force: true });
  }, 30_000);

  it('prints where it listens, writes the CA (its key apart) and the SIPp injection file', () => {
    expect(lab.output()).toContain(`udp ${HOST}:5060, tcp ${HOST}:5060, tls ${HOST}:5061`);
    expect(lab.output()).toContain(`wss://${HOST}:8443/sip`);
    expect(lab.output()).toContain(`https://${INTERNAL}:9080/`);
    // The admin credential, made at first start: printed, and kept 0600.
    expect(lab.output()).toContain(`admin token ${readFileSync(join(data, 'admin-token'), 'utf8').trim()}`);
    expect(lab.output()).toContain(`SIP udp/tcp ${INTERNAL}:5070`);
    expect(lab.output()).toContain(`https://${INTERNAL}:8070/api`);
    expect(existsSync(join(data, 'gateway.yaml'))).toBe(true);
    expect(existsSync(join(data, 'certs/ca.pem'))).toBe(true);
    expect(readdirSync(join(data, 'certs')).sort()).toEqual(['ca.pem', 'server.key', 'server.pem']);
    expect(readdirSync(join(data, 'ca')).sort()).toEqual(['ca.key', 'ca.pem']);
    for (const secret of ['ca', 'ca/ca.key', 'admin-token', 'api-token', 'gateway.yaml']) expect(statSync(join(data, secret)).mode & 0o077, secret).toBe(0);
    const lines = readFileSync(csv, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('SEQUENTIAL');
    expect(lines[1]).toBe('2000;load2000;2000');
    expect(lines).toHaveLength(21);
  });

  it('keeps the pbx where sets do not reach it: a connection from the sets\' side is closed unanswered', async () => {
    const socket = connectTcp({ host: INTERNAL, port: 5070, localAddress: HOST });
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString()));
    socket.on('connect', () => socket.write(`OPTIONS sip:${INTERNAL}:5070 SIP/2.0\r\nVia: SIP/2.0/TCP ${HOST}:9;branch=z9hG4bK-stranger\r\nMax-Forwards: 70\r\nFrom: <sip:x@${HOST}>;tag=1\r\nTo: <sip:${INTERNAL}>\r\nCall-ID: stranger@lab\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`));
    // A reset or a close: either way the pbx hung up (events.once would reject on the reset).
    socket.on('error', () => undefined);
    await within(new Promise((resolve) => socket.once('close', resolve)), 10_000, 'the pbx to close a stranger\'s connection');
    expect(received).toBe('');
  });

  it('serves the management API over TLS with the token it wrote, and refuses without it', async () => {
    const token = readFileSync(join(data, 'api-token'), 'utf8').trim();
    const ca = readFileSync(join(data, 'certs/ca.pem'), 'utf8');
    const ok = await httpsGet(`https://${INTERNAL}:8070/api/subscribers`, ca, { Authorization: `Bearer ${token}` });
    expect(ok.status).toBe(200);
    const list = JSON.parse(ok.body) as Array<{ extension: string; role: string | null }>;
    expect(list.map((s) => s.extension)).toContain('1001');
    expect(list.find((s) => s.extension === '1001')?.role).toBe('Zoom PSI User');
    expect(list).toHaveLength(23);
    expect((await httpsGet(`https://${INTERNAL}:8070/api/subscribers`, ca)).status).toBe(401);
  });

  it('registers a demo user through the gateway over TLS, trusting the CA it generated, and shows it on the admin pages', async () => {
    const ca = readFileSync(join(data, 'certs/ca.pem'), 'utf8');
    const set = new SipApp({ tlsClient: { ca } });
    try {
      const { response } = await set.request({
        method: 'REGISTER', uri: `sip:${HOST}:5061;transport=tls`, to: `<sip:1002@${HOST}>`, from: `<sip:1002@${HOST}>`,
        headers: { Contact: '<sip:1002@set.invalid;transport=tls>' }, auth: { username: '1002', password: 'bob-1002' },
      });
      expect(response.status).toBe(200);
      const adminToken = readFileSync(join(data, 'admin-token'), 'utf8').trim();
      const status = await httpsGet(`https://${INTERNAL}:9080/api/registrations`, ca, { Authorization: `Bearer ${adminToken}` });
      expect(JSON.parse(status.body)).toEqual(expect.arrayContaining([expect.objectContaining({ user: '1002', transport: 'TLS' })]));
      // Nothing administrative on the sets' port, and nothing anonymous on the admin one.
      expect((await httpsGet(`https://${HOST}:8443/api/registrations`, ca)).status).toBe(404);
      expect((await httpsGet(`https://${INTERNAL}:9080/api/registrations`, ca)).status).toBe(401);
      expect((await httpsGet(`https://${HOST}:8443/healthz`, ca)).status).toBe(200);
    } finally {
      await set.close();
    }
  });

  describeIfSipp('SIPp against the lab', () => {
    it('registers every load-test user through the gateway over UDP with digest authentication', async () => {
      const r = await runSipp({ scenario: 'register-auth-uac.xml', target: `${HOST}:5060`, transport: 'u1', calls: 20, rate: 100, injectionFile: csv, localAddress: HOST, timeoutMs: 15_000 });
      expect(r.successful, r.errors).toBe(20);
      expect(r.failed).toBe(0);
    });

  });
});

describe('npm run lab, stopped with Ctrl-C', () => {
  // A lab of its own, on an address of its own: stopping it takes nothing from the other tests.
  it('stops cleanly on Ctrl-C (SIGINT)', async () => {
    const data = mkdtempSync(join(tmpdir(), 'psi-lab-data-'));
    const lab = startLabProcess(data, ['--host', await leaseLoopbackAddress(), '--internal-host', await leaseLoopbackAddress(), '--users', '0']);
    try {
      await lab.ready;
      lab.child.kill('SIGINT');
      expect(await within(lab.exited, 20_000, 'the lab to exit after SIGINT')).toBe(0);
    } finally {
      await lab.stop();
      rmSync(data, { recursive: true, force: true });
    }
  }, 90_000);
});
