import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ensureLabCertificates } from '@psi-lab/pki';
import { DEMO_USERS, startLabGateway, startLabPbx, type LabGateway, type LabPbx } from '@psi-lab/lab';

export interface TestLab {
  host: string;
  dir: string;
  ca: string;
  pbx: LabPbx;
  gateway: LabGateway;
  /** Stop the gateway alone (a failover test), and start it again. */
  stopGateway(): Promise<void>;
  startGateway(): Promise<void>;
  /** A second gateway (the backup SBC) on another loopback address, bound to the same pbx; closing the lab closes it too. */
  startBackupGateway(host: string): Promise<LabGateway>;
  close(): Promise<void>;
}

/**
 * The lab as `npm run lab` runs it — pbx and gateway, bound to each other, with the demo users —
 * on a loopback address of the test's own, so its fixed ports meet no other test.
 */
export async function startTestLab(host: string, options: { trunk?: string } = {}): Promise<TestLab> {
  const dir = mkdtempSync(join(tmpdir(), 'psi-phone-lab-'));
  const logger = pino({ level: process.env.LAB_LOG ?? 'silent' });
  ensureLabCertificates(join(dir, 'certs'), { names: ['localhost', '127.0.0.1', host] });
  const pbx = await startLabPbx({
    dbFile: join(dir, 'pbx.db'), host, users: DEMO_USERS, zoomUsers: new Set(DEMO_USERS.map((u) => u.extension)),
    token: 'test-token', logger, sipTrace: false, trunk: options.trunk,
  });
  const backups = new Set<LabGateway>();
  let gateway = await startLabGateway({ dataDir: dir, host, publicAddress: host, pbxPort: pbx.pbx.port, apiPort: pbx.apiPort, store: pbx.store, logger, sipTrace: false });
  const lab: TestLab = {
    host, dir, pbx, gateway,
    ca: readFileSync(join(dir, 'certs', 'ca.pem'), 'utf8'),
    stopGateway: async () => gateway.close(),
    startGateway: async () => {
      gateway = await startLabGateway({ dataDir: dir, host, publicAddress: host, pbxPort: pbx.pbx.port, apiPort: pbx.apiPort, store: pbx.store, logger, sipTrace: false });
      lab.gateway = gateway;
    },
    startBackupGateway: async (backupHost) => {
      const backupDir = join(dir, 'backup');
      mkdirSync(backupDir, { recursive: true });
      // The same MBG account and secret as the primary, and the CA that signed it.
      copyFileSync(join(dir, 'gateway.yaml'), join(backupDir, 'gateway.yaml'));
      mkdirSync(join(backupDir, 'certs'), { recursive: true });
      for (const f of ['ca.pem', 'ca.key']) copyFileSync(join(dir, 'certs', f), join(backupDir, 'certs', f));
      const backup = await startLabGateway({ dataDir: backupDir, host: backupHost, publicAddress: backupHost, pbxHost: host, pbxPort: pbx.pbx.port, apiPort: pbx.apiPort, store: pbx.store, logger, sipTrace: false });
      backups.add(backup);
      // Closed by the test that started it, it is not closed a second time with the lab.
      return { ...backup, close: async () => {
        backups.delete(backup);
        await backup.close();
      } };
    },
    close: async () => {
      for (const b of backups) await b.close().catch(() => undefined);
      await gateway.close().catch(() => undefined);
      await pbx.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return lab;
}
