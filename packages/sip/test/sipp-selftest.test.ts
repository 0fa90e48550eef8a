import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describeIfSipp, freePort, runSipp, startSipp, type SippOptions, type SippResult } from '@psi-lab/testkit';

/**
 * The SIPp helper checked against SIPp itself (no psi-lab server involved): a SIPp UAS from
 * scenarios/ answers a SIPp UAC, and the helper must count both successes and failures.
 */
function explain(r: SippResult): string {
  return `${r.command}\nexit ${r.exitCode}, ${r.successful} ok, ${r.failed} failed, ${r.elapsedMs} ms\n${r.errors ?? ''}\n${r.stderr}`;
}

/** Run `uac` against a SIPp UAS started first on a free port; both results. */
async function pair(uas: Omit<SippOptions, 'localPort'>, uac: Omit<SippOptions, 'target'>): Promise<{ uas: SippResult; uac: SippResult }> {
  const server = await startSipp({ ...uas, localPort: await freePort() });
  await server.ready;
  const client = await runSipp({ ...uac, target: `127.0.0.1:${server.localPort}` });
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
      expect(uac.messages).toMatch(/^OPTIONS sip:service@127\.0\.0\.1:\d+ SIP\/2\.0\r?$/m);
      expect(uac.messages).toMatch(/^SIP\/2\.0 200 OK/m);
    });
  }

  it('counts failures: OPTIONS to a dead UDP port time out quickly', async () => {
    const dead = await freePort();
    const r = await runSipp({
      scenario: 'options-uac', target: `127.0.0.1:${dead}`, transport: 'u1', calls: 2, rate: 50,
      recvTimeoutMs: 500, timeoutMs: 8000,
    });
    expect(r.successful, explain(r)).toBe(0);
    expect(r.failed, explain(r)).toBe(2);
    expect(r.exitCode, explain(r)).toBe(1);
    expect(r.killed).toBe(false);
    expect(r.elapsedMs).toBeLessThan(6000);
  });

  it('a run that would hang is stopped at timeoutMs with its statistics', async () => {
    // Nobody answers and nothing times out inside SIPp before its global timeout.
    const dead = await freePort();
    const r = await runSipp({
      scenario: 'options-uac', target: `127.0.0.1:${dead}`, transport: 'u1', calls: 1,
      recvTimeoutMs: 60000, timeoutMs: 3000,
    });
    expect(r.elapsedMs).toBeLessThan(4500);
    expect(r.killed).toBe(false); // SIPp's own -timeout stopped it, so the statistics are there
    expect(r.successful).toBe(0);
    expect(r.unfinished, explain(r)).toBe(1);
    expect(r.exitCode, explain(r)).not.toBe(0);
  });

  it('a SIPp that ignores its own timeout is killed at timeoutMs', async () => {
    const dead = await freePort();
    const r = await runSipp({
      scenario: 'options-uac', target: `127.0.0.1:${dead}`, transport: 'u1', calls: 1,
      recvTimeoutMs: 60000, timeoutMs: 2500, extraArgs: ['-timeout', '60s'], // the last -timeout wins
    });
    expect(r.killed, explain(r)).toBe(true);
    expect(r.exitCode).toBe(-1);
    expect(r.elapsedMs).toBeGreaterThanOrEqual(2400);
    expect(r.elapsedMs).toBeLessThan(4000);
  });

  it('a refused TCP connection is a fatal SIPp error (exit 255), reported at once', async () => {
    const dead = await freePort();
    const r = await runSipp({ scenario: 'options-uac', target: `127.0.0.1:${dead}`, transport: 't1', calls: 1, timeoutMs: 5000 });
    expect(r.exitCode, explain(r)).toBe(255);
    expect(r.successful).toBe(0);
    expect(r.stderr).toMatch(/Connection refused/);
    expect(r.elapsedMs).toBeLessThan(3000);
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
