/**
 * `npm run bench` (second part): the pbx alone, driven by SIPp over UDP on this machine.
 *   - authenticated REGISTERs/s (each call of the scenario: REGISTER, 401, REGISTER, 200)
 *   - calls/s (INVITE, 407, ACK, INVITE, 180, 200, ACK, BYE, 200) to a SIPp UAS on the trunk
 *   - memory per 10,000 registered contacts (heap and RSS, after a full GC)
 * The pbx runs in this process on one core; SIPp runs beside it on the other.
 *   BENCH_USERS=10000 BENCH_REG_RATE=4000 BENCH_CALLS=3000 BENCH_CALL_RATE=300 npm run bench
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, runSipp, sippAvailable, startSipp, type SippResult } from '@psi-lab/testkit';
import { SqliteStore, startPbx } from '../src/index.js';

const USERS = Number(process.env.BENCH_USERS ?? 10_000);
const REG_RATE = Number(process.env.BENCH_REG_RATE ?? 4000);
const CALLS = Number(process.env.BENCH_CALLS ?? 3000);
const CALL_RATE = Number(process.env.BENCH_CALL_RATE ?? 300);

function gcNow(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
}

function rate(r: SippResult): number {
  return Number(r.stats['CallRate(C)'] ?? 0);
}

async function main(): Promise<void> {
  if (!sippAvailable()) {
    console.log('pbx benchmark SKIPPED: SIPp is not installed (npm run setup installs it)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'psi-pbx-bench-'));
  const store = SqliteStore.open(join(dir, 'pbx.db'), { realm: 'psi-lab', synchronous: 'NORMAL' });
  const lines = ['SEQUENTIAL'];
  for (let i = 0; i < USERS; i++) {
    const ext = String(100_000 + i);
    store.addSubscriber({ extension: ext, name: `Bench ${ext}`, email: `b${ext}@psi-lab.test`, password: `bench${ext}` });
    lines.push(`${ext};bench${ext}`);
  }
  const csv = join(dir, 'users.csv');
  writeFileSync(csv, lines.join('\n') + '\n');
  // SIPp plays the site's desk phones: they reach the pbx directly.
  store.addSiteNetwork('127.0.0.1/32', 'SIPp, the desk phones');
  const trunkPort = await freePort();
  const pbx = await startPbx({ store, port: 0, logger: process.env.BENCH_LOG ? (await import('pino')).default({ level: 'info' }, (await import('pino')).default.destination(process.env.BENCH_LOG)) : undefined, trunk: { address: '127.0.0.1', port: trunkPort }, blockPolicy: { maxRequests: 10_000_000 } });
  const target = `127.0.0.1:${pbx.port}`;

  gcNow();
  const before = process.memoryUsage();
  console.log(`registering ${USERS} users at up to ${REG_RATE}/s...`);
  const reg = await runSipp({ scenario: 'register-auth-uac.xml', target, transport: 'u1', calls: USERS, rate: REG_RATE, injectionFile: csv, timeoutMs: 120_000, traceMessages: false, extraArgs: ['-rate_max', String(REG_RATE)] });
  // Finished transactions stay 32 s on UDP (Timer J) to absorb retransmissions: let them go,
  // so what remains is what the registered contacts themselves cost.
  await new Promise((r) => setTimeout(r, 33_000));
  gcNow();
  const after = process.memoryUsage();
  const contacts = store.allBindings().length;

  console.log(`calling ${CALLS} times at up to ${CALL_RATE}/s...`);
  const uas = await startSipp({ scenario: 'call-uas.xml', transport: 'u1', calls: CALLS, localPort: trunkPort, timeoutMs: 120_000, traceMessages: false });
  await uas.ready;
  const calls = await runSipp({ scenario: 'call-auth-uac.xml', target, transport: 'u1', calls: CALLS, rate: CALL_RATE, injectionFile: csv, timeoutMs: 110_000, traceMessages: false, keepFiles: process.env.BENCH_KEEP === '1', extraArgs: ['-s', '0612345678', '-auth_uri', `0612345678@${target}`, '-rate_max', String(CALL_RATE)] });
  uas.stop();
  await uas.result;
  if (calls.failed > 0) {
    const failures = (calls.errors ?? '').split(/(?=\d{4}-\d\d-\d\d\t)/).filter((e) => !e.includes('(successful)'));
    console.log(`call failures, as SIPp saw them (first 3 of ${failures.length}):\n${failures.slice(0, 3).join('\n').slice(0, 3000)}`);
    console.log('blocked sources:', JSON.stringify(pbx.blocker.list()));
  }

  const perTenThousand = (bytes: number): string => `${((bytes / Math.max(contacts, 1)) * 10_000 / 1024 / 1024).toFixed(1)} MiB`;
  console.log(`
| pbx alone, SIPp over UDP | figure |
|---|---:|
| authenticated REGISTERs/s (${reg.successful} ok, ${reg.failed} failed, offered ${REG_RATE}/s) | ${rate(reg).toFixed(0)} |
| calls/s through the pbx to the trunk (${calls.successful} ok, ${calls.failed} failed, offered ${CALL_RATE}/s) | ${rate(calls).toFixed(0)} |
| heap per 10,000 registered contacts (${contacts} contacts) | ${perTenThousand(after.heapUsed - before.heapUsed)} |
| RSS per 10,000 registered contacts | ${perTenThousand(after.rss - before.rss)} |

Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores: the pbx on one, SIPp beside it), SQLite WAL, synchronous=NORMAL.`);
  await pbx.close();
  store.close();
  rmSync(dir, { recursive: true, force: true });
  // SIPp children and UDP sockets may linger a moment; a benchmark has nothing left to wait for.
  process.exit(0);
}

main().catch((e: Error) => {
  console.error(`pbx benchmark failed: ${e.stack}`);
  process.exit(1);
});
