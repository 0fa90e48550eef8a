import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeIfSipp, leaseLoopbackAddress, runSipp, startSipp, startStunnelClient, stunnelAvailable, type SippOptions, type SippTransport, type StunnelClient } from '@psi-lab/testkit';
import { clearRegistrations, startGatewayLab, USERS, type GatewayLab } from './helpers/gateway-lab.js';
import { waitFor } from './helpers/test-set.js';

const HOST = await leaseLoopbackAddress();
/**
 * SIPp and stunnel bind here: an address nothing else uses, so a port found free stays free
 * until they bind it (on HOST the gateway's own connections take ephemeral ports too).
 */
const SIPP_HOST = await leaseLoopbackAddress();

/** SIPp on SIPP_HOST, on a port it finds free there. */
const sipp = (options: Omit<SippOptions, 'localAddress'>): Promise<Awaited<ReturnType<typeof runSipp>>> => runSipp({ ...options, localAddress: SIPP_HOST });

/** SIPp as remote sets: REGISTER through the gateway, and calls UAC → gateway → pbx → gateway → UAS. */
describeIfSipp('SIPp through the gateway', () => {
  const dir = mkdtempSync(join(tmpdir(), 'psi-gw-sipp-'));
  const everyone = join(dir, 'users.csv');
  const caller = join(dir, 'caller.csv');
  const callee = join(dir, 'callee.csv');
  let lab: GatewayLab;

  beforeAll(async () => {
    // A load generator is white-listed, as the README tells load testers: SIPp (and stunnel,
    // which connects from loopback too) would soon pass the per-source flood limit.
    lab = await startGatewayLab(HOST, { security: { accessList: [{ cidr: '127.0.0.0/8', list: 'white' }] } });
    writeFileSync(everyone, `SEQUENTIAL\n${USERS.map((u) => `${u.extension};${u.password}`).join('\n')}\n`);
    writeFileSync(caller, `SEQUENTIAL\n1001;${USERS[0].password}\n`);
    writeFileSync(callee, `SEQUENTIAL\n1002;${USERS[1].password}\n`);
  });
  // SIPp's registrations last an hour and point at SIPp instances that have exited: the pbx would
  // fork the next test's calls to them.
  afterEach(async () => {
    await clearRegistrations(lab);
  });
  afterAll(async () => {
    await lab?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const transport of ['u1', 't1'] as const) {
    const name = transport === 'u1' ? 'UDP' : 'TCP';
    it(`registers every user with [authentication] over ${name}`, async () => {
      const result = await sipp({ scenario: 'register-auth-uac.xml', target: `${HOST}:5060`, transport, calls: USERS.length, rate: 50, injectionFile: everyone });
      expect(result.successful, `${result.errors}\n${result.stderr}`).toBe(USERS.length);
      expect(result.failed).toBe(0);
    });

    it(`10 calls UAC → gateway → pbx → gateway → UAS over ${name}, every one successful`, async () => {
      await callThroughGateway(transport, 10);
    }, 60_000);
  }

  it('calls that require reliable provisionals (Require: 100rel): 183 with RSeq, PRACK, 200, through gateway → pbx → gateway', async () => {
    const { uac } = await callThroughGateway('u1', 5, { uac: 'call-100rel-uac.xml', uas: 'call-100rel-uas.xml' });
    // The PRACK crossed both gateway legs and the pbx, its RAck naming each leg's own INVITE.
    expect(uac.messages).toMatch(/PRACK sip:/);
    expect(uac.messages).not.toMatch(/SIP\/2\.0 420/);
  }, 60_000);

  describe.runIf(stunnelAvailable())('TLS through stunnel (SIPp -t tn: one TLS connection per SIPp socket)', () => {
    let stunnel: StunnelClient;
    beforeAll(async () => {
      stunnel = await startStunnelClient({ connect: `${HOST}:5061`, caFile: join(lab.dir, 'certs', 'ca.pem'), checkHost: 'localhost', acceptAddress: SIPP_HOST });
    });
    afterAll(async () => stunnel?.stop());

    it('registers every user over TLS', async () => {
      const result = await sipp({ scenario: 'register-auth-uac.xml', target: `${stunnel.address}:${stunnel.port}`, transport: 'tn', calls: USERS.length, rate: 50, injectionFile: everyone });
      expect(result.successful, `${result.errors}\n${result.stderr}`).toBe(USERS.length);
      expect(result.failed).toBe(0);
    });

    it('10 calls from a TLS UAC through gateway → pbx → gateway to a UDP UAS, every one successful', async () => {
      const uas = await startSipp({ scenario: 'call-uas.xml', transport: 'u1', calls: 10, localAddress: SIPP_HOST, timeoutMs: 40_000 });
      await uas.ready;
      const uasPort = String(uas.localPort);
      expect((await sipp({ scenario: 'register-uas-uac.xml', target: `${HOST}:5060`, transport: 'u1', calls: 1, injectionFile: callee, extraArgs: ['-key', 'uas_port', uasPort] })).successful).toBe(1);
      expect((await sipp({ scenario: 'register-auth-uac.xml', target: `${HOST}:5060`, transport: 'u1', calls: 1, injectionFile: caller })).successful).toBe(1);
      const uac = await sipp({ scenario: 'call-auth-uac.xml', target: `${stunnel.address}:${stunnel.port}`, transport: 'tn', calls: 10, rate: 10, injectionFile: caller, extraArgs: ['-s', '1002', '-auth_uri', `1002@${stunnel.address}:${stunnel.port}`], timeoutMs: 35_000 });
      uas.stop();
      const server = await uas.result;
      expect(uac.successful, `${uac.errors}\n${uac.stderr}`).toBe(10);
      expect(server.successful, server.errors).toBe(10);
      await waitForCallsToEnd();
    }, 60_000);
  });

  async function callThroughGateway(transport: SippTransport, calls: number, scenarios = { uac: 'call-auth-uac.xml', uas: 'call-uas.xml' }): Promise<{ uac: Awaited<ReturnType<typeof runSipp>> }> {
    const uas = await startSipp({ scenario: scenarios.uas, transport, calls, localAddress: SIPP_HOST, timeoutMs: 40_000 });
    await uas.ready;
    // The callee's binding points at the UAS; the caller registers itself (the gateway relays nothing for unregistered sets).
    const reg = await sipp({ scenario: 'register-uas-uac.xml', target: `${HOST}:5060`, transport, calls: 1, injectionFile: callee, extraArgs: ['-key', 'uas_port', String(uas.localPort)] });
    expect(reg.successful, reg.errors).toBe(1);
    // Over UDP: a registration over TCP from SIPp's own port ends with that SIPp's connection.
    const self = await sipp({ scenario: 'register-auth-uac.xml', target: `${HOST}:5060`, transport: 'u1', calls: 1, injectionFile: caller });
    expect(self.successful, self.errors).toBe(1);
    const uac = await sipp({ scenario: scenarios.uac, target: `${HOST}:5060`, transport, calls, rate: 10, injectionFile: caller, extraArgs: ['-s', '1002', '-auth_uri', `1002@${HOST}:5060`], timeoutMs: 35_000 });
    uas.stop();
    const server = await uas.result;
    expect(uac.successful, `${uac.errors}\n${uac.stderr}`).toBe(calls);
    expect(uac.failed).toBe(0);
    expect(server.successful, server.errors).toBe(calls);
    await waitForCallsToEnd();
    return { uac };
  }

  /** The gateway ends a call once it has sent the BYE's 200: a moment after SIPp saw it. */
  async function waitForCallsToEnd(): Promise<void> {
    expect(lab.gateway.status().counters.callsTotal).toBeGreaterThan(0);
    await waitFor(() => lab.gateway.status().counters.callsActive === 0, undefined, 'the gateway to end every call');
  }
});
