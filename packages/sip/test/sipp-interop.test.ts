import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { SipApp } from '../src/index.js';
import { describeIfSipp, runSipp, type SippResult } from '@psi-lab/testkit';
import { TEST_USERS, createTestServer, listenUdpAndTcp } from './helpers/test-server.js';

/**
 * Interop with an independent implementation: Debian's SIPp sends OPTIONS and digest-
 * authenticated REGISTERs to a server built on our stack, over UDP and TCP, and every call of
 * every scenario must succeed.
 */
function explain(r: SippResult): string {
  return `${r.command}\nexit ${r.exitCode}: ${r.successful} ok, ${r.failed} failed\n${r.errors ?? ''}\n${r.stderr}`.slice(0, 4000);
}

describeIfSipp('SIPp against a server built on the stack', () => {
  let app: SipApp;
  let port = 0;
  let registrations: string[];
  const dir = mkdtempSync(join(tmpdir(), 'psi-sipp-interop-'));
  const csv = join(dir, 'users.csv');
  const wrongCsv = join(dir, 'wrong.csv');

  beforeAll(async () => {
    const server = createTestServer();
    app = server.app;
    registrations = server.registrations;
    port = await listenUdpAndTcp(app);
    writeFileSync(csv, `SEQUENTIAL\n${Object.entries(TEST_USERS).map(([u, p]) => `${u};${p}`).join('\n')}\n`);
    writeFileSync(wrongCsv, 'SEQUENTIAL\nalice;not-her-password\n');
  });
  afterAll(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const transport of ['u1', 't1'] as const) {
    const name = transport === 'u1' ? 'UDP' : 'TCP';
    it(`OPTIONS over ${name}: 50 calls, all successful`, async () => {
      const r = await runSipp({ scenario: 'options-uac.xml', target: `127.0.0.1:${port}`, transport, calls: 50, rate: 100, timeoutMs: 15_000 });
      expect(r.successful, explain(r)).toBe(50);
      expect(r.failed, explain(r)).toBe(0);
      expect(r.exitCode, explain(r)).toBe(0);
    });

    it(`REGISTER with [authentication] over ${name}: 40 calls, all successful`, async () => {
      const before = registrations.length;
      const r = await runSipp({ scenario: 'register-auth-uac.xml', target: `127.0.0.1:${port}`, transport, calls: 40, rate: 100, injectionFile: csv, timeoutMs: 15_000 });
      expect(r.successful, explain(r)).toBe(40);
      expect(r.failed, explain(r)).toBe(0);
      expect(registrations.length - before).toBe(40);
      expect(r.messages).toMatch(/Authorization: Digest /);
    });
  }

  it('a wrong password fails every call (the server never lets it through)', async () => {
    const r = await runSipp({ scenario: 'register-auth-uac.xml', target: `127.0.0.1:${port}`, transport: 'u1', calls: 3, rate: 50, injectionFile: wrongCsv, timeoutMs: 10_000, recvTimeoutMs: 2000 });
    expect(r.successful, explain(r)).toBe(0);
    expect(r.failed, explain(r)).toBe(3);
  });
});
