/**
 * baresip 1.0 (Debian's, libre underneath) as a remote set on the lab with its defaults, no
 * setting changed for it: it registers over UDP, TCP and TLS, calls psi-phone and is called,
 * with a tone heard each way.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { audioFrames, framesWithTone, readWav } from '@psi-lab/media';
import { Phone, type Call } from '@psi-lab/softphone';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ALICE, BOB, CAROL, EVENT_LIMIT_MS, REPO_ROOT, describeIfTool, leaseLoopbackAddress, startLabUnderTest, waitFor, within, type LabUnderTest } from '@psi-lab/testkit';
import { Baresip, type BaresipTransport } from '../src/index.js';

let lab: LabUnderTest;
let bob: Phone;
let dir: string;
const started: Baresip[] = [];

async function baresip(transport: BaresipTransport, options: { toneHz?: number } = {}): Promise<Baresip> {
  const set = await Baresip.start({
    ...ALICE, transport, gateway: lab.host, address: await leaseLoopbackAddress(), caFile: lab.process.caFile(), ...options,
  });
  started.push(set);
  return set;
}

const connected = (call: Call): Promise<void> =>
  within(new Promise((r) => (call.state === 'connected' ? r() : call.on('state', (s) => s === 'connected' && r()))), 10_000, `psi-phone's call with ${call.peer} to connect`);
interface CallView {
  user: string;
  media: { fromSet: number; toSet: number; refused: number };
  warning?: string;
}

async function waitForCount(count: () => Promise<number>, atLeast: number, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  let now = 0;
  while ((now = await count()) < atLeast) {
    if (Date.now() > deadline) throw new Error(`${what}: ${now} packets, not ${atLeast}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function callsActiveAtGateway(count: number): Promise<void> {
  let active = -1;
  const deadline = Date.now() + 10_000;
  while ((active = (await lab.admin<{ callsActive: number }>('/api/counters')).callsActive) !== count) {
    if (Date.now() > deadline) throw new Error(`the gateway has ${active} calls in progress, not ${count}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const callEnded = (call: Call): Promise<void> =>
  within(new Promise((r) => (call.state === 'ended' ? r() : call.once('ended', () => r()))), 10_000, `psi-phone's call with ${call.peer} to end`);

describeIfTool('baresip', 'baresip', 'baresip 1.0 through the lab', () => {
  beforeAll(async () => {
    lab = await startLabUnderTest();
    dir = mkdtempSync(join(tmpdir(), 'psi-interop-baresip-'));
    bob = new Phone({ ...BOB, servers: [`tls://${lab.host}:5061`], ca: lab.process.ca() });
    expect(await bob.register()).toBe('Registered');
  }, 60_000);
  afterAll(async () => {
    await Promise.all(started.map((s) => s.stop()));
    await bob?.close();
    await lab?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each(['udp', 'tcp', 'tls'] as const)('registers over %s with the lab\'s defaults (MD5 digest), and the gateway lists it', async (transport) => {
    const set = await baresip(transport);
    const listed = (): Promise<Array<{ user: string; transport: string; device: string }>> => lab.admin('/api/registrations');
    expect(await listed()).toContainEqual(expect.objectContaining({ user: ALICE.user, transport: transport.toUpperCase(), device: expect.stringMatching(/^baresip v1\./) }));
    await set.stop();
    // Quitting unregisters it.
    expect((await listed()).filter((r) => r.user === ALICE.user)).toEqual([]);
  });

  it('calls psi-phone over TLS: its 1 kHz tone is heard by psi-phone, psi-phone\'s 440 Hz by baresip; both see the hang-up', async () => {
    const set = await baresip('tls', { toneHz: 1000 });
    const incoming = new Promise<Call>((resolve) => bob.once('incoming', resolve));
    const bobHeard = join(dir, 'bob-heard.wav');
    bob.once('incoming', (call) => void bob.answer(call, { play: 'tone:440', record: bobHeard }));
    await set.command('dial', `sip:${BOB.user}@${lab.host}`);
    const established = await set.waitEvent((e) => e.type === 'CALL_ESTABLISHED', 'the call to be answered');
    const bobCall = await within(incoming, 10_000, 'psi-phone to ring');
    expect(bobCall.peer).toBe(ALICE.user);
    // Two seconds of audio each way.
    await waitFor(() => (bobCall.mediaStatistics?.packetsReceived ?? 0) >= 100, 15_000, () => `100 RTP packets at psi-phone (${bobCall.mediaStatistics?.packetsReceived ?? 0})`);
    await set.command('hangup');
    await set.waitEvent((e) => e.type === 'CALL_CLOSED' && e.id === established.id, 'its call to close');
    await callEnded(bobCall);

    const heardByBob = audioFrames((await readWav(bobHeard)).samples);
    const heardByBaresip = audioFrames((await readWav(set.recordings('dec').at(-1)!)).samples);
    expect(heardByBob.length).toBeGreaterThanOrEqual(50);
    expect(heardByBaresip.length).toBeGreaterThanOrEqual(50);
    expect(framesWithTone(heardByBob, 1000)).toBeGreaterThan(0.8 * heardByBob.length);
    expect(framesWithTone(heardByBob, 440)).toBe(0);
    expect(framesWithTone(heardByBaresip, 440)).toBeGreaterThan(0.8 * heardByBaresip.length);
    expect(framesWithTone(heardByBaresip, 1000)).toBe(0);
  });

  it('blind-transfers psi-phone to a third party: psi-phone calls the target, tells baresip with NOTIFYs, and every leg of the old call ends', async () => {
    const set = await baresip('tls');
    const carol = new Phone({ ...CAROL, servers: [`tls://${lab.host}:5061`], ca: lab.process.ca(), autoAnswer: { play: 'tone:700' } });
    try {
      expect(await carol.register()).toBe('Registered');
      const carolRings = new Promise<Call>((resolve) => carol.once('incoming', resolve));
      const incoming = new Promise<Call>((resolve) => bob.once('incoming', resolve));
      bob.once('incoming', (call) => void bob.answer(call, { play: 'tone:440' }));
      await set.command('dial', `sip:${BOB.user}@${lab.host}`);
      const established = await set.waitEvent((e) => e.type === 'CALL_ESTABLISHED', 'the call to be answered');
      const first = await within(incoming, 10_000, 'psi-phone to ring');
      await connected(first);

      const transferred = new Promise<[Call, Call]>((resolve) => bob.once('transferred', (from, to) => resolve([from, to])));
      await set.command('transfer', `sip:${CAROL.user}@${lab.host}`);
      const [from, next] = await within(transferred, 10_000, 'psi-phone to follow the REFER');
      expect(from).toBe(first);
      expect(next.peer).toBe(CAROL.user);
      const atCarol = await within(carolRings, 10_000, 'the transfer target to ring');
      expect(atCarol.peer).toBe(BOB.user);
      await connected(next);
      // baresip closes its call once a NOTIFY tells it the target answered, and sends BYE.
      const closed = await set.waitEvent((e) => e.type === 'CALL_CLOSED' && e.id === established.id, 'baresip to end the transferred call');
      expect(closed.param).toMatch(/transfer/i);
      await callEnded(first);
      expect(set.events.some((e) => e.type === 'TRANSFER_FAILED')).toBe(false);
      await waitFor(() => (next.mediaStatistics?.packetsReceived ?? 0) >= 50, 15_000, 'Carol\'s audio at psi-phone');
      // The gateway holds the new call alone once the old one's BYE has crossed it: psi-phone's
      // leg to the pbx and the pbx's to Carol, each a call through the gateway.
      await callsActiveAtGateway(2);
      await next.hangUp();
      await callEnded(next);
      await callEnded(atCarol);
      await callsActiveAtGateway(0);
    } finally {
      await carol.close();
    }
  });

  it('baresip transfers baresip to psi-phone: the NOTIFYs\' refer;id follows each leg\'s CSeq, so the transferor hears the outcome and hangs up', async () => {
    const transferor = await baresip('udp');
    const transferee = await Baresip.start({ ...CAROL, transport: 'tcp', gateway: lab.host, address: await leaseLoopbackAddress(), caFile: lab.process.caFile() });
    started.push(transferee);
    const bobRings = new Promise<Call>((resolve) => bob.once('incoming', resolve));
    bob.once('incoming', (call) => void bob.answer(call, { play: 'tone:440' }));

    await transferor.command('dial', `sip:${CAROL.user}@${lab.host}`);
    await transferee.waitEvent((e) => e.type === 'CALL_INCOMING', 'the call to ring');
    await transferee.command('accept');
    const original = await transferor.waitEvent((e) => e.type === 'CALL_ESTABLISHED', 'the call to be answered');
    await transferee.waitEvent((e) => e.type === 'CALL_ESTABLISHED', 'the call to be answered');

    await transferor.command('transfer', `sip:${BOB.user}@${lab.host}`);
    const atBob = await within(bobRings, 10_000, 'the transfer target to ring');
    expect(atBob.peer).toBe(CAROL.user);
    await connected(atBob);
    const closed = await transferor.waitEvent((e) => e.type === 'CALL_CLOSED' && e.id === original.id, 'the transferor to end its call');
    expect(closed.param).toMatch(/transfer/i);
    expect(transferor.events.filter((e) => e.type === 'TRANSFER_FAILED')).toEqual([]);
    // The transferee's old call ended with the transferor's BYE; its call to Bob goes on.
    await transferee.waitEvent((e) => e.type === 'CALL_CLOSED', 'the transferee\'s old call to end');
    await waitFor(() => (atBob.mediaStatistics?.packetsReceived ?? 0) >= 50, 15_000, 'the transferee\'s audio at psi-phone');
    await atBob.hangUp();
    await callEnded(atBob);
    await callsActiveAtGateway(0);
  });

  it('holds psi-phone and resumes: psi-phone answers recvonly and sends nothing while held (counted at the gateway), then sends again', async () => {
    const set = await baresip('tls');
    const incoming = new Promise<Call>((resolve) => bob.once('incoming', resolve));
    bob.once('incoming', (call) => void bob.answer(call, { play: 'tone:440' }));
    await set.command('dial', `sip:${BOB.user}@${lab.host}`);
    await set.waitEvent((e) => e.type === 'CALL_ESTABLISHED', 'the call to be answered');
    const bobCall = await within(incoming, 10_000, 'psi-phone to ring');
    // What psi-phone sends, as the gateway relays it from psi-phone's leg.
    const fromBob = async (): Promise<number> => (await lab.admin<CallView[]>('/api/calls')).find((c) => c.user === BOB.user)?.media.fromSet ?? 0;
    await waitForCount(fromBob, 50, 'psi-phone\'s audio before the hold');

    const remoteSdp = set.events.length;
    await set.command('hold');
    await set.waitEvent((e) => e.type === 'CALL_REMOTE_SDP', 'psi-phone\'s answer to the hold', EVENT_LIMIT_MS, remoteSdp);
    await new Promise((r) => setTimeout(r, 100));
    const held = await fromBob();
    // A second on hold: 50 packets, were psi-phone still sending.
    await new Promise((r) => setTimeout(r, 1000));
    expect(await fromBob()).toBe(held);

    const resumed = set.events.length;
    await set.command('resume');
    await set.waitEvent((e) => e.type === 'CALL_REMOTE_SDP', 'psi-phone\'s answer to the resume', EVENT_LIMIT_MS, resumed);
    await waitForCount(fromBob, held + 50, 'psi-phone\'s audio after the hold');
    await set.command('hangup');
    await callEnded(bobCall);
  });

  it('psi-phone answer --calls 0 (the CLI) is transferred by baresip: it follows the transfer, keeps the call with the target, and waits for the next call until Ctrl-C', async () => {
    const set = await baresip('tls');
    const carol = new Phone({ ...CAROL, servers: [`tls://${lab.host}:5061`], ca: lab.process.ca(), autoAnswer: { play: 'tone:700' } });
    // Bob's SDK phone steps aside: the CLI is Bob here.
    await bob.unregister();
    const cli = spawn(process.execPath, ['packages/softphone/bin/psi-phone.mjs', 'answer', '--user', BOB.user, '--password', BOB.password,
      '--server', `tls://${lab.host}:5061`, '--ca', lab.process.caFile(), '--calls', '0', '--json', '--play', 'tone:440'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    cli.stdout.on('data', (d: Buffer) => (out += d.toString()));
    cli.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => cli.on('exit', (code) => resolve(code)));
    const events = (): Array<Record<string, unknown>> => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const seen = (what: string, match: (e: Record<string, unknown>) => boolean): Promise<void> => waitFor(() => events().some(match), 15_000, () => `the CLI to print ${what}:\n${out}`);
    try {
      expect(await carol.register()).toBe('Registered');
      const carolRings = new Promise<Call>((resolve) => carol.once('incoming', resolve));
      await seen('that it waits', (e) => e.event === 'waiting');
      await set.command('dial', `sip:${BOB.user}@${lab.host}`);
      const original = await set.waitEvent((e) => e.type === 'CALL_ESTABLISHED', 'the CLI to answer');
      await set.command('transfer', `sip:${CAROL.user}@${lab.host}`);
      const atCarol = await within(carolRings, 10_000, 'the transfer target to ring');
      await set.waitEvent((e) => e.type === 'CALL_CLOSED' && e.id === original.id, 'baresip to end the transferred call');
      await seen('the transfer', (e) => e.state === 'transferred' && e.to === CAROL.user);
      // The call goes on, with Carol: the CLI did not hang it up when baresip's part ended.
      await waitFor(() => (atCarol.mediaStatistics?.packetsReceived ?? 0) >= 100, 15_000, 'the CLI\'s audio at Carol');
      expect(atCarol.state).toBe('connected');
      await atCarol.hangUp();
      await seen('the answered call', (e) => e.event === 'answered' && JSON.stringify(e.transferredTo) === JSON.stringify([CAROL.user]) && e.endedBy === 'caller');
      // ...and waits for the next one.
      await seen('that it waits for call 2', (e) => e.event === 'waiting' && e.call === 2);
      cli.kill('SIGINT');
      expect(await within(exited, 15_000, 'the CLI to exit after Ctrl-C')).toBe(130);
      expect(events().at(-1)).toMatchObject({ event: 'summary', calls: [expect.objectContaining({ peer: ALICE.user, transferredTo: [CAROL.user] })] });
    } finally {
      cli.kill('SIGKILL');
      await carol.close();
      expect(await bob.register()).toBe('Registered');
    }
  });
});
