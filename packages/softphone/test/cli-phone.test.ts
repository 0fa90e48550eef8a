import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { audioFrames, framesWithTone, readWav } from '@psi-lab/media';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runPhoneCli } from '../src/cli/psi-phone.js';
import { startTestLab, type TestLab } from './helpers/lab.js';
import { leaseLoopbackAddress, waitFor, within } from '@psi-lab/testkit';

const HOST = await leaseLoopbackAddress();
const REPO_ROOT = join(import.meta.dirname, '../../..');

interface Run {
  code: number;
  out: string;
  err: string;
}

/** A CLI running in-process. */
interface RunningCli {
  /** Fills as the CLI writes. */
  live: Run;
  done: Promise<Run>;
  /** Press Ctrl-C (once the CLI took over the signal: it does so before it registers). */
  ctrlC(): void;
  /** Whether it has taken over Ctrl-C yet. */
  readonly interruptible: boolean;
}

/** Generous: a CLI registers, calls and records through the lab, and a busy machine may stall it. */
const CLI_STEP_LIMIT_MS = 20_000;

describe('psi-phone against the lab (gateway → pbx)', () => {
  let lab: TestLab;
  const dir = mkdtempSync(join(tmpdir(), 'psi-phone-cli-'));
  const common = (user: string, password: string): string[] => ['--user', user, '--password', password, '--server', `tls://${HOST}:5061`, '--ca', `${lab.dir}/certs/ca.pem`];

  /** Every CLI a test started and that has not ended: afterEach stops them, so none answers a later test's call. */
  const running = new Set<RunningCli>();
  /** Start the CLI in-process, keeping the Ctrl-C handler it hands over. */
  const start = (argv: string[]): RunningCli => {
    const live = { code: -1, out: '', err: '' };
    let ctrlCHandler: (() => void) | undefined;
    const done = runPhoneCli(argv, {
      stdout: (t) => (live.out += t), stderr: (t) => (live.err += t), isTTY: false, env: {},
      onSignal: (handler) => {
        ctrlCHandler = handler;
        return () => (ctrlCHandler = undefined);
      },
    }).then((code) => ({ ...live, code }));
    const cli: RunningCli = {
      live, done,
      ctrlC: () => {
        if (!ctrlCHandler) throw new Error(`the CLI (${argv.join(' ')}) has not taken over Ctrl-C`);
        ctrlCHandler();
      },
      get interruptible() {
        return ctrlCHandler !== undefined;
      },
    };
    running.add(cli);
    void done.finally(() => running.delete(cli));
    return cli;
  };
  const run = (argv: string[]): Promise<Run> => start(argv).done;
  /** `psi-phone answer` as 1002, once it says it waits: only then can a call reach it. */
  const answeringCli = async (extra: string[]): Promise<{ done: Promise<Run> }> => {
    const answering = start(['answer', ...common('1002', 'bob-1002'), ...extra]);
    const ready = (): boolean => answering.live.out.includes('waiting for a call to 1002');
    await Promise.race([
      waitUntil(ready, 'the answering CLI to say it waits for a call'),
      answering.done.then((r) => {
        if (!ready()) throw new Error(`the answering CLI ended before waiting for a call (exit ${r.code}): ${r.out}${r.err}`);
      }),
    ]);
    return { done: answering.done };
  };

  beforeAll(async () => {
    lab = await startTestLab(HOST);
  });
  // A test that failed half-way may leave a CLI registered (as 1002, answering calls): Ctrl-C it.
  afterEach(async () => {
    const left = [...running];
    for (const cli of left) {
      await waitFor(() => cli.interruptible || !running.has(cli), CLI_STEP_LIMIT_MS, 'a CLI left running to take over Ctrl-C');
      if (running.has(cli)) cli.ctrlC();
    }
    await within(Promise.all(left.map((cli) => cli.done)), CLI_STEP_LIMIT_MS, 'the CLIs left running to end after Ctrl-C');
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
    // Only the caller's --seconds ends the call: two timers would race to hang up first.
    const answering = await answeringCli(['--record', heard, '--timeout', '10']);
    const calling = await run(['call', '1002', ...common('1001', 'alice-1001'), '--play', 'tone:1000', '--seconds', '2']);
    const answered = await answering.done;
    expect(calling.err).toBe('');
    expect(calling.code).toBe(0);
    expect(calling.out).toContain('calling 1002');
    expect(calling.out).toMatch(/call to 1002: answered, 2 s/);
    expect(answered.err).toBe('');
    expect(answered.code).toBe(0);
    expect(answered.out).toContain('ringing: 1001');
    expect(answered.out).toContain('1001 hung up');
    expect(answered.out).toContain(`recorded to ${heard}`);

    const header = readFileSync(heard).subarray(0, 44);
    expect(header.toString('latin1', 0, 4)).toBe('RIFF');
    expect(header.readUInt16LE(20)).toBe(1); // PCM
    expect(header.readUInt16LE(34)).toBe(16); // bits per sample
    const wav = await readWav(heard);
    expect(wav).toMatchObject({ sampleRate: 8000, channels: 1 });
    expect(wav.samples.length).toBeGreaterThan(8000);
    // Frame by frame, leaving out the silence played while nothing arrived.
    const frames = audioFrames(wav.samples);
    expect(frames.length).toBeGreaterThanOrEqual(40);
    expect(framesWithTone(frames, 1000)).toBeGreaterThan(0.9 * frames.length);
    expect(framesWithTone(frames, 440)).toBe(0);
  });

  it('the callee hanging up before --seconds: the caller exits 4, the callee 0', async () => {
    const answering = await answeringCli(['--seconds', '1', '--timeout', '10']);
    const calling = await run(['call', '1002', ...common('1001', 'alice-1001'), '--seconds', '6']);
    const answered = await answering.done;
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
    const registering = start(['register', ...common('1003', 'carol-1003')]);
    // The CLI's own word that it holds the registration: Ctrl-C before it would interrupt register().
    await waitUntil(() => registering.live.out.includes('holding the registration of 1003: Ctrl-C to unregister'), 'the CLI to hold the registration of 1003');
    expect(registering.live.out).toContain(`registered as 1003 via tls://${HOST}:5061`);
    expect(registrationsOf('1003')).toBeGreaterThanOrEqual(1);
    registering.ctrlC();
    const r = await registering.done;
    expect(r.code).toBe(0);
    expect(r.out).toContain('unregistered 1003');
    // The CLI waited for the gateway's 200 to its unREGISTER before it ended.
    expect(registrationsOf('1003')).toBe(0);
  });

  it('Ctrl-C during a call hangs up and exits 130; for the callee that is the normal end (0)', async () => {
    const answering = await answeringCli(['--timeout', '10']);
    const calling = start(['call', '1002', ...common('1001', 'alice-1001'), '--seconds', '30']);
    await waitUntil(() => calling.live.out.includes('call to 1002: connected'), 'the call to connect');
    calling.ctrlC();
    const [c, a] = [await calling.done, await answering.done];
    expect(c.code).toBe(130);
    expect(c.out).toContain('call to 1002: interrupted (Ctrl-C) after');
    expect(a.code).toBe(0);
    expect(a.out).toContain('1001 hung up');
  });

  it('the real bin runs from the repository root (npx psi-phone)', async () => {
    const r = await new Promise<Run>((resolve) => {
      execFile('node_modules/.bin/psi-phone', ['status', ...common('1001', 'alice-1001')], { cwd: REPO_ROOT, timeout: 40_000 }, (error, stdout, stderr) => {
        resolve({ code: error ? Number(error.code ?? -1) : 0, out: stdout, err: stderr });
      });
    });
    expect(r).toMatchObject({ code: 0, out: 'Registered\n' });
    const bad = await new Promise<Run>((resolve) => {
      execFile('node_modules/.bin/psi-phone', ['status', '--user', '1001'], { cwd: REPO_ROOT, timeout: 40_000, env: { ...process.env, PSI_PHONE_PASSWORD: 'x', PSI_PHONE_SERVER: 'udp://x' } }, (error, stdout, stderr) => {
        resolve({ code: error ? Number(error.code ?? -1) : 0, out: stdout, err: stderr });
      });
    });
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--server');
  }, 90_000);

  function registrationsOf(user: string): number {
    return lab.gateway.gateway.status().registrations.filter((r) => r.user === user).length;
  }
});

function waitUntil(condition: () => boolean, what: string): Promise<void> {
  return waitFor(condition, CLI_STEP_LIMIT_MS, what);
}
