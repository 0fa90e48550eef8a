import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startLab, type LabGateway, type LabPbx, type RunningLab } from '@psi-lab/lab';
import { leaseLoopbackAddress } from '@psi-lab/testkit';

export interface TestLab {
  host: string;
  dir: string;
  ca: string;
  pbx: LabPbx;
  gateway: LabGateway;
  lab: RunningLab;
  /** Stop the gateway alone (a failover test), and start it again. */
  stopGateway(): Promise<void>;
  startGateway(): Promise<void>;
  /** A second gateway (the backup SBC) on another loopback address, bound to the same pbx; closing the lab closes it too. */
  startBackupGateway(host: string): Promise<LabGateway>;
  close(): Promise<void>;
}

/**
 * The lab as `npm run lab` runs it (`startLab`: pbx on its LAN address, gateway in front, the
 * demo users) on loopback addresses of the test's own, so its fixed ports meet no other test.
 */
export async function startTestLab(host: string, options: { trunk?: string } = {}): Promise<TestLab> {
  const dir = mkdtempSync(join(tmpdir(), 'psi-phone-lab-'));
  const logger = pino({ level: process.env.LAB_LOG ?? 'silent' });
  const lab = await startLab({ dataDir: dir, host, internalHost: await leaseLoopbackAddress(), logger, trunk: options.trunk });
  const test: TestLab = {
    host, dir, lab, pbx: lab.pbx, gateway: lab.gateway,
    ca: readFileSync(lab.certs.caFile, 'utf8'),
    stopGateway: () => lab.stopGateway(),
    startGateway: async () => {
      test.gateway = await lab.startGateway();
    },
    startBackupGateway: (backupHost) => lab.startBackupGateway(backupHost, join(dir, 'backup')),
    close: async () => {
      await lab.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return test;
}
