import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectTone, readWav } from '@psi-lab/media';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPhoneCli } from '../src/cli/psi-phone.js';
import { startTestLab, type TestLab } from './helpers/lab.js';

const HOST = '127.0.0.34';
const REPO_ROOT = join(import.meta.dirname, '../../..');

interface Run {
  code: number;
  out: string;
  err: string;
}

describe('psi-phone against the lab (gateway → pbx)', () => {
  let lab: TestLab;
  const dir = mkdtempSync(join(tmpdir(), 'psi-phone-cli-'));
  const common = (user: string, password: string): string[] => ['--user', user, '--password', password, '--server', `tls://${HOST}:5061`, '--ca', `${lab.dir}/certs/ca.pem`];

  /** Start the CLI in-process: `live` fills as it writes; `interrupt` gets the Ctrl-C handler it hands over. */
  const start = (argv: string[], interrupt?: (ctrlC: () => void) => void): { live: Run; done: Promise<Run> } => {
    const live = { code: -1, out: '', err: '' };
    const done = runPhoneCli(argv, {
      stdout: (t) => (live.out += t), stderr: (t) => (live.err += t), isTTY: false, env: {},
      onSignal: (handler) => {
        interrupt?.(handler);
        return () => undefined;
      },
    }).then((code) => ({ ...live, code }));
    return { live, done };
  };
  const run = (argv: string[]): Promise<Run> => start(argv).done;

  beforeAll(async () => {
    lab = await startTestLab(HOST);
  });
  afterAll(async () => {
    await lab.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('status prints Registered and exits 0', async () => {
    const r = await run(['status', ...common('1001', 'alice-1001')]);
    expect(r).toMatchObject({ code: 0, out: 'Registered\n', err: '' });
  });

  it('status with a wrong password prints 403 Forbidden, says what to check, and exits 1', async () => {
    const r = await run(['status', ...common('1001', 'wrong')]);
    expect(r.code).toBe(1);
    expect(r.out).toBe('403 Forbidden\n');
    expect(r.err).toContain(`cannot register 1001 at tls://${HOST}:5061: 403 Forbidden`);
    expect(r.err).toContain('--password');
  });

  it('status names a CA file that is not there, with exit code 2', async () => {
    const r = await run(['status', '--user', '1001', '--password', 'alice-1001', '--server', `tls://${HOST}:5061`, '--ca', join(dir, 'nope.pem')]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`--ca ${join(dir, 'nope.pem')}: no such file`);
  });

  it('answer --record and call --play tone:1000 in two CLIs: both exit 0, the recording is 16-bit PCM WAV holding the tone', async () => {
    const heard = join(dir, 'heard.wav');
    const answering = run(['answer', ...common('1002', 'bob-1002'), '--seconds', '2', '--record', heard, '--timeout', '10']);
    // The callee must be registered before the call goes out: wait for its "waiting" line.
    await waitUntil(() => registrationsOf('1002') > 0, 'the answering CLI to register');
    const calling = await run(['call', '1002', ...common('1001', 'alice-1001'), '--play', 'tone:1000', '--seconds', '2']);
    const answered = await answering;

    expect(calling.err).toBe('');
    expect(calling.code).toBe(0);
    expect(calling.out).toContain('calling 1002');
    expect(calling.out).toMatch(/call to 1002: answered, 2 s/);
    expect(answered.err).toBe('');
    expect(answered.code).toBe(0);
    expect(answered.out).toContain('ringing: 1001');
    expect(answered.out).toContain(`recorded to ${heard}`);

    const header = readFileSync(heard).subarray(0, 44);
    expect(header.toString('latin1', 0, 4)).toBe('RIFF');
    expect(header.readUInt16LE(20)).toBe(1); // PCM
    expect(header.readUInt16LE(34)).toBe(16); // bits per sample
    const wav = await readWav(heard);
    expect(wav).toMatchObject({ sampleRate: 8000, channels: 1 });
    expect(wav.samples.length).toBeGreaterThan(8000);
    const mid = Math.floor(wav.samples.length / 2);
    const middle = wav.samples.subarray(mid - 2000, mid + 2000);
    expect(detectTone(middle, 1000)).toBe(true);
    expect(detectTone(middle, 440)).toBe(false);
  });

  it('the callee hanging up before --seconds: the caller exits 4, the callee 0', async () => {
    const answering = run(['answer', ...common('1002', 'bob-1002'), '--seconds', '1', '--timeout', '10']);
    await waitUntil(() => registrationsOf('1002') > 0, 'the answering CLI to register');
    const calling = await run(['call', '1002', ...common('1001', 'alice-1001'), '--seconds', '6']);
    const answered = await answering;
    expect(calling.code).toBe(4);
    expect(calling.err).toMatch(/call to 1002 ended early: 1002 hung up after \d s of 6/);
    expect(answered.code).toBe(0);
    expect(answered.out).toContain('we hung up');
  });

  it('calling an unknown extension exits 3 with the SIP code and reason', async () => {
    const r = await run(['call', '1009', ...common('1001', 'alice-1001'), '--seconds', '1', '--timeout', '10']);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/call to 1009 failed: [4-6]\d\d \S/);
  });

  it('--json: every stdout line is a JSON event, ending with the summary', async () => {
    const r = await run(['call', '1009', ...common('1001', 'alice-1001'), '--json', '--timeout', '10']);
    expect(r.code).toBe(3);
    const events = r.out.trim().split('\n').map((line) => JSON.parse(line) as { event: string; [k: string]: unknown });
    expect(events[0]).toMatchObject({ event: 'status', status: 'Registered', server: `tls://${HOST}:5061` });
    expect(events).toContainEqual(expect.objectContaining({ event: 'call', state: 'calling', peer: '1009' }));
    expect(events).toContainEqual(expect.objectContaining({ event: 'error' }));
    expect(events.at(-1)).toMatchObject({ event: 'summary', command: 'call', peer: '1009', exitCode: 3 });
    expect(String(events.at(-1)!.detail)).toMatch(/^[4-6]\d\d /);
  });

  it('answer with no call within --timeout exits 3', async () => {
    const r = await run(['answer', ...common('1003', 'carol-1003'), '--timeout', '1']);
    expect(r.code).toBe(3);
    expect(r.err).toContain('no call to 1003 within 1 s');
  });

  it('register stays registered until Ctrl-C, then unregisters and exits 0', async () => {
    let ctrlC: (() => void) | undefined;
    const running = start(['register', ...common('1003', 'carol-1003')], (h) => (ctrlC = h));
    await waitUntil(() => registrationsOf('1003') > 0, 'the registration of 1003');
    ctrlC!();
    const r = await running.done;
    expect(r.code).toBe(0);
    expect(r.out).toContain('registered as 1003');
    expect(r.out).toContain('unregistered 1003');
    await waitUntil(() => registrationsOf('1003') === 0, 'the gateway to drop 1003');
  });

  it('Ctrl-C during a call hangs up and exits 130; for the callee that is the normal end (0)', async () => {
    const answering = run(['answer', ...common('1002', 'bob-1002'), '--timeout', '10']);
    await waitUntil(() => registrationsOf('1002') > 0, 'the answering CLI to register');
    let ctrlC: (() => void) | undefined;
    const calling = start(['call', '1002', ...common('1001', 'alice-1001'), '--seconds', '30'], (h) => (ctrlC = h));
    await waitUntil(() => calling.live.out.includes('call to 1002: connected'), 'the call to connect');
    ctrlC!();
    const [c, a] = [await calling.done, await answering];
    expect(c.code).toBe(130);
    expect(c.out).toContain('call to 1002: interrupted (Ctrl-C) after');
    expect(a.code).toBe(0);
    expect(a.out).toContain('1001 hung up');
  });

  it('the real bin runs from the repository root (npx psi-phone)', async () => {
    const r = await new Promise<Run>((resolve) => {
      execFile('node_modules/.bin/psi-phone', ['status', ...common('1001', 'alice-1001')], { cwd: REPO_ROOT, timeout: 15_000 }, (error, stdout, stderr) => {
        resolve({ code: error ? Number(error.code ?? -1) : 0, out: stdout, err: stderr });
      });
    });
    expect(r).toMatchObject({ code: 0, out: 'Registered\n' });
    const bad = await new Promise<Run>((resolve) => {
      execFile('node_modules/.bin/psi-phone', ['status', '--user', '1001'], { cwd: REPO_ROOT, timeout: 15_000, env: { ...process.env, PSI_PHONE_PASSWORD: 'x', PSI_PHONE_SERVER: 'udp://x' } }, (error, stdout, stderr) => {
        resolve({ code: error ? Number(error.code ?? -1) : 0, out: stdout, err: stderr });
      });
    });
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--server');
  });

  function registrationsOf(user: string): number {
    return lab.gateway.gateway.status().registrations.filter((r) => r.user === user).length;
  }
});

async function waitUntil(condition: () => boolean, what: string, ms = 8000): Promise<void> {
  for (let waited = 0; !condition(); waited += 50) {
    if (waited >= ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
