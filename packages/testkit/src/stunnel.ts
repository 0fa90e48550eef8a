import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

/** Debian's package installs both names; either will do. */
export const STUNNEL_BIN = process.env.STUNNEL ?? (['stunnel4', 'stunnel'].find((b) => spawnSync('sh', ['-c', `command -v ${b}`]).status === 0) ?? 'stunnel4');

export function stunnelAvailable(): boolean {
  return spawnSync('sh', ['-c', `command -v ${STUNNEL_BIN}`]).status === 0;
}

export interface StunnelClient {
  /** Where SIPp connects (plain TCP on `address`); each connection becomes one TLS connection. */
  address: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * A stunnel client in front of a TLS SIP listener, for Debian's SIPp which has no TLS: SIPp
 * speaks TCP (`-t tn`: one socket per call) to `port`, stunnel opens a TLS connection per socket,
 * verifying the server against `caFile` and the name `checkHost`.
 */
export async function startStunnelClient(options: { connect: string; caFile: string; checkHost?: string; acceptAddress?: string }): Promise<StunnelClient> {
  const dir = mkdtempSync(join(tmpdir(), 'psi-stunnel-'));
  const address = options.acceptAddress ?? '127.0.0.1';
  const port = await freePort(address);
  const conf = join(dir, 'stunnel.conf');
  writeFileSync(conf, [
    'foreground = yes',
    'pid =',
    'debug = 3',
    `output = ${join(dir, 'stunnel.log')}`,
    '[sip-tls]',
    'client = yes',
    `accept = ${address}:${port}`,
    `connect = ${options.connect}`,
    `CAfile = ${options.caFile}`,
    'verifyChain = yes',
    options.checkHost ? `checkHost = ${options.checkHost}` : '',
    'sslVersionMin = TLSv1.2',
    '',
  ].join('\n'));
  const child = spawn(STUNNEL_BIN, [conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  // Ready once it accepts connections; a loaded machine may take a while to start it.
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`stunnel exited: ${stderr}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, address, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`stunnel did not listen on ${address}:${port} within 20 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    address,
    port,
    stop: async () => {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
