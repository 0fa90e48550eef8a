import { spawn, type ChildProcess } from 'node:child_process';
import https from 'node:https';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipApp } from '@psi-lab/sip';
import { parseLabArgs } from '../src/options.js';
import { describeIfSipp, runSipp, leaseLoopbackAddress, within } from '@psi-lab/testkit';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/** Its own loopback address, so the test never meets a lab a developer left running on 127.0.0.1. */
const HOST = await leaseLoopbackAddress();
/** How long a lab may take to start on a busy machine (it generates its certificates). */
const START_LIMIT_MS = 50_000;

type Lab = { child: ChildProcess; output: () => string; ready: Promise<void>; exited: Promise<number | null> };

/**
 * The lab as one process: node with tsx's loader, not the tsx wrapper, which would run the lab
 * in a child of its own that a kill of the wrapper leaves behind, holding HOST's ports.
 */
function startLab(args: string[]): Lab {
  const child = spawn(process.execPath, ['--import', 'tsx', 'packages/lab/src/main.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let markReady!: () => void;
  const printed = new Promise<void>((r) => (markReady = r));
  const onOutput = (d: Buffer): void => {
    out += d.toString();
    if (out.includes('Ctrl-C stops it')) markReady();
  };
  child.stdout!.on('data', onOutput);
  child.stderr!.on('data', onOutput);
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const ready = within(Promise.race([
    printed,
    exited.then((code) => Promise.reject(new Error(`lab exited (${code}) before it was ready:\n${out}`))),
  ]), START_LIMIT_MS, () => `the lab to print "Ctrl-C stops it"; it printed:\n${out}`);
  ready.catch(() => undefined); // awaited by the tests; this only keeps an early exit from counting as unhandled
  return { child, output: () => out, ready, exited };
}

/** SIGTERM (the lab stops cleanly and lets go of its ports), SIGKILL if it has not exited within 15 s. */
async function stopLab(lab: Lab): Promise<void> {
  if (lab.child.exitCode !== null || lab.child.signalCode !== null) return;
  lab.child.kill('SIGTERM');
  const stopped = await Promise.race([lab.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 15_000))]);
  if (!stopped) {
    lab.child.kill('SIGKILL');
    await lab.exited;
  }
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
  let lab: Lab;

  beforeAll(async () => {
    lab = startLab(['--data', data, '--host', HOST, '--users', '20', '--csv', csv]);
    await lab.ready;
  }, 60_000);
  afterAll(async () => {
    if (lab) await stopLab(lab);
    rmSync(data, { recursive: true, force: true });
  }, 30_000);

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
      const r = await runSipp({ scenario: 'register-auth-uac.xml', target: `${HOST}:5060`, transport: 'u1', calls: 20, rate: 100, injectionFile: csv, localAddress: HOST, timeoutMs: 15_000 });
      expect(r.successful, r.errors).toBe(20);
      expect(r.failed).toBe(0);
    });

    it('registers every load-test user on the pbx itself over UDP with digest authentication', async () => {
      const r = await runSipp({ scenario: 'register-auth-uac.xml', target: `${HOST}:5070`, transport: 'u1', calls: 20, rate: 100, injectionFile: csv, localAddress: HOST, timeoutMs: 15_000 });
      expect(r.successful, r.errors).toBe(20);
      expect(r.failed).toBe(0);
    });
  });
});

describe('npm run lab, stopped with Ctrl-C', () => {
  // A lab of its own, on an address of its own: stopping it takes nothing from the other tests.
  it('stops cleanly on Ctrl-C (SIGINT)', async () => {
    const data = mkdtempSync(join(tmpdir(), 'psi-lab-data-'));
    const lab = startLab(['--data', data, '--host', await leaseLoopbackAddress(), '--users', '0']);
    try {
      await lab.ready;
      lab.child.kill('SIGINT');
      expect(await within(lab.exited, 20_000, 'the lab to exit after SIGINT')).toBe(0);
    } finally {
      await stopLab(lab);
      rmSync(data, { recursive: true, force: true });
    }
  }, 90_000);
});
