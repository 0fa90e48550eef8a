import { spawn, type ChildProcess } from 'node:child_process';
import https from 'node:https';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipApp } from '@psi-lab/sip';
import { parseLabArgs } from '../src/options.js';
import { describeIfSipp, runSipp } from '@psi-lab/testkit';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const TSX = join(ROOT, 'node_modules/.bin/tsx');
/** Its own loopback address, so the test never meets a lab a developer left running on 127.0.0.1. */
const HOST = '127.0.0.9';

function startLab(args: string[]): { child: ChildProcess; output: () => string; ready: Promise<void>; exited: Promise<number | null> } {
  const child = spawn(TSX, ['packages/lab/src/main.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const ready = new Promise<void>((resolveReady, reject) => {
    const timer = setInterval(() => {
      if (out.includes('Ctrl-C stops it')) {
        clearInterval(timer);
        resolveReady();
      }
    }, 50);
    void exited.then((code) => {
      clearInterval(timer);
      reject(new Error(`lab exited (${code}) before it was ready:\n${out}`));
    });
  });
  return { child, output: () => out, ready, exited };
}

describe('lab flags', () => {
  it('parses every flag and names a bad one with the fix', () => {
    expect(parseLabArgs(['--data', '/tmp/x', '--users', '10', '--csv', '/tmp/u.csv', '--trunk', '127.0.0.1:5090', '--host', '127.0.0.2']))
      .toEqual({ dataDir: '/tmp/x', host: '127.0.0.2', users: 10, csv: '/tmp/u.csv', trunk: '127.0.0.1:5090', sipTrace: false });
    expect(() => parseLabArgs(['--users', 'many'])).toThrow(/--users takes a whole number/);
    expect(() => parseLabArgs(['--trunk', 'nowhere'])).toThrow(/--trunk takes HOST:PORT/);
    expect(() => parseLabArgs(['--bogus'])).toThrow(/unknown flag "--bogus"/);
  });
});

describe('npm run lab', () => {
  const data = mkdtempSync(join(tmpdir(), 'psi-lab-data-'));
  const csv = join(data, 'users.csv');
  let lab: ReturnType<typeof startLab>;

  beforeAll(async () => {
    lab = startLab(['--data', data, '--host', HOST, '--users', '20', '--csv', csv]);
    await lab.ready;
  }, 60_000);
  afterAll(async () => {
    lab.child.kill('SIGKILL');
    rmSync(data, { recursive: true, force: true });
  });

  it('prints where it listens, writes the CA and the SIPp injection file', () => {
    expect(lab.output()).toContain(`udp ${HOST}:5070, tcp ${HOST}:5070`);
    expect(lab.output()).toContain(`udp ${HOST}:5060, tcp ${HOST}:5060, tls ${HOST}:5061`);
    expect(lab.output()).toContain(`wss://${HOST}:8443/sip`);
    expect(existsSync(join(data, 'gateway.yaml'))).toBe(true);
    expect(lab.output()).toContain(`http://${HOST}:8070/api`);
    expect(existsSync(join(data, 'certs/ca.pem'))).toBe(true);
    const lines = readFileSync(csv, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('SEQUENTIAL');
    expect(lines[1]).toBe('2000;load2000;2000');
    expect(lines).toHaveLength(21);
  });

  it('registers a demo user on the pbx over TCP with digest authentication', async () => {
    const client = new SipApp();
    try {
      const { response } = await client.request({
        method: 'REGISTER', uri: `sip:psi-lab@${HOST}:5070;transport=tcp`, to: `<sip:1001@${HOST}>`, from: `<sip:1001@${HOST}>`,
        headers: { Contact: '<sip:1001@127.0.0.1:5999;transport=tcp>' }, auth: { username: '1001', password: 'alice-1001' },
      });
      expect(response.status).toBe(200);
      expect(response.get('contact')).toMatch(/sip:1001@127\.0\.0\.1:5999/);
    } finally {
      await client.close();
    }
  });

  it('serves the management API with the token it wrote, and refuses without it', async () => {
    const token = readFileSync(join(data, 'api-token'), 'utf8').trim();
    const ok = await fetch(`http://${HOST}:8070/api/subscribers`, { headers: { Authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    const list = (await ok.json()) as Array<{ extension: string; role: string | null }>;
    expect(list.map((s) => s.extension)).toContain('1001');
    expect(list.find((s) => s.extension === '1001')?.role).toBe('Zoom PSI User');
    expect(list).toHaveLength(23);
    expect((await fetch(`http://${HOST}:8070/api/subscribers`)).status).toBe(401);
  });

  it('registers a demo user through the gateway over TLS, trusting the CA it generated, and shows it on the status page', async () => {
    const ca = readFileSync(join(data, 'certs/ca.pem'), 'utf8');
    const set = new SipApp({ tlsClient: { ca } });
    try {
      const { response } = await set.request({
        method: 'REGISTER', uri: `sip:${HOST}:5061;transport=tls`, to: `<sip:1002@${HOST}>`, from: `<sip:1002@${HOST}>`,
        headers: { Contact: '<sip:1002@set.invalid;transport=tls>' }, auth: { username: '1002', password: 'bob-1002' },
      });
      expect(response.status).toBe(200);
      const status = await new Promise<string>((resolveBody, reject) => {
        https.get({ host: HOST, port: 8443, path: '/api/registrations', ca }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolveBody(body));
        }).on('error', reject);
      });
      expect(JSON.parse(status)).toEqual(expect.arrayContaining([expect.objectContaining({ user: '1002', transport: 'TLS' })]));
    } finally {
      await set.close();
    }
  });

  describeIfSipp('SIPp against the lab', () => {
    it('registers every load-test user through the gateway over UDP with digest authentication', async () => {
      const r = await runSipp({ scenario: 'register-auth-uac.xml', target: `${HOST}:5060`, transport: 'u1', calls: 20, rate: 100, injectionFile: csv, extraArgs: ['-i', HOST], timeoutMs: 15_000 });
      expect(r.successful, r.errors).toBe(20);
      expect(r.failed).toBe(0);
    });

    it('registers every load-test user on the pbx itself over UDP with digest authentication', async () => {
      const r = await runSipp({ scenario: 'register-auth-uac.xml', target: `${HOST}:5070`, transport: 'u1', calls: 20, rate: 100, injectionFile: csv, extraArgs: ['-i', HOST], timeoutMs: 15_000 });
      expect(r.successful, r.errors).toBe(20);
      expect(r.failed).toBe(0);
    });
  });

  it('stops cleanly on Ctrl-C (SIGINT)', async () => {
    lab.child.kill('SIGINT');
    expect(await lab.exited).toBe(0);
  });
});
