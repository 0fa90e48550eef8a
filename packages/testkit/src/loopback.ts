import { randomInt } from 'node:crypto';
import net from 'node:net';

/**
 * The port a lease holds on its address. Outside Linux's ephemeral range (32768-60999) and
 * unused by psi-lab, so no element under test or outgoing connection takes it by chance.
 */
export const LEASE_PORT = 64999;

export interface LoopbackLease {
  address: string;
  /** Gives the address back (a process that exits gives it back too). */
  release(): Promise<void>;
}

/**
 * A loopback address of this test file's own, for servers on their usual ports (5060, 5061,
 * 8443, 5070…) without meeting another suite, a lab on 127.0.0.1 or a file running beside it.
 *
 * Drawn at random from 127.16.0.0-127.254.255.254 (127.0.0.0/16 is left to labs and hand-run
 * tools), and held by listening on LEASE_PORT there: a second process that draws the same
 * address cannot listen too, and draws again. A collision is detected, never hoped away.
 */
export async function leaseLoopback(): Promise<LoopbackLease> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const address = `127.${randomInt(16, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
    const holder = net.createServer();
    const held = await new Promise<boolean>((resolve) => {
      holder.once('error', () => resolve(false));
      holder.listen({ host: address, port: LEASE_PORT, exclusive: true }, () => resolve(true));
    });
    if (!held) continue;
    holder.unref(); // the lease must not keep a finished test process alive
    return { address, release: () => new Promise<void>((resolve) => holder.close(() => resolve())) };
  }
  throw new Error(`no loopback address could be leased in 100 draws (is something listening on port ${LEASE_PORT} everywhere?)`);
}

/** `leaseLoopback()`'s address alone, for a test file's top level: `const HOST = await leaseLoopbackAddress();`. */
export async function leaseLoopbackAddress(): Promise<string> {
  return (await leaseLoopback()).address;
}
