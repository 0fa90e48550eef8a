/**
 * Attack 9 of SECURITY.md: the TLS ports and the connections an attacker may hold.
 *   - sslscan on every TLS port: protocol versions and TLS 1.2 suites offered;
 *   - half-open handshakes: connect, send nothing;
 *   - many connections from one address; slowloris (HTTP headers dribbled in).
 */
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import { describeIfTool, leaseLoopbackAddress, runTool, startLabUnderTest, within, type LabUnderTest } from '@psi-lab/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

let lab: LabUnderTest;
const opened: Socket[] = [];
beforeAll(async () => {
  lab = await startLabUnderTest();
}, 60_000);
afterEach(() => {
  for (const s of opened.splice(0)) s.destroy();
});
afterAll(async () => {
  await lab?.close();
});

/** Every TLS port of the lab: SIP over TLS, WSS, the admin pages, the pbx API. */
const tlsPorts = (): Array<[string, string, number]> => [
  ['SIP over TLS', lab.host, 5061], ['WSS', lab.host, 8443], ['admin', lab.internal, 9080], ['pbx API', lab.internal, 8070],
];

/** ECDHE key exchange and an AEAD cipher: the Mozilla "intermediate" TLS 1.2 suites less DHE. */
const MODERN_TLS12 = /^ECDHE-(RSA|ECDSA)-(AES128-GCM-SHA256|AES256-GCM-SHA384|CHACHA20-POLY1305)$/;

/** Resolves once the server closed (or reset) the connection; never rejects. */
const closed = (socket: Socket): Promise<void> => new Promise((resolve) => {
  socket.on('error', () => undefined);
  socket.once('close', () => resolve());
});

describeIfTool('sslscan', 'sslscan', 'attack 9: what sslscan finds', () => {
  it('every TLS port takes TLS 1.2 and 1.3 only, and TLS 1.2 with ECDHE and AEAD suites only', async () => {
    for (const [name, host, port] of tlsPorts()) {
      const scan = await runTool('sslscan', ['--no-colour', '--xml=-', '--no-heartbleed', `${host}:${port}`], 120_000);
      const accepted = [...scan.stdout.matchAll(/<cipher status="(?:accepted|preferred)" sslversion="([^"]+)" bits="\d+" cipher="([^"]+)"/g)].map((m) => ({ version: m[1], cipher: m[2] }));
      expect(accepted.length, `${name}: sslscan found no cipher at all:\n${scan.stdout}`).toBeGreaterThan(0);
      expect(accepted.filter((c) => !['TLSv1.2', 'TLSv1.3'].includes(c.version)), name).toEqual([]);
      expect(accepted.filter((c) => c.version === 'TLSv1.2' && !MODERN_TLS12.test(c.cipher)), name).toEqual([]);
      expect(accepted.some((c) => c.version === 'TLSv1.3'), name).toBe(true);
    }
  }, 300_000);
});

describe('attack 9: holding connections', () => {
  it('cuts a handshake that never comes within seconds, on every TLS port', async () => {
    await Promise.all(tlsPorts().map(async ([name, host, port]) => {
      const socket = connectTcp({ host, port });
      opened.push(socket);
      const start = Date.now();
      await within(closed(socket), 20_000, `${name} to close a connection that sent no ClientHello`);
      expect(Date.now() - start, name).toBeLessThan(15_000);
    }));
  }, 30_000);

  it('caps the connections one address holds on the WSS and the SIP over TLS ports', async () => {
    const from = await leaseLoopbackAddress();
    for (const port of [8443, 5061]) {
      const held: TLSSocket[] = [];
      for (let i = 0; i < 64; i++) {
        // tls.connect passes socket.connect() options through; its typings omit localAddress.
        const socket = connectTls({ host: lab.host, port, ca: lab.process.ca(), ...({ localAddress: from } as object) });
        opened.push(socket);
        await within(new Promise<void>((resolve, reject) => {
          socket.once('secureConnect', () => resolve());
          socket.once('error', reject);
        }), 10_000, `connection ${i + 1} to ${port}`);
        held.push(socket);
      }
      // The 65th: refused before its handshake (well before the 5 s handshake bound).
      const extra = connectTls({ host: lab.host, port, ca: lab.process.ca(), ...({ localAddress: from } as object) });
      opened.push(extra);
      const refusedAt = Date.now();
      const outcome = await within(new Promise<string>((resolve) => {
        extra.once('secureConnect', () => resolve('handshake completed'));
        extra.once('error', () => undefined);
        extra.once('close', () => resolve('closed'));
      }), 10_000, `the 65th connection to ${port} to be refused`);
      expect(outcome, String(port)).toBe('closed');
      expect(Date.now() - refusedAt, String(port)).toBeLessThan(3_000);
      expect(held.every((s) => !s.destroyed), String(port)).toBe(true);
      for (const s of held) s.destroy();
    }
  }, 60_000);

  it('hangs up on a slowloris: HTTP headers that never end are cut after 10 s', async () => {
    const socket = connectTls({ host: lab.host, port: 8443, ca: lab.process.ca() });
    opened.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', () => resolve());
      socket.once('error', reject);
    });
    socket.write(`GET /healthz HTTP/1.1\r\nHost: ${lab.host}\r\n`);
    const dribble = setInterval(() => socket.write(`X-Slow-${Date.now()}: 1\r\n`), 1_000);
    const start = Date.now();
    try {
      await within(closed(socket), 30_000, 'the server to cut the slow request');
    } finally {
      clearInterval(dribble);
    }
    expect(Date.now() - start).toBeLessThan(15_000);
  }, 40_000);
});
