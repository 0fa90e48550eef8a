import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { LEASE_PORT, leaseLoopback } from '../src/index.js';

function listenOn(address: string, port: number): Promise<net.Server | NodeJS.ErrnoException> {
  const server = net.createServer();
  return new Promise((resolve) => {
    server.once('error', (e: NodeJS.ErrnoException) => resolve(e));
    server.listen({ host: address, port, exclusive: true }, () => resolve(server));
  });
}

describe('leaseLoopback', () => {
  it('gives a loopback address outside 127.0.0.0/16 that nobody else can lease until it is released', async () => {
    const lease = await leaseLoopback();
    expect(lease.address).toMatch(/^127\.(1[6-9]|[2-9]\d|1\d\d|2[0-4]\d|25[0-4])\.\d{1,3}\.\d{1,3}$/);
    const second = await listenOn(lease.address, LEASE_PORT);
    expect((second as NodeJS.ErrnoException).code).toBe('EADDRINUSE');

    // The address itself is usable for the file's servers on the usual SIP ports.
    const sip = await listenOn(lease.address, 5061);
    expect(sip).toBeInstanceOf(net.Server);
    await new Promise((r) => (sip as net.Server).close(r));

    await lease.release();
    const after = await listenOn(lease.address, LEASE_PORT);
    expect(after).toBeInstanceOf(net.Server);
    await new Promise((r) => (after as net.Server).close(r));
  });

  it('gives distinct addresses to leases held at once', async () => {
    const leases = await Promise.all(Array.from({ length: 20 }, () => leaseLoopback()));
    expect(new Set(leases.map((l) => l.address)).size).toBe(20);
    await Promise.all(leases.map((l) => l.release()));
  });
});
