import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeIfSipp, runSipp } from '@psi-lab/testkit';
import { SqliteStore, startPbx, type RunningPbx } from '../src/index.js';

describeIfSipp('SIPp registers on the pbx', () => {
  const dir = mkdtempSync(join(tmpdir(), 'psi-pbx-sipp-'));
  const csv = join(dir, 'users.csv');
  let store: SqliteStore;
  let pbx: RunningPbx;
  beforeAll(async () => {
    store = SqliteStore.open(join(dir, 'pbx.db'), { realm: 'psi-lab', synchronous: 'NORMAL' });
    const lines = ['SEQUENTIAL'];
    for (let i = 0; i < 50; i++) {
      const ext = String(3000 + i);
      store.addSubscriber({ extension: ext, name: `Load ${ext}`, email: `l${ext}@psi-lab.test`, password: `load${ext}` });
      lines.push(`${ext};load${ext}`);
    }
    writeFileSync(csv, lines.join('\n') + '\n');
    // SIPp stands for the desk phones of the site: it may reach the pbx directly.
    store.addSiteNetwork('127.0.0.1/32', 'SIPp');
    pbx = await startPbx({ store, port: 0 });
  });
  afterAll(async () => {
    await pbx.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const transport of ['u1', 't1'] as const) {
    it(`REGISTER with [authentication] over ${transport === 'u1' ? 'UDP' : 'TCP'}: 50 users, every call successful, every binding stored`, async () => {
      const r = await runSipp({ scenario: 'register-auth-uac.xml', target: `127.0.0.1:${pbx.port}`, transport, calls: 50, rate: 200, injectionFile: csv, timeoutMs: 15_000 });
      expect(r.successful, r.errors).toBe(50);
      expect(r.failed).toBe(0);
      expect(store.allBindings().filter((b) => b.transport === (transport === 'u1' ? 'udp' : 'tcp')).length).toBe(50);
    });
  }
});
