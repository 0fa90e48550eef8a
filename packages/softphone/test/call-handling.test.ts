import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, describeIfSipp, startSipp } from '@psi-lab/testkit';
import { Phone, type Call, type PhoneOptions } from '../src/index.js';
import { startTestLab, type TestLab } from './helpers/lab.js';

const HOST = '127.0.0.35';

const ended = (call: Call): Promise<void> => new Promise((r) => (call.state === 'ended' ? r() : call.once('ended', () => r())));
const connected = (call: Call): Promise<void> => new Promise((r) => (call.state === 'connected' ? r() : call.once('state', (s) => s === 'connected' && r())));

describe('placing, taking, refusing and ending calls', () => {
  let lab: TestLab;
  let trunkPort: number;
  const phones: Phone[] = [];
  const newPhone = async (options: Partial<PhoneOptions> & { user: string; password: string }): Promise<Phone> => {
    const p = new Phone({ ca: lab.ca, servers: [`tls://${HOST}:5061`], ...options });
    phones.push(p);
    expect(await p.register()).toBe('Registered');
    return p;
  };

  beforeAll(async () => {
    trunkPort = await freePort();
    lab = await startTestLab(HOST, { trunk: `127.0.0.1:${trunkPort}` });
  });
  afterAll(async () => {
    for (const p of phones) await p.close();
    await lab.close();
  });

  it('a rejected call: the callee says busy, the caller logs busy and the callee rejected', async () => {
    const alice = await newPhone({ user: '1001', password: 'alice-1001' });
    const bob = await newPhone({ user: '1002', password: 'bob-1002' });
    bob.once('incoming', (call) => void call.reject(486));
    const call = await alice.call('1002');
    await ended(call);
    expect(alice.callLog.list()[0]).toMatchObject({ direction: 'outgoing', peer: '1002', outcome: 'busy', detail: '486 Busy Here' });
    await new Promise((r) => setTimeout(r, 200));
    expect(bob.callLog.list()[0]).toMatchObject({ direction: 'incoming', peer: '1001', outcome: 'rejected' });
    await bob.close();
    await alice.close();
  });

  it('the caller cancels while it rings: the callee logs a missed call', async () => {
    const alice = await newPhone({ user: '1001', password: 'alice-1001' });
    const carol = await newPhone({ user: '1003', password: 'carol-1003' });
    const ringing = new Promise<Call>((r) => carol.once('incoming', r));
    const call = await alice.call('1003');
    const carolCall = await ringing;
    await call.cancel();
    await ended(call);
    await ended(carolCall);
    expect(alice.callLog.list()[0]).toMatchObject({ outcome: 'cancelled' });
    expect(carol.callLog.list()[0]).toMatchObject({ direction: 'incoming', outcome: 'missed' });
    await alice.close();
    await carol.close();
  });

  it('several calls at once: one phone holds two connected calls, each hung up on its own', async () => {
    const alice = await newPhone({ user: '1001', password: 'alice-1001' });
    const bob = await newPhone({ user: '1002', password: 'bob-1002', autoAnswer: { play: 'tone:440' } });
    const carol = await newPhone({ user: '1003', password: 'carol-1003', autoAnswer: { play: 'tone:880' } });
    const toBob = await alice.call('1002', { play: 'tone:1000' });
    const toCarol = await alice.call('1003', { play: 'tone:1000' });
    await Promise.all([connected(toBob), connected(toCarol)]);
    expect(alice.calls.size).toBe(2);
    await toBob.hangUp();
    await ended(toBob);
    expect(toCarol.state).toBe('connected');
    await toCarol.hangUp();
    await ended(toCarol);
    expect(alice.callLog.list().slice(0, 2).map((e) => e.peer).sort()).toEqual(['1002', '1003']);
    for (const p of [alice, bob, carol]) await p.close();
  });

  it('both of a user\'s softphones ring; when one answers the other logs "completed elsewhere", not a missed call', async () => {
    const alice = await newPhone({ user: '1001', password: 'alice-1001' });
    const desktop = await newPhone({ user: '1002', password: 'bob-1002' });
    const mobile = await newPhone({ user: '1002', password: 'bob-1002', servers: [`wss://${HOST}:8443/sip`] });
    const ringingDesktop = new Promise<Call>((r) => desktop.once('incoming', r));
    const ringingMobile = new Promise<Call>((r) => mobile.once('incoming', r));
    const call = await alice.call('1002');
    const [onDesktop, onMobile] = await Promise.all([ringingDesktop, ringingMobile]);
    await desktop.answer(onDesktop, { play: 'tone:440' });
    await connected(call);
    await ended(onMobile);
    expect(mobile.callLog.list()[0]).toMatchObject({ direction: 'incoming', peer: '1001', outcome: 'completed elsewhere' });
    await call.hangUp();
    await ended(onDesktop);
    expect(desktop.callLog.list()[0]).toMatchObject({ outcome: 'answered' });
    for (const p of [alice, desktop, mobile]) await p.close();
  });

  it('an unknown extension fails with the SIP code in the call log', async () => {
    const alice = await newPhone({ user: '1001', password: 'alice-1001' });
    const call = await alice.call('1999');
    await ended(call);
    expect(alice.callLog.list()[0]).toMatchObject({ outcome: 'failed', detail: '404 Not Found' });
    await alice.close();
  });

  it('re-registers by itself after its connection drops (the gateway restarts)', async () => {
    const alice = await newPhone({ user: '1001', password: 'alice-1001', reconnectDelayMs: { min: 100, max: 500 } });
    const statuses: string[] = [];
    alice.on('status', (s) => statuses.push(s));
    await lab.stopGateway();
    await lab.startGateway();
    for (let i = 0; i < 100 && !(statuses.includes('Idle') && alice.status === 'Registered'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(statuses).toContain('Idle');
    expect(alice.status).toBe('Registered');
    await alice.close();
  });

  describeIfSipp('a SIPp UAS behind the pbx\'s trunk', () => {
    it('answers a softphone call to a number starting with 0', async () => {
      const uas = await startSipp({ scenario: 'call-uas.xml', transport: 'u1', calls: 1, localPort: trunkPort, timeoutMs: 20_000 });
      await uas.ready;
      const alice = await newPhone({ user: '1001', password: 'alice-1001' });
      const call = await alice.call('0612345678', { play: 'tone:1000' });
      await connected(call);
      await new Promise((r) => setTimeout(r, 500));
      await call.hangUp();
      await ended(call);
      uas.stop();
      const result = await uas.result;
      expect(result.successful, result.errors).toBe(1);
      expect(alice.callLog.list()[0]).toMatchObject({ peer: '0612345678', outcome: 'answered' });
      await alice.close();
    });
  });
});
