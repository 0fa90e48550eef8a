import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeIfSipp, freePort, runSipp, startSipp } from '@psi-lab/testkit';
import { SqliteStore, startPbx, type RunningPbx } from '../src/index.js';

/** SIPp on both ends: an authenticated SIPp UAC calls through the pbx to a SIPp UAS on the trunk. */
describeIfSipp('SIPp calls through the pbx', () => {
  const dir = mkdtempSync(join(tmpdir(), 'psi-pbx-call-'));
  const csv = join(dir, 'callers.csv');
  let store: SqliteStore;
  let pbx: RunningPbx;
  let trunkPort = 0;
  beforeAll(async () => {
    store = SqliteStore.open(':memory:', { realm: 'psi-lab' });
    store.addSubscriber({ extension: '1002', name: 'Bob', email: 'bob@psi-lab.test', password: 'bob-secret-22' });
    writeFileSync(csv, 'SEQUENTIAL\n1002;bob-secret-22\n');
    trunkPort = await freePort();
    pbx = await startPbx({ store, port: 0, trunk: { address: '127.0.0.1', port: trunkPort } });
  });
  afterAll(async () => {
    await pbx.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const transport of ['u1', 't1'] as const) {
    it(`UAC → pbx → UAS over ${transport === 'u1' ? 'UDP' : 'UDP to the trunk, TCP from the caller'}: 20 calls, every one successful`, async () => {
      const uas = await startSipp({ scenario: 'call-uas.xml', transport: 'u1', calls: 20, localPort: trunkPort, timeoutMs: 30_000 }).catch(() => undefined);
      expect(uas, 'SIPp UAS did not start').toBeDefined();
      await uas!.ready;
      const uac = await runSipp({ scenario: 'call-auth-uac.xml', target: `127.0.0.1:${pbx.port}`, transport, calls: 20, rate: 20, injectionFile: csv, extraArgs: ['-s', '0123456789'], timeoutMs: 25_000 });
      uas!.stop();
      const server = await uas!.result;
      expect(uac.successful, `${uac.errors}\n${uac.stderr}`).toBe(20);
      expect(uac.failed).toBe(0);
      expect(server.successful, server.errors).toBe(20);
    });
  }
});
