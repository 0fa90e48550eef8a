/**
 * `npm run bench` (third part): the gateway in front of the pbx, both in this process, driven by
 * SIPp on this machine.
 *   - authenticated REGISTERs/s through gateway + pbx: SIPp over UDP, and over TLS via stunnel
 *     (SIPp -t tn: one TLS connection per registration)
 *   - calls/s UAC → gateway → pbx → gateway → UAS (SDP rewritten, media ports allocated), over
 *     UDP and with the caller over TLS
 *   - CPU and memory per 10,000 registered TLS sets, held open by a separate process
 *     (bench/tls-sets.ts) that answers the gateway's keepalive OPTIONS
 *   BENCH_USERS=10000 BENCH_REG_RATE=1500 BENCH_CALLS=3000 BENCH_CALL_RATE=250 BENCH_TLS_SETS=10000 npm run bench
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SqliteStore, seedDefaults, startManagementApi, startPbx } from '@psi-lab/pbx';
import { ensureLabCertificates } from '@psi-lab/pki';
import { REPO_ROOT, freePort, runSipp, sippAvailable, startSipp, startStunnelClient, stunnelAvailable, type SippResult } from '@psi-lab/testkit';
import { resolveGatewayConfig, startGateway } from '../src/index.js';

const USERS = Number(process.env.BENCH_USERS ?? 10_000);
const REG_RATE = Number(process.env.BENCH_REG_RATE ?? 1500);
const TLS_REGS = Number(process.env.BENCH_TLS_REGS ?? 2000);
const TLS_REG_RATE = Number(process.env.BENCH_TLS_REG_RATE ?? 600);
const CALLS = Number(process.env.BENCH_CALLS ?? 3000);
const CALL_RATE = Number(process.env.BENCH_CALL_RATE ?? 250);
const TLS_CALLS = Number(process.env.BENCH_TLS_CALLS ?? 1000);
const TLS_CALL_RATE = Number(process.env.BENCH_TLS_CALL_RATE ?? 100);
const TLS_SETS = Number(process.env.BENCH_TLS_SETS ?? 10_000);
const HOST = '127.0.0.50';
const HERE = dirname(fileURLToPath(import.meta.url));

const gc = (): void => {
  const f = (globalThis as { gc?: () => void }).gc;
  f?.();
  f?.();
};
const rate = (r: SippResult): number => Number(r.stats['CallRate(C)'] ?? 0);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  if (!sippAvailable() || !stunnelAvailable()) {
    console.log('gateway benchmark SKIPPED: SIPp or stunnel is not installed (npm run setup installs them)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'psi-gw-bench-'));
  const store = SqliteStore.open(join(dir, 'pbx.db'), { realm: 'psi-lab', synchronous: 'NORMAL' });
  seedDefaults(store);
  const lines = ['SEQUENTIAL'];
  const total = Math.max(USERS, TLS_SETS);
  for (let i = 0; i < total; i++) {
    const ext = String(100_000 + i);
    store.addSubscriber({ extension: ext, name: `Bench ${ext}`, email: `b${ext}@psi-lab.test`, password: `bench${ext}`, role: 'Standard' });
    if (i < USERS) lines.push(`${ext};bench${ext}`);
  }
  const csv = join(dir, 'users.csv');
  writeFileSync(csv, lines.join('\n') + '\n');
  const calleeCsv = join(dir, 'callee.csv');
  // The callee is nobody's caller: the pbx forks its calls to the SIPp UAS alone.
  store.addSubscriber({ extension: '99999', name: 'Bench callee', email: 'callee@psi-lab.test', password: 'bench99999', role: 'Standard' });
  writeFileSync(calleeCsv, 'SEQUENTIAL\n99999;bench99999\n');
  store.setMbg({ address: HOST, publicFqdn: 'gateway.bench', account: 'mbg', sharedSecret: 'bench-secret' });
  store.addAllowListEntry(`${HOST}/32`, 'the gateway');

  const pbx = await startPbx({ store, host: HOST, port: 5070, blockPolicy: { maxRequests: 1e9 } });
  // The pbx API over TLS, as the gateway requires (its certificate from a CA of its own).
  const apiCerts = ensureLabCertificates({ caDir: join(dir, 'pbx-ca'), certDir: join(dir, 'pbx-certs'), names: [HOST] });
  const api = await startManagementApi({ store, token: 't', host: HOST, port: 0, tls: { certFile: apiCerts.files!.certFile, keyFile: apiCerts.files!.keyFile } });
  const config = resolveGatewayConfig({
    sip: { host: HOST }, certificate: { dir: join(dir, 'certs') }, admin: { host: HOST },
    pbx: { address: HOST, port: 5070, localHost: HOST, api: `https://${HOST}:${api.port}`, apiCaFile: apiCerts.files!.caFile, account: 'mbg', secret: 'bench-secret' },
    // SIPp sets vanish when their scenario ends: no keepalive while SIPp drives (it is on for the TLS crowd).
    keepalive: { optionsIntervalSeconds: 0 },
    // The load generators are white-listed, as the README tells load testers.
    security: { maxConnectionsPerSource: 30_000, maxRequestsPerWindow: 100_000_000, accessList: [{ cidr: '127.0.0.0/8', list: 'white' }] },
    log: { level: 'silent' },
  }, dir);
  const gateway = await startGateway(config, { handleSighup: false });
  const stunnel = await startStunnelClient({ connect: `${HOST}:5061`, caFile: join(dir, 'certs', 'ca.pem'), checkHost: 'localhost' });
  const target = `${HOST}:5060`;
  const rows: string[] = [];

  console.log(`registering ${USERS} users over UDP at up to ${REG_RATE}/s...`);
  const regUdp = await runSipp({ scenario: 'register-auth-uac.xml', target, transport: 'u1', calls: USERS, rate: REG_RATE, injectionFile: csv, timeoutMs: 180_000, traceMessages: false, extraArgs: ['-rate_max', String(REG_RATE)] });
  rows.push(`| authenticated REGISTERs/s, SIPp over UDP (${regUdp.successful} ok, ${regUdp.failed} failed, offered ${REG_RATE}/s) | ${rate(regUdp).toFixed(0)} |`);

  console.log(`registering ${TLS_REGS} users over TLS (stunnel) at up to ${TLS_REG_RATE}/s...`);
  const regTls = await runSipp({ scenario: 'register-auth-uac.xml', target: `127.0.0.1:${stunnel.port}`, transport: 'tn', calls: TLS_REGS, rate: TLS_REG_RATE, injectionFile: csv, timeoutMs: 180_000, traceMessages: false, extraArgs: ['-rate_max', String(TLS_REG_RATE), '-max_socket', '5000'] });
  rows.push(`| authenticated REGISTERs/s, SIPp over TLS through stunnel, a new TLS connection each (${regTls.successful} ok, ${regTls.failed} failed, offered ${TLS_REG_RATE}/s) | ${rate(regTls).toFixed(0)} |`);
  // The UDP registrations of the first phase let every user call; re-register any the TLS phase removed.
  await runSipp({ scenario: 'register-auth-uac.xml', target, transport: 'u1', calls: TLS_REGS, rate: REG_RATE, injectionFile: csv, timeoutMs: 60_000, traceMessages: false });

  const uasPort = await freePort();
  const uas = await startSipp({ scenario: 'call-uas.xml', transport: 'u1', calls: CALLS + TLS_CALLS, localPort: uasPort, timeoutMs: 300_000, traceMessages: false });
  await uas.ready;
  await runSipp({ scenario: 'register-uas-uac.xml', target, transport: 'u1', calls: 1, injectionFile: calleeCsv, extraArgs: ['-key', 'uas_port', String(uasPort)] });

  console.log(`calling ${CALLS} times over UDP at up to ${CALL_RATE}/s...`);
  const callsUdp = await runSipp({ scenario: 'call-auth-uac.xml', target, transport: 'u1', calls: CALLS, rate: CALL_RATE, injectionFile: csv, timeoutMs: 150_000, traceMessages: false, extraArgs: ['-s', '99999', '-auth_uri', `99999@${target}`, '-rate_max', String(CALL_RATE)] });
  rows.push(`| calls/s UAC → gateway → pbx → gateway → UAS, SIPp over UDP (${callsUdp.successful} ok, ${callsUdp.failed} failed, offered ${CALL_RATE}/s) | ${rate(callsUdp).toFixed(0)} |`);
  console.log(`calling ${TLS_CALLS} times with the caller over TLS at up to ${TLS_CALL_RATE}/s...`);
  const callsTls = await runSipp({ scenario: 'call-auth-uac.xml', target: `127.0.0.1:${stunnel.port}`, transport: 'tn', calls: TLS_CALLS, rate: TLS_CALL_RATE, injectionFile: csv, timeoutMs: 150_000, traceMessages: false, extraArgs: ['-s', '99999', '-auth_uri', `99999@127.0.0.1:${stunnel.port}`, '-rate_max', String(TLS_CALL_RATE)] });
  rows.push(`| calls/s with the caller over TLS through stunnel (${callsTls.successful} ok, ${callsTls.failed} failed, offered ${TLS_CALL_RATE}/s) | ${rate(callsTls).toFixed(0)} |`);
  uas.stop();
  await uas.result;
  for (const r of [regUdp, regTls, callsUdp, callsTls]) {
    if (r.failed > 0) console.log(`failures in ${r.command.slice(0, 120)}...:\n${(r.errors ?? '').slice(0, 1500)}`);
  }

  console.log(`holding ${TLS_SETS} TLS sets (a separate process), keepalive OPTIONS every 20 s...`);
  gateway.context.keepaliveMs = 20_000;
  await sleep(35_000); // finished UDP transactions (Timer J/H: 32 s) let go
  gc();
  const before = process.memoryUsage();
  const regsBefore = gateway.status().counters.registrations;
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  const crowd = spawn(join(REPO_ROOT, 'node_modules/.bin/tsx'), [join(HERE, 'tls-sets.ts'), HOST, '5061', join(dir, 'certs', 'ca.pem'), '100000', String(TLS_SETS), 'bench'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const report = await new Promise<string>((resolve) => {
    let out = '';
    crowd.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
  });
  const registerMs = Date.now() - t0;
  const cpuRegister = process.cpuUsage(cpu0);
  await sleep(5_000);
  const cpu1 = process.cpuUsage();
  const holdMs = 60_000;
  await sleep(holdMs);
  const cpuHold = process.cpuUsage(cpu1);
  gc();
  const after = process.memoryUsage();
  const sets = gateway.status().counters.registrations - regsBefore;
  const connections = gateway.status().counters.connections;
  crowd.stdin!.end();
  const per10k = (bytes: number): string => `${((bytes / Math.max(sets, 1)) * 10_000 / 1024 / 1024).toFixed(0)} MiB`;
  rows.push(`| ${TLS_SETS} TLS sets registering (${report}; ${sets} held, ${connections} connections): time, gateway+pbx CPU | ${(registerMs / 1000).toFixed(1)} s, ${((cpuRegister.user + cpuRegister.system) / 1000 / 1000).toFixed(1)} s CPU |`);
  rows.push(`| CPU holding 10,000 TLS sets (keepalive OPTIONS every 20 s), share of one core | ${(((cpuHold.user + cpuHold.system) / 1000 / holdMs) * 100 * 10_000 / Math.max(sets, 1)).toFixed(1)} % |`);
  rows.push(`| heap per 10,000 registered TLS sets (gateway and pbx) | ${per10k(after.heapUsed - before.heapUsed)} |`);
  // RSS rarely shrinks after the SIPp phases, so a difference says little: the whole process is shown.
  rows.push(`| RSS of the process holding ${sets} TLS sets (gateway, pbx, SQLite cache; after the SIPp phases) | ${(after.rss / 1024 / 1024).toFixed(0)} MiB |`);

  console.log(`
| gateway + pbx (one process), SIPp on this machine | figure |
|---|---:|
${rows.join('\n')}

Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores: gateway and pbx share one process; SIPp, stunnel and the TLS crowd run beside it).`);
  await stunnel.stop();
  await gateway.close();
  await api.close();
  await pbx.close();
  store.close();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

main().catch((e: Error) => {
  console.error(`gateway benchmark failed: ${e.stack}`);
  process.exit(1);
});
