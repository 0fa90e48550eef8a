import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeIfSipp, freePort, runSipp, startSipp, startStunnelClient, stunnelAvailable, type SippTransport, type StunnelClient } from '@psi-lab/testkit';
import { startGatewayLab, USERS, type GatewayLab } from './helpers/gateway-lab.js';

const HOST = '127.0.0.26';

/** SIPp as remote sets: REGISTER through the gateway, and calls UAC → gateway → pbx → gateway → UAS. */
describeIfSipp('SIPp through the gateway', () => {
  const dir = mkdtempSync(join(tmpdir(), 'psi-gw-sipp-'));
  const everyone = join(dir, 'users.csv');
  const caller = join(dir, 'caller.csv');
  const callee = join(dir, 'callee.csv');
  let lab: GatewayLab;

  beforeAll(async () => {
    lab = await startGatewayLab(HOST, { media: { portMin: 43000, portMax: 43999 } });
    writeFileSync(everyone, `SEQUENTIAL\n${USERS.map((u) => `${u.extension};${u.password}`).join('\n')}\n`);
    writeFileSync(caller, `SEQUENTIAL\n1001;${USERS[0].password}\n`);
    writeFileSync(callee, `SEQUENTIAL\n1002;${USERS[1].password}\n`);
  });
  afterAll(async () => {
    await lab.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const transport of ['u1', 't1'] as const) {
    const name = transport === 'u1' ? 'UDP' : 'TCP';
    it(`registers every user with [authentication] over ${name}`, async () => {
      const result = await runSipp({ scenario: 'register-auth-uac.xml', target: `${HOST}:5060`, transport, calls: USERS.length, rate: 50, injectionFile: everyone });
      expect(result.successful, `${result.errors}\n${result.stderr}`).toBe(USERS.length);
      expect(result.failed).toBe(0);
    });

    it(`10 calls UAC → gateway → pbx → gateway → UAS over ${name}, every one successful`, async () => {
      await callThroughGateway(transport, 10);
    }, 60_000);
  }

  describe.runIf(stunnelAvailable())('TLS through stunnel (SIPp -t tn: one TLS connection per SIPp socket)', () => {
    let stunnel: StunnelClient;
    beforeAll(async () => {
      stunnel = await startStunnelClient({ connect: `${HOST}:5061`, caFile: join(lab.dir, 'certs', 'ca.pem'), checkHost: 'localhost' });
    });
    afterAll(async () => stunnel.stop());

    it('registers every user over TLS', async () => {
      const result = await runSipp({ scenario: 'register-auth-uac.xml', target: `127.0.0.1:${stunnel.port}`, transport: 'tn', calls: USERS.length, rate: 50, injectionFile: everyone });
      expect(result.successful, `${result.errors}\n${result.stderr}`).toBe(USERS.length);
      expect(result.failed).toBe(0);
    });

    it('10 calls from a TLS UAC through gateway → pbx → gateway to a UDP UAS, every one successful', async () => {
      const uasPort = await freePort();
      const uas = await startSipp({ scenario: 'call-uas.xml', transport: 'u1', calls: 10, localPort: uasPort, timeoutMs: 40_000 });
      await uas.ready;
      expect((await runSipp({ scenario: 'register-uas-uac.xml', target: `${HOST}:5060`, transport: 'u1', calls: 1, injectionFile: callee, extraArgs: ['-key', 'uas_port', String(uasPort)] })).successful).toBe(1);
      expect((await runSipp({ scenario: 'register-auth-uac.xml', target: `${HOST}:5060`, transport: 'u1', calls: 1, injectionFile: caller })).successful).toBe(1);
      const uac = await runSipp({ scenario: 'call-auth-uac.xml', target: `127.0.0.1:${stunnel.port}`, transport: 'tn', calls: 10, rate: 10, injectionFile: caller, extraArgs: ['-s', '1002'], timeoutMs: 35_000 });
      uas.stop();
      const server = await uas.result;
      expect(uac.successful, `${uac.errors}\n${uac.stderr}`).toBe(10);
      expect(server.successful, server.errors).toBe(10);
      expect(lab.gateway.status().counters.callsActive).toBe(0);
    }, 60_000);
  });

  async function callThroughGateway(transport: SippTransport, calls: number): Promise<void> {
    const uasPort = await freePort();
    const uas = await startSipp({ scenario: 'call-uas.xml', transport, calls, localPort: uasPort, timeoutMs: 40_000 });
    await uas.ready;
    // The callee's binding points at the UAS; the caller registers itself (the gateway relays nothing for unregistered sets).
    const reg = await runSipp({ scenario: 'register-uas-uac.xml', target: `${HOST}:5060`, transport, calls: 1, injectionFile: callee, extraArgs: ['-key', 'uas_port', String(uasPort)] });
    expect(reg.successful, reg.errors).toBe(1);
    const self = await runSipp({ scenario: 'register-auth-uac.xml', target: `${HOST}:5060`, transport, calls: 1, injectionFile: caller });
    expect(self.successful, self.errors).toBe(1);
    const uac = await runSipp({ scenario: 'call-auth-uac.xml', target: `${HOST}:5060`, transport, calls, rate: 10, injectionFile: caller, extraArgs: ['-s', '1002'], timeoutMs: 35_000 });
    uas.stop();
    const server = await uas.result;
    expect(uac.successful, `${uac.errors}\n${uac.stderr}`).toBe(calls);
    expect(uac.failed).toBe(0);
    expect(server.successful, server.errors).toBe(calls);
    expect(lab.gateway.status().counters.callsActive).toBe(0);
  }
});
