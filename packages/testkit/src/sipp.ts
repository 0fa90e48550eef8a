import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe } from 'vitest';
import { freePort, waitListening } from './ports.js';

export { freePort };

/**
 * Debian's SIPp (`sip-tester`, /usr/bin/sipp) as a real peer in vitest. SIPp runs in the
 * foreground, on loopback only (127.0.0.1, or the test file's leased address), with its
 * statistics, screens, errors and (by default) every message traced to a temporary folder; the result is read from those files. It never hangs:
 * SIPp gets its own global timeout, and is killed outright when `timeoutMs` is reached.
 */

/** The repository root: this file is packages/sip/test/helpers/sipp.ts. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const SCENARIOS_DIR = join(REPO_ROOT, 'scenarios');

/** `$SIPP` when set (a path or a name on PATH), else `sipp`. */
export const SIPP_BIN = process.env.SIPP ?? 'sipp';

export const SIPP_MISSING_MESSAGE =
  `SIPp (${SIPP_BIN}) is not installed or not on PATH: the SIPp interop tests are SKIPPED, not passed. ` +
  'Install it with `sudo apt-get install sip-tester` (or run `bash .ci/run`, which installs it).';

export type SippTransport = 'u1' | 'un' | 't1' | 'tn';

export interface SippOptions {
  /** A scenario in scenarios/ ('options-uac' or 'options-uac.xml'), or an absolute path. */
  scenario: string;
  /** 'HOST:PORT' on loopback. Optional for a UAS scenario, which only listens. */
  target?: string;
  transport: SippTransport;
  /** -m: stop after this many calls (a call = one run of the scenario). */
  calls: number;
  /** -r: calls per second (default 10). */
  rate?: number;
  /** -inf: a CSV injection file (`SEQUENTIAL`, then `field0;field1;...`). */
  injectionFile?: string;
  /** Appended last, so they can override the defaults (SIPp keeps the last value). */
  extraArgs?: string[];
  /**
   * Hard limit. SIPp's own -timeout (whole seconds, at least 1) is set max(3 s, 25 %) before it,
   * so SIPp normally stops itself and writes its statistics, even on a loaded machine; at
   * timeoutMs it is killed. Default 15000.
   */
  timeoutMs?: number;
  /** -i, -mi and -ci: SIPp's own loopback address. Default 127.0.0.1. */
  localAddress?: string;
  /**
   * -p: SIPp's own port. Default: a port free for both UDP and TCP on localAddress; should another
   * socket take it before SIPp binds it, SIPp is run again once on another one.
   */
  localPort?: number;
  /** -recv_timeout (ms) for recv elements without their own timeout. Default 5000. */
  recvTimeoutMs?: number;
  /** -trace_msg: keep every message sent and received in `messages`. Default true. */
  traceMessages?: boolean;
  /** Keep the trace folder (its path is in `dir`); also kept when PSI_KEEP_SIPP=1. */
  keepFiles?: boolean;
}

export interface SippResult {
  successful: number;
  failed: number;
  /** Calls created but neither successful nor failed: still running when SIPp was stopped. */
  unfinished: number;
  /** SIPp: 0 all calls succeeded, 1 some failed, 97 internal exit, 99 no call processed, 255 fatal; -1 killed. */
  exitCode: number;
  stdout: string;
  stderr: string;
  /** The -trace_msg log: every message sent and received. */
  messages?: string;
  /** The -trace_err log: unexpected messages and why calls failed. */
  errors?: string;
  /** The last row of the -trace_stat CSV, by column name (SuccessfulCall(C), FailedTimeoutOnRecv(C)...). */
  stats: Record<string, string>;
  /** True when the hard timeout fired and SIPp had to be killed. */
  killed: boolean;
  /** The SIPp command line, for failure messages. */
  command: string;
  localPort: number;
  /** The trace folder; deleted after the run unless keepFiles or PSI_KEEP_SIPP=1. */
  dir: string;
  elapsedMs: number;
}

export interface RunningSipp {
  localPort: number;
  /** Resolves once SIPp listens on localAddress:localPort (seen in /proc/net); rejects when SIPp exits first or takes over 20 s. */
  ready: Promise<void>;
  result: Promise<SippResult>;
  /** Ask SIPp to stop now (like pressing q), keeping its statistics. */
  stop(): void;
}

let available: boolean | undefined;

/** True when SIPp can be run. Checks PATH without running anything. */
export function sippAvailable(): boolean {
  if (available !== undefined) return available;
  available = findExecutable(SIPP_BIN) !== undefined;
  return available;
}

function findExecutable(name: string): string | undefined {
  const candidates = name.includes('/') ? [name] : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** SIPp's version line, e.g. "SIPp v3.6.1-SCTP-PCAP-RTPSTREAM.", or undefined. */
export function sippVersion(): string | undefined {
  if (!sippAvailable()) return undefined;
  const r = spawnSync(SIPP_BIN, ['-v'], { encoding: 'utf8', timeout: 5000 });
  return /SIPp v\S+/.exec(`${r.stdout}${r.stderr}`)?.[0];
}

let warned = false;

/** Print, loudly and once per test file, that the SIPp suites are skipped and how to fix it. */
export function warnSippMissing(suite?: string): void {
  if (!warned) {
    const line = '*'.repeat(100);
    console.warn(`\n${line}\n*** SKIPPED${suite ? ` "${suite}"` : ''}: ${SIPP_MISSING_MESSAGE}\n${line}\n`);
  }
  warned = true;
}

/**
 * `describe` when SIPp is installed; otherwise the suite is reported as skipped (its tests
 * count as skipped, never passed), with a loud message saying why.
 */
export function describeIfSipp(name: string, fn: () => void): void {
  if (sippAvailable()) {
    describe(name, fn);
    return;
  }
  warnSippMissing(name);
  describe.skip(`${name} [SKIPPED: SIPp not installed; sudo apt-get install sip-tester]`, fn);
}

/** Resolve a scenario name or path to an XML file that exists. */
export function scenarioPath(scenario: string): string {
  let p = isAbsolute(scenario) ? scenario : join(SCENARIOS_DIR, scenario);
  if (!existsSync(p) && !p.endsWith('.xml')) p += '.xml';
  if (!existsSync(p)) throw new Error(`SIPp scenario not found: ${scenario} (looked for ${p})`);
  return p;
}

/** Run SIPp to completion. */
export async function runSipp(options: SippOptions): Promise<SippResult> {
  const running = await startSipp(options);
  return running.result;
}

/** Start SIPp and return at once: for a UAS peer that must be listening before the UAC runs. */
export async function startSipp(options: SippOptions): Promise<RunningSipp> {
  if (!sippAvailable()) throw new Error(SIPP_MISSING_MESSAGE);
  const localAddress = options.localAddress ?? '127.0.0.1';
  if (options.localPort !== undefined) return launchSipp(options, localAddress, options.localPort);
  // The port is chosen here, then bound by SIPp a moment later: another socket may take it in
  // between. SIPp then exits at once ("Unable to bind main socket"): run it again, once, on
  // another free port, so that race is never a test failure.
  let current = launchSipp(options, localAddress, await freePort(localAddress));
  const first = current;
  let retry: Promise<RunningSipp> | undefined;
  const again = (): Promise<RunningSipp> => (retry ??= freePort(localAddress).then((port) => (current = launchSipp(options, localAddress, port))));
  const result = first.result.then(async (r) => (bindFailed(r) ? (await again()).result : r));
  const ready = first.ready.catch(async (e: unknown) => {
    if (bindFailed(await first.result)) return (await again()).ready;
    throw e;
  });
  ready.catch(() => undefined); // as in launchSipp: only an awaited `ready` rejects
  return {
    get localPort() {
      return current.localPort;
    },
    ready,
    result,
    stop: () => current.stop(),
  };
}

/** SIPp could not bind its own port (another socket took it after freePort() found it free). */
function bindFailed(r: SippResult): boolean {
  return r.exitCode !== 0 && r.successful === 0 && r.failed === 0 && /Unable to bind main socket|Address already in use/.test(`${r.errors ?? ''}${r.stderr}${r.stdout.slice(-4000)}`);
}

/** The slack between SIPp's own -timeout and the hard kill: max(3 s, 25 %) for a loaded machine. */
export function sippOwnTimeoutS(timeoutMs: number): number {
  return Math.max(1, Math.floor((timeoutMs - Math.max(3000, timeoutMs * 0.25)) / 1000));
}

function launchSipp(options: SippOptions, localAddress: string, localPort: number): RunningSipp {
  const timeoutMs = options.timeoutMs ?? 15000;
  const scenarioFile = scenarioPath(options.scenario);
  const dir = mkdtempSync(join(tmpdir(), 'psi-sipp-'));
  const files = {
    stat: join(dir, 'stat.csv'),
    screen: join(dir, 'screen.log'),
    errors: join(dir, 'errors.log'),
    messages: join(dir, 'messages.log'),
  };
  // SIPp stops itself (and still writes its statistics) well before the hard kill: a loaded
  // machine may take a few seconds to end its calls and write the files. Its -timeout counts
  // whole seconds ("1500ms" is cut to 1 s), so say seconds.
  const sippTimeoutS = sippOwnTimeoutS(timeoutMs);
  const args: string[] = [];
  if (options.target) args.push(options.target);
  args.push(
    '-sf', scenarioFile,
    '-t', options.transport,
    '-m', String(options.calls),
    '-r', String(options.rate ?? 10),
    '-i', localAddress,
    '-p', String(localPort),
    '-mi', localAddress,
    '-ci', localAddress,
    '-nostdin',
    '-recv_timeout', String(options.recvTimeoutMs ?? 5000),
    '-timeout', `${sippTimeoutS}s`,
    '-timeout_error',
    '-trace_stat', '-stf', files.stat, '-fd', '1',
    '-trace_screen', '-screen_file', files.screen,
    '-trace_err', '-error_file', files.errors,
  );
  // un/tn (a socket per call) refuse to start while -max_socket (default 50000) exceeds `ulimit -n`.
  if (options.transport.endsWith('n')) args.push('-max_socket', '1000');
  if (options.traceMessages !== false) args.push('-trace_msg', '-message_file', files.messages);
  if (options.injectionFile) args.push('-inf', resolve(options.injectionFile));
  args.push(...(options.extraArgs ?? []));
  const command = [SIPP_BIN, ...args].join(' ');

  const started = Date.now();
  const child = spawn(SIPP_BIN, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout = new Tail();
  const stderr = new Tail();
  child.stdout.on('data', (d: Buffer) => stdout.add(d));
  child.stderr.on('data', (d: Buffer) => stderr.add(d));

  let killed = false;
  const hardKill = setTimeout(() => {
    killed = true;
    child.kill('SIGKILL');
  }, timeoutMs);

  const exited = new Promise<number>((res) => {
    child.once('error', (e) => {
      stderr.add(Buffer.from(`\nspawn failed: ${e.message}\n`));
      res(-1);
    });
    child.once('close', (code) => res(code ?? -1));
  });

  const result = exited.then((exitCode): SippResult => {
    clearTimeout(hardKill);
    const stats = readStats(files.stat);
    const screen = readIfExists(files.screen) ?? '';
    const out = stdout.text();
    const successful = numberFrom(stats['SuccessfulCall(C)']) ?? counterFromScreen(screen, 'Successful call') ?? counterFromScreen(out, 'Successful call') ?? 0;
    const failed = numberFrom(stats['FailedCall(C)']) ?? counterFromScreen(screen, 'Failed call') ?? counterFromScreen(out, 'Failed call') ?? 0;
    const created = numberFrom(stats['TotalCallCreated']);
    const res: SippResult = {
      successful,
      failed,
      unfinished: created === undefined ? 0 : Math.max(0, created - successful - failed),
      exitCode,
      stdout: out,
      stderr: stderr.text(),
      messages: readIfExists(files.messages),
      errors: readIfExists(files.errors),
      stats,
      killed,
      command,
      localPort,
      dir,
      elapsedMs: Date.now() - started,
    };
    if (!options.keepFiles && process.env.PSI_KEEP_SIPP !== '1') rmSync(dir, { recursive: true, force: true });
    return res;
  });

  const tcp = options.transport.startsWith('t');
  const ready = waitListening(child.pid, localAddress, localPort, tcp, exited, () => stderr.text());
  ready.catch(() => undefined); // a UAC run that ends before anyone asks is no error: only an awaited `ready` rejects
  return {
    localPort,
    ready,
    result,
    // SIGUSR1 is SIPp's "quit": it stops making calls, ends the running ones and exits.
    stop: () => void child.kill('SIGUSR1'),
  };
}

function readIfExists(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, 'latin1') : undefined;
}

/** The last row of SIPp's statistics CSV (semicolon separated, header first). */
function readStats(path: string): Record<string, string> {
  const text = readIfExists(path);
  if (!text) return {};
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length < 2) return {};
  const header = lines[0].split(';');
  const row = lines[lines.length - 1].split(';');
  const stats: Record<string, string> = {};
  header.forEach((h, i) => {
    if (h) stats[h] = row[i] ?? '';
  });
  return stats;
}

function numberFrom(v: string | undefined): number | undefined {
  if (v === undefined || !/^\d+$/.test(v.trim())) return undefined;
  return Number(v);
}

/** The cumulative column of the last "Successful call | periodic | cumulative" screen line. */
function counterFromScreen(text: string, label: string): number | undefined {
  const re = new RegExp(`${label}\\s*\\|[^|\\n]*\\|\\s*(\\d+)`, 'g');
  let last: number | undefined;
  for (const m of text.matchAll(re)) last = Number(m[1]);
  return last;
}

/** Keeps the last 1 MB of a stream: SIPp repaints its screen on stdout every second. */
class Tail {
  private chunks: Buffer[] = [];
  private size = 0;
  add(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > 1_000_000 && this.chunks.length > 1) this.size -= this.chunks.shift()!.length;
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }
}
