import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { REPO_ROOT } from './sipp.js';
import { describe } from 'vitest';

export interface ToolRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Whether a command is on the PATH (the attack tools come from Debian: `npm run setup` installs them). */
export function hasTool(name: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => {
    try {
      accessSync(`${dir}/${name}`, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Runs a command to its end (killed after `limitMs`), with what it printed and how long it took. */
export function runTool(command: string, args: string[], limitMs = 120_000, env: Record<string, string> = {}): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(command, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** `psi-phone ARGS`, the softphone's CLI as a user runs it. */
export function psiPhone(args: string[], limitMs = 60_000): Promise<ToolRun> {
  return runTool(process.execPath, ['packages/softphone/bin/psi-phone.mjs', ...args], limitMs);
}

/**
 * `describe` when the attacker's tool is installed; otherwise a banner on stderr and a skipped
 * suite whose name says why: never a silent pass.
 */
export function describeIfTool(tool: string, debianPackage: string, name: string, fn: () => void): void {
  if (hasTool(tool)) {
    describe(name, fn);
    return;
  }
  const bar = '*'.repeat(100);
  console.warn(`${bar}\n*** ${tool} is missing: "${name}" is SKIPPED, not passed. Install it: sudo apt-get install ${debianPackage} (or npm run setup)\n${bar}`);
  describe.skip(`${name} [SKIPPED: ${tool} not installed; sudo apt-get install ${debianPackage}]`, fn);
}
