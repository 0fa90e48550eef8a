/**
 * sipsak, the administrator's SIP diagnostic (Debian's sipsak 0.9.8): an OPTIONS ping of the
 * gateway gets its 200, over UDP and TCP. It is deliberately not on the gateway's scanner list
 * (SECURITY.md): an admin checking a gateway must not be met with silence.
 */
import { describeIfTool, runTool, startLabUnderTest, type LabUnderTest } from '@psi-lab/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';

let lab: LabUnderTest;

describeIfTool('sipsak', 'sipsak', 'sipsak pings the lab\'s gateway', () => {
  beforeAll(async () => {
    lab = await startLabUnderTest();
  }, 60_000);
  afterAll(async () => {
    await lab?.close();
  });

  it.each(['udp', 'tcp'] as const)('sipsak -s sip:GATEWAY (%s) gets 200 OK, with what the gateway supports', async (transport) => {
    const run = await runTool('sipsak', ['-vv', '--transport', transport, '-s', `sip:${lab.host}:5060`], 30_000);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain('SIP/2.0 200 OK');
    expect(run.stdout).toContain('Server: psi-lab gateway (MBG role)');
    // Only the option tags the gateway implements end to end.
    expect(run.stdout).toContain('Supported: 100rel, timer, replaces');
    const counters = await lab.admin<{ scannersDropped: number }>('/api/counters');
    expect(counters.scannersDropped).toBe(0);
  });
});
