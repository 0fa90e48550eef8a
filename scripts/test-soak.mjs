#!/usr/bin/env node
// `npm run test:soak`: the whole suite, several times in a row, while another process keeps one
// core busy — how CI's shared 2-core machine treats it on a bad day. A test that passes here
// only by luck fails here sooner or later.
//
//   npm run test:soak                  5 runs of `npm test` in this checkout, one core kept busy
//   npm run test:soak -- --runs 3      another number of runs
//   npm run test:soak -- --fresh       in a fresh clone of HEAD (npm ci first), as CI runs it
//   npm run test:soak -- --idle        without the busy core
//   npm run test:soak -- -- -t REGISTER   what follows a second `--` goes to `npm test`
//
// Prints each run's "N passed, N failed" line and its time, then a verdict; exits 1 when any
// run failed. Installs nothing (but `npm ci` in the fresh clone).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const split = process.argv.indexOf('--', 2);
const own = split === -1 ? process.argv.slice(2) : process.argv.slice(2, split);
const forTest = split === -1 ? [] : process.argv.slice(split + 1);

let options;
try {
  ({ values: options } = parseArgs({
    args: own,
    options: {
      runs: { type: 'string', default: '5' },
      fresh: { type: 'boolean', default: false },
      idle: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  }));
} catch (e) {
  console.error(`test:soak: ${e.message} (see --help)`);
  process.exit(2);
}
if (options.help) {
  console.log(`usage: npm run test:soak -- [--runs N] [--fresh] [--idle] [-- ARGS FOR npm test]
  --runs N   how many runs of npm test (default 5)
  --fresh    run in a fresh clone of HEAD (git clone, npm ci), as CI does; uncommitted changes are not in it
  --idle     do not keep a core busy`);
  process.exit(0);
}
const runs = Number(options.runs);
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`test:soak: --runs ${options.runs}: give a whole number of runs, 1 or more`);
  process.exit(2);
}

function hms(ms) {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

let dir = root;
let cleanup = () => undefined;
const env = { ...process.env };
if (options.fresh) {
  dir = mkdtempSync(join(tmpdir(), 'psi-soak-'));
  cleanup = () => rmSync(dir, { recursive: true, force: true });
  console.log(`test:soak: cloning HEAD into ${dir}, then npm ci`);
  for (const [cmd, args, cwd] of [['git', ['clone', '--quiet', root, dir], root], ['npm', ['ci', '--no-audit', '--no-fund'], dir]]) {
    const r = spawnSync(cmd, args, { cwd, stdio: 'inherit' });
    if (r.status !== 0) {
      console.error(`test:soak: ${cmd} ${args.join(' ')} failed (exit ${r.status})`);
      cleanup();
      process.exit(1);
    }
  }
  // The corpora live beside the repository, not in it: the clone reads this checkout's.
  const shared = process.env.PSI_SHARED ?? resolve(root, '..', 'shared');
  if (existsSync(shared)) env.PSI_SHARED = shared;
}

// One core kept busy by a process of its own, as another job on CI's machine would.
const busy = options.idle ? undefined : spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
const stopBusy = () => busy?.kill('SIGKILL');
process.on('exit', stopBusy);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    stopBusy();
    cleanup();
    process.exit(130);
  });
}

console.log(`test:soak: ${runs} run(s) of npm test in ${dir}${busy ? ', one core kept busy (a node busy loop)' : ''}`);
const results = [];
const started = Date.now();
for (let i = 1; i <= runs; i++) {
  const t0 = Date.now();
  const child = spawn('npm', ['test', '--', ...forTest], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (chunk) => {
    out += chunk.toString();
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const code = await new Promise((res) => child.once('close', (c) => res(c ?? 1)));
  const plain = out.replace(/\x1b\[[0-9;]*m/g, '');
  const summary = plain.match(/^\d+ passed, \d+ failed(, \d+ skipped)?$/m)?.[0] ?? `no summary line (exit ${code})`;
  const failures = [...plain.matchAll(/^ FAIL {2}(.+)$/gm)].map((m) => m[1]);
  results.push({ code, summary, failures });
  console.log(`run ${i}/${runs}: ${summary} — ${hms(Date.now() - t0)}${code === 0 ? '' : ` (exit ${code})`}`);
  for (const f of failures) console.log(`    FAIL ${f}`);
}
stopBusy();
cleanup();

const bad = results.filter((r) => r.code !== 0).length;
console.log(`\ntest:soak: ${runs - bad} of ${runs} runs green, ${bad} failed — ${hms(Date.now() - started)} in all`);
process.exit(bad === 0 ? 0 : 1);
