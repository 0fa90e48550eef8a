import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeIfSipp, leaseLoopbackAddress, runSipp, startSipp } from '@psi-lab/testkit';
import { SqliteStore, startPbx, type RunningPbx } from '../src/index.js';

/** This file's own loopback address: the pbx, the SIPp on its trunk and the calling SIPp. */
const HOST = await leaseLoopbackAddress();
/** The trunk's port: fixed, on HOST, and outside the ephemeral range, so nothing else can hold it. */
const TRUNK_PORT = 5090;

/** SIPp on both ends: an authenticated SIPp UAC calls through the pbx to a SIPp UAS on the trunk. */
describeIfSipp('SIPp calls through the pbx', () => {
  const dir = mkdtempSync(join(tmpdir(), 'psi-pbx-call-'));
  const csv = join(dir, 'callers.csv');
  let store: SqliteStore;
  let pbx: RunningPbx;
  beforeAll(async () => {
    store = SqliteStore.open(':memory:', { realm: 'psi-lab' });
    store.addSubscriber({ extension: '1002', name: 'Bob', email: 'bob@psi-lab.test', password: 'bob-secret-22' });
    writeFileSync(csv, 'SEQUENTIAL\n1002;bob-secret-22\n');
    // SIPp the caller is an on-site phone; SIPp the trunk is heard as the trunk.
    store.addSiteNetwork(`${HOST}/32`, 'SIPp, the caller');
    pbx = await startPbx({ store, host: HOST, port: 0, trunk: { address: HOST, port: TRUNK_PORT } });
  });
  afterAll(async () => {
    await pbx.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const transport of ['u1', 't1'] as const) {
    it(`UAC → pbx → UAS over ${transport === 'u1' ? 'UDP' : 'UDP to the trunk, TCP from the caller'}: 20 calls, every one successful`, async () => {
      const uas = await startSipp({ scenario: 'call-uas.xml', transport: 'u1', calls: 20, localAddress: HOST, localPort: TRUNK_PORT, timeoutMs: 40_000 });
      try {
        await uas.ready;
        const uac = await runSipp({ scenario: 'call-auth-uac.xml', target: `${HOST}:${pbx.port}`, localAddress: HOST, transport, calls: 20, rate: 20, injectionFile: csv, extraArgs: ['-s', '0123456789', '-auth_uri', `0123456789@${HOST}:${pbx.port}`], timeoutMs: 30_000 });
        uas.stop();
        const server = await uas.result;
        expect(uac.successful, `${uac.errors}\n${uac.stderr}`).toBe(20);
        expect(uac.failed).toBe(0);
        expect(server.successful, server.errors).toBe(20);
      } finally {
        // Never outlives the test: a failure above still stops it (the port is the next test's).
        uas.stop();
        await uas.result;
      }
    }, 60_000);
  }
});
