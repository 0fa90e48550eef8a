import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describeIfSipp, leaseLoopbackAddress, runSipp, startSipp, type SippOptions, type SippResult } from '@psi-lab/testkit';

/**
 * The SIPp helper checked against SIPp itself (no psi-lab server involved): a SIPp UAS from
 * scenarios/ answers a SIPp UAC, and the helper must count both successes and failures.
 */
/** This file's own loopback address: both SIPps live there, and nothing else does. */
const HOST = await leaseLoopbackAddress();
/** Where nothing listens: a port on another address of this file's own, never used for anything. */
const DEAD = `${await leaseLoopbackAddress()}:5060`;
const escaped = HOST.replaceAll('.', '\\.');

function explain(r: SippResult): string {
  return `${r.command}\nexit ${r.exitCode}, ${r.successful} ok, ${r.failed} failed, ${r.elapsedMs} ms\n${r.errors ?? ''}\n${r.stderr}`;
}

/** Run `uac` against a SIPp UAS started first on a free port of HOST; both results. */
async function pair(uas: Omit<SippOptions, 'localPort'>, uac: Omit<SippOptions, 'target'>): Promise<{ uas: SippResult; uac: SippResult }> {
  const server = await startSipp({ ...uas, localAddress: HOST });
  await server.ready;
  const client = await runSipp({ ...uac, localAddress: HOST, target: `${HOST}:${server.localPort}` });
  server.stop(); // normally done already (-m reached); harmless if so
  return { uas: await server.result, uac: client };
}

describeIfSipp('SIPp helper self-test (SIPp against SIPp)', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'psi-sipp-selftest-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  for (const transport of ['u1', 't1'] as const) {
    it(`counts successful OPTIONS calls over ${transport === 'u1' ? 'UDP' : 'TCP'}`, async () => {
      const { uas, uac } = await pair(
        { scenario: 'options-uas', transport, calls: 3, timeoutMs: 10000 },
        { scenario: 'options-uac.xml', transport, calls: 3, rate: 50, timeoutMs: 8000 },
      );
      expect(uac.successful, explain(uac)).toBe(3);
      expect(uac.failed, explain(uac)).toBe(0);
      expect(uac.exitCode, explain(uac)).toBe(0);
      expect(uas.successful, explain(uas)).toBe(3);
      expect(uac.messages).toMatch(new RegExp(`^OPTIONS sip:service@${escaped}:\\d+ SIP/2\\.0\\r?$`, 'm'));
      expect(uac.messages).toMatch(/^SIP\/2\.0 200 OK/m);
    });
  }

  it('counts failures: OPTIONS to a dead UDP port time out by the recv timeout, not the global one', async () => {
    // SIPp's own -timeout is 11 s (15 s less the slack): two calls failing on a 500 ms recv timeout end well before it.
    const r = await runSipp({
      scenario: 'options-uac', target: DEAD, localAddress: HOST, transport: 'u1', calls: 2, rate: 50,
      recvTimeoutMs: 500, timeoutMs: 15_000,
    });
    expect(r.successful, explain(r)).toBe(0);
    expect(r.failed, explain(r)).toBe(2);
    expect(r.unfinished, explain(r)).toBe(0);
    expect(r.exitCode, explain(r)).toBe(1);
    expect(r.killed).toBe(false);
    expect(r.elapsedMs, explain(r)).toBeLessThan(11_000);
  });

  it('a run that would hang is stopped by SIPp\'s own timeout, before timeoutMs, with its statistics', async () => {
    // Nobody answers and nothing times out inside SIPp before its global timeout (3 s here: 6 s less the 3 s slack).
    const r = await runSipp({
      scenario: 'options-uac', target: DEAD, localAddress: HOST, transport: 'u1', calls: 1,
      recvTimeoutMs: 60000, timeoutMs: 6000,
    });
    expect(r.killed, explain(r)).toBe(false); // SIPp's own -timeout stopped it, so the statistics are there
    expect(r.elapsedMs, explain(r)).toBeGreaterThanOrEqual(2900);
    expect(r.successful).toBe(0);
    expect(r.unfinished, explain(r)).toBe(1);
    expect(r.exitCode, explain(r)).not.toBe(0);
  });

  it('a SIPp that ignores its own timeout is killed at timeoutMs', async () => {
    const r = await runSipp({
      scenario: 'options-uac', target: DEAD, localAddress: HOST, transport: 'u1', calls: 1,
      recvTimeoutMs: 60000, timeoutMs: 2500, extraArgs: ['-timeout', '60s'], // the last -timeout wins
    });
    expect(r.killed, explain(r)).toBe(true);
    expect(r.exitCode).toBe(-1);
    expect(r.elapsedMs).toBeGreaterThanOrEqual(2400);
    // Killed by the helper, long before SIPp's own 60 s or its recv timeout could end it.
    expect(r.elapsedMs).toBeLessThan(30_000);
  });

  it('a refused TCP connection is a fatal SIPp error (exit 255), reported at once', async () => {
    const r = await runSipp({ scenario: 'options-uac', target: DEAD, localAddress: HOST, transport: 't1', calls: 1, timeoutMs: 15_000 });
    expect(r.exitCode, explain(r)).toBe(255);
    expect(r.successful).toBe(0);
    expect(r.stderr).toMatch(/Connection refused/);
    expect(r.killed).toBe(false);
    // "At once": before SIPp's own 11 s global timeout could have ended it.
    expect(r.elapsedMs, explain(r)).toBeLessThan(11_000);
  });

  for (const transport of ['u1', 't1'] as const) {
    it(`REGISTER with digest from an injection file over ${transport === 'u1' ? 'UDP' : 'TCP'}: right and wrong passwords`, async () => {
      const good = join(tmp, `good-${transport}.csv`);
      const bad = join(tmp, `bad-${transport}.csv`);
      writeFileSync(good, 'SEQUENTIAL\n1001;alice-1001;1001\n');
      writeFileSync(bad, 'SEQUENTIAL\n1001;not-her-password;1001\n');

      const ok = await pair(
        { scenario: 'register-auth-uas', transport, calls: 2, injectionFile: good, timeoutMs: 10000 },
        { scenario: 'register-auth-uac', transport, calls: 2, rate: 50, injectionFile: good, timeoutMs: 8000 },
      );
      expect(ok.uac.successful, explain(ok.uac)).toBe(2);
      expect(ok.uac.failed, explain(ok.uac)).toBe(0);
      expect(ok.uas.successful, explain(ok.uas)).toBe(2);
      expect(ok.uac.messages).toMatch(/^Authorization: Digest username="1001",realm="psi-lab",.*response="[0-9a-f]{32}"/m);

      const ko = await pair(
        { scenario: 'register-auth-uas', transport, calls: 1, injectionFile: good, timeoutMs: 10000 },
        { scenario: 'register-auth-uac', transport, calls: 1, injectionFile: bad, recvTimeoutMs: 2000, timeoutMs: 8000 },
      );
      expect(ko.uac.successful, explain(ko.uac)).toBe(0);
      expect(ko.uac.failed, explain(ko.uac)).toBe(1);
      expect(ko.uac.messages).toMatch(/^SIP\/2\.0 403 Forbidden/m);
    });
  }
});
