#!/usr/bin/env node
// `npm test`: every package's tests through vitest, ending with one plain line
//   N passed, N failed[, N skipped]
// counted per test, from vitest's JSON report. Extra arguments go to vitest
// (`npm test -- packages/sip/test/digest.test.ts`, `npm test -- -t REGISTER`).
// Exits non-zero when a test failed or vitest itself failed. Installs nothing.
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const extra = process.argv.slice(2);

function onPath(name) {
  const candidates = name.includes('/') ? [name] : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, name));
  return candidates.some((c) => {
    try {
      accessSync(c, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const sipp = process.env.SIPP ?? 'sipp';
if (!onPath(sipp)) {
  const bar = '*'.repeat(100);
  console.warn(`${bar}
*** SIPp is missing (no '${sipp}' on PATH): the SIPp interop tests will be SKIPPED, not passed.
*** Install it with:  sudo apt-get install sip-tester      (or run: bash .ci/run)
${bar}`);
}

const dir = mkdtempSync(join(tmpdir(), 'psi-vitest-'));
const report = join(dir, 'report.json'); // kept: vitest prints where it is
// Keep the usual console reporter unless the caller chose their own; always add JSON.
const ownReporter = extra.some((a) => a === '--reporter' || a.startsWith('--reporter='));
const args = ['vitest', 'run', ...(ownReporter ? [] : ['--reporter=default']), '--reporter=json', `--outputFile.json=${report}`, ...extra];

const child = spawn('npx', args, { cwd: root, stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));

const code = await new Promise((res) => {
  child.once('error', (e) => {
    console.error(`could not start vitest: ${e.message}`);
    res(1);
  });
  child.once('close', (c, signal) => res(c ?? (signal ? 1 : 0)));
});

let passed = 0;
let failed = 0;
let skipped = 0;
let haveReport = false;
if (existsSync(report)) {
  try {
    const r = JSON.parse(readFileSync(report, 'utf8'));
    passed = r.numPassedTests ?? 0;
    failed = r.numFailedTests ?? 0;
    skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
    haveReport = true;
    // Files that failed outside any test (import error, failing hook): not counted as tests.
    const broken = (r.testResults ?? []).filter((f) => f.status === 'failed' && !(f.assertionResults ?? []).some((a) => a.status === 'failed'));
    if (broken.length > 0) {
      console.log(`\n${broken.length} test file(s) failed outside any test (import or hook error, see above):`);
      for (const f of broken) console.log(`  ${relative(root, f.name)}${f.message ? `: ${String(f.message).split('\n')[0]}` : ''}`);
    }
  } catch (e) {
    console.log(`\nvitest's JSON report could not be read: ${e.message}`);
  }
} else {
  console.log(`\nvitest wrote no report (exit code ${code}): see its output above.`);
}
console.log(`\n${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || code !== 0 || !haveReport ? code || 1 : 0);
