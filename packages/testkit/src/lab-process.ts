import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './sipp.js';
import { within } from './wait.js';

/** How long a lab may take to start on a busy machine. */
const START_LIMIT_MS = 50_000;

export interface LabProcess {
  child: ChildProcess;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Resolves once it printed "Ctrl-C stops it"; rejects when it exits first or takes too long. */
  ready: Promise<void>;
  exited: Promise<number | null>;
  dataDir: string;
  /** The CA sets trust (DATA/certs/ca.pem), the admin token, the pbx API token. */
  ca(): string;
  /** The path of that CA file, for tools that read it themselves (baresip, linphonec). */
  caFile(): string;
  adminToken(): string;
  apiToken(): string;
  /** Resident memory of the lab process now, in bytes (from /proc). */
  rssBytes(): number;
  /** SIGTERM (the lab closes its listeners), SIGKILL if it has not exited within 15 s. */
  stop(): Promise<void>;
}

/**
 * `npm run lab` as a process of its own — node with tsx's loader, not the tsx wrapper, which
 * would run the lab in a child a kill of the wrapper leaves behind — with `args` (a test gives
 * it `--data`, `--host` and `--internal-host` of its own).
 */
export function startLabProcess(dataDir: string, args: string[]): LabProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'packages/lab/src/main.ts', '--data', dataDir, ...args], {
    cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: process.env.LAB_LOG ?? 'warn' },
  });
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
  const read = (file: string): string => readFileSync(join(dataDir, file), 'utf8');
  return {
    child, output: () => out, ready, exited, dataDir,
    ca: () => read('certs/ca.pem'),
    caFile: () => join(dataDir, 'certs/ca.pem'),
    adminToken: () => read('admin-token').trim(),
    apiToken: () => read('api-token').trim(),
    rssBytes: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status);
      if (!kb) throw new Error(`no VmRSS in /proc/${child.pid}/status`);
      return Number(kb[1]) * 1024;
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const stopped = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 15_000))]);
      if (!stopped) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}
