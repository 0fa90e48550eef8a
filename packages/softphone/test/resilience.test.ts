import tls from 'node:tls';
import { SipRequest, StreamFramer, createResponse, parseMessage } from '@psi-lab/sip';
import { testCertificates, waitFor } from '@psi-lab/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { Phone } from '../src/index.js';

/**
 * A registrar the test scripts: it answers each REGISTER as told (no digest, sip.js does not
 * need one), answers keepalive pings only on the connections `pong` names (by their number,
 * from 1), and counts REGISTERs, pings and connections.
 */
async function scriptedRegistrar(answer: (n: number) => number, options: { pong?: (connection: number) => boolean } = {}) {
  const certs = testCertificates();
  let registers = 0;
  let pings = 0;
  let connections = 0;
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer({ cert: certs.server.cert, key: certs.server.key }, (socket) => {
    const connection = ++connections;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const framer = new StreamFramer();
    socket.on('data', (chunk) => {
      for (const item of framer.push(chunk)) {
        if (item.kind === 'ping') {
          pings++;
          if (options.pong?.(connection)) socket.write('\r\n');
        }
        if (item.kind !== 'message') continue;
        const msg = parseMessage(item.data);
        if (!(msg instanceof SipRequest) || msg.method !== 'REGISTER') continue;
        const status = answer(++registers);
        const res = createResponse(msg, status, { toTag: 'r1' });
        if (status === 200) {
          res.set('Contact', `${msg.get('contact')};expires=600`);
        }
        socket.write(res.toBuffer());
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as import('node:net').AddressInfo).port,
    ca: certs.ca.cert,
    get registers() { return registers; },
    get pings() { return pings; },
    get connections() { return connections; },
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}

describe('the phone keeps itself registered', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  it('a 503 is not the end: it tries again and registers once the server recovers', async () => {
    const registrar = await scriptedRegistrar((n) => (n <= 2 ? 503 : 200));
    cleanups.push(registrar.close);
    const phone = new Phone({ user: '1001', password: 'x', servers: [`tls://127.0.0.1:${registrar.port}`], ca: registrar.ca, reconnectDelayMs: { min: 100, max: 200 } });
    cleanups.push(() => phone.close());
    expect(await phone.register()).toBe('503 Service Unavailable');
    await waitFor(() => phone.status === 'Registered', 15_000, 'registration after the 503s');
    expect(registrar.registers).toBeGreaterThanOrEqual(3);
  });

  it('a 403 is final: it does not hammer the server with the same wrong credentials', async () => {
    const reconnectDelayMs = { min: 50, max: 100 };
    const registrar = await scriptedRegistrar(() => 403);
    cleanups.push(registrar.close);
    const phone = new Phone({ user: '1001', password: 'x', servers: [`tls://127.0.0.1:${registrar.port}`], ca: registrar.ca, reconnectDelayMs });
    cleanups.push(() => phone.close());
    expect(await phone.register()).toBe('403 Forbidden');
    // The control: the same phone against a 503 tries again, and again, in this very window.
    const unavailable = await scriptedRegistrar(() => 503);
    cleanups.push(unavailable.close);
    const control = new Phone({ user: '1001', password: 'x', servers: [`tls://127.0.0.1:${unavailable.port}`], ca: unavailable.ca, reconnectDelayMs });
    cleanups.push(() => control.close());
    expect(await control.register()).toBe('503 Service Unavailable');
    await waitFor(() => unavailable.registers >= 4, 15_000, () => `the control phone to retry after its 503s (${unavailable.registers} REGISTERs so far)`);
    expect(registrar.registers).toBe(1);
  });

  it('a connection that stops answering its keepalives is dropped, and the phone registers anew', async () => {
    // The first connection goes silent; the one the phone makes next answers its pings.
    const registrar = await scriptedRegistrar(() => 200, { pong: (connection) => connection >= 2 });
    cleanups.push(registrar.close);
    const phone = new Phone({ user: '1001', password: 'x', servers: [`tls://127.0.0.1:${registrar.port}`], ca: registrar.ca, keepaliveMs: 150, reconnectDelayMs: { min: 50, max: 100 } });
    cleanups.push(() => phone.close());
    const statuses: string[] = [];
    phone.on('status', (s) => statuses.push(s));
    expect(await phone.register()).toBe('Registered');
    await waitFor(() => registrar.connections >= 2 && phone.status === 'Registered', 15_000,
      () => `a new connection and registration (${registrar.connections} connections, status ${phone.status})`);
    expect(statuses).toContain('Idle');
  });

  it('a connection whose keepalives are answered stays up', async () => {
    const registrar = await scriptedRegistrar(() => 200, { pong: () => true });
    cleanups.push(registrar.close);
    // Unanswered, a connection is dropped after 2 × keepaliveMs: 2 s leaves room for a stalled loop.
    const phone = new Phone({ user: '1001', password: 'x', servers: [`tls://127.0.0.1:${registrar.port}`], ca: registrar.ca, keepaliveMs: 1000 });
    cleanups.push(() => phone.close());
    expect(await phone.register()).toBe('Registered');
    // Four pings answered span twice the silence that would have dropped the connection.
    await waitFor(() => registrar.pings >= 4, 15_000, () => `4 keepalive pings (${registrar.pings} so far)`);
    expect(registrar.connections).toBe(1);
    expect(phone.status).toBe('Registered');
  });
});
