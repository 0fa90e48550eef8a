/**
 * Hold, and call transfer, through the lab with Debian's linphonec (linphone-cli 5.1) and psi-phone:
 * blind (RFC 3515 REFER, RFC 5589) each way, and attended (REFER with Replaces, RFC 3891) with
 * psi-phone and with linphonec as the transferor. Each ends with the new call's audio flowing
 * and every leg of the old call gone: at linphonec (`calls`), at each psi-phone, and at the
 * gateway (`/api/calls`, and `callsActive`, which counts a set-to-set call twice: one per set leg).
 *
 * The attended transfers hold the gateway to RFC 3891 §3 across its legs: a Replaces is turned
 * into the same call's other leg with its to-tag the recipient's own. Through the pbx (a proxy,
 * with the gateway at both ends of its dialog) a Replaces the wrong way round named the
 * transferor's dialog, and the target answered 481.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateTone, writeWav } from '@psi-lab/media';
import { Phone, type Call } from '@psi-lab/softphone';
import {
  ALICE, BOB, CAROL, EVENT_LIMIT_MS, describeIfTool, leaseLoopback, startLabUnderTest, waitFor, within, type LabUnderTest, type LoopbackLease,
} from '@psi-lab/testkit';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { Linphonec, type TracedMessage } from '../src/index.js';

/** One set leg of a call, as the gateway's `/api/calls` lists it. */
interface CallView { user: string; peer: string; state: string; media: { fromSet: number; toSet: number } }

/** What a set sent on its leg `user>peer`, counted by the gateway as it arrived (relayed or not). */
async function sentBy(user: string, peer: string): Promise<number> {
  return (await lab.admin<CallView[]>('/api/calls')).find((c) => c.user === user && c.peer === peer)?.media.fromSet ?? 0;
}

const TEST_LIMIT_MS = 60_000;
/** A transfer is a REFER, a new call through gateway → pbx → gateway, and NOTIFYs back: slower than one event on a busy machine. */
const TRANSFER_LIMIT_MS = 20_000;
/** One second of 20 ms RTP packets: audio flows, not a stray packet. */
const AUDIO_PACKETS = 50;

let lab: LabUnderTest;
let dir: string;
const running = { sets: [] as Array<{ set: Linphonec; lease: LoopbackLease }>, phones: [] as Phone[] };

/** linphonec as Alice (1001) over UDP on a loopback address of its own, sending a 1 kHz tone in each call. */
async function linphonec(): Promise<Linphonec> {
  const lease = await leaseLoopback();
  const set = await Linphonec.start({ ...ALICE, transport: 'udp', gateway: lab.host, address: lease.address, caFile: lab.process.caFile() });
  running.sets.push({ set, lease });
  await set.registration('LinphoneRegistrationOk');
  set.play(join(dir, 'tone-1000.wav'));
  return set;
}

/** A psi-phone (SDK) registered over TLS that answers every call at once, playing a tone. */
async function psiPhone(user: typeof BOB, hz: number): Promise<Phone> {
  const phone = new Phone({ ...user, servers: [`tls://${lab.host}:5061`], ca: lab.process.ca(), autoAnswer: { play: `tone:${hz}` } });
  running.phones.push(phone);
  expect(await phone.register()).toBe('Registered');
  return phone;
}

/** The next call offered to `phone`, listened for from now on (awaited later, with a bound). */
function nextIncoming(phone: Phone): Promise<Call> {
  return new Promise((resolve) => phone.once('incoming', resolve));
}
/** The next call `phone` carries on as another: it followed a REFER, or an INVITE with Replaces took a call over. */
function nextTransfer(phone: Phone): Promise<[from: Call, to: Call]> {
  return new Promise((resolve) => phone.once('transferred', (from, to) => resolve([from, to])));
}

const connected = (call: Call, what: string): Promise<void> =>
  within(new Promise<void>((r) => (call.state === 'connected' ? r() : call.on('state', (s) => s === 'connected' && r()))), EVENT_LIMIT_MS, `${what} to connect`);
const ended = (call: Call, what: string): Promise<void> =>
  within(new Promise<void>((r) => (call.state === 'ended' ? r() : call.once('ended', () => r()))), EVENT_LIMIT_MS, `${what} to end`);
const heard = (call: Call, what: string): Promise<void> =>
  waitFor(() => (call.mediaStatistics?.packetsReceived ?? 0) >= AUDIO_PACKETS, 15_000, () => `${AUDIO_PACKETS} RTP packets at ${what} (${call.mediaStatistics?.packetsReceived ?? 0})`);

/** `promise`, or a failure as soon as `call` ends first: a call that failed is not waited on for the bound. */
function before<T>(promise: Promise<T>, call: Call, what: string): Promise<T> {
  const gone = new Promise<never>((_, reject) => {
    if (call.state === 'ended') reject(new Error(`${what}: the call with ${call.peer} had ended`));
    call.once('ended', (entry) => reject(new Error(`${what}: the call with ${call.peer} ended first (${entry.outcome}${entry.detail ? `, ${entry.detail}` : ''})`)));
  });
  return within(Promise.race([promise, gone]), TRANSFER_LIMIT_MS, what);
}

/** Polls an answer of the lab's until `done` holds of it; fails with the last one seen. */
async function untilLab<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, limitMs = EVENT_LIMIT_MS): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${limitMs / 1000} s waiting for ${what}; the gateway has ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Until the gateway holds exactly these calls, connected, each listed once per set leg as
 * `user>peer`, and counts them in `callsActive`: every other leg is gone from it.
 */
async function gatewayHolds(legs: string[]): Promise<void> {
  const read = async (): Promise<{ active: number; calls: CallView[] }> => ({
    active: (await lab.admin<{ callsActive: number }>('/api/counters')).callsActive,
    calls: await lab.admin<CallView[]>('/api/calls'),
  });
  const want = [...legs].sort().join(',');
  await untilLab(read, (g) => g.active === legs.length && g.calls.every((c) => c.state === 'connected')
    && g.calls.map((c) => `${c.user}>${c.peer}`).sort().join(',') === want, `the gateway to hold just [${want}]`);
}

/** Until the gateway relayed `AUDIO_PACKETS` packets to the set leg `user>peer`: the other side's audio reaches that set. */
async function audioToSet(user: string, peer: string): Promise<void> {
  await untilLab(() => lab.admin<CallView[]>('/api/calls'), (calls) => (calls.find((c) => c.user === user && c.peer === peer)?.media.toSet ?? 0) >= AUDIO_PACKETS,
    `${AUDIO_PACKETS} RTP packets relayed to ${user} from ${peer}`, 15_000);
}

const header = (m: TracedMessage, name: string): string | undefined => new RegExp(`^${name}:\\s*(.*?)\\s*$`, 'mi').exec(m.text)?.[1];
const firstLine = (m: TracedMessage): string => m.text.split(/\r?\n/)[0]!;
/** A NOTIFY's body: the sipfrag's status line. */
const sipfrag = (m: TracedMessage): string | undefined => m.text.split(/\r?\n\r?\n/)[1]?.split(/\r?\n/)[0];
/** linphonec's traced messages in `dir` whose first line matches `start`. */
const traced = (set: Linphonec, dir: TracedMessage['dir'], start: RegExp): TracedMessage[] => set.trace().filter((m) => m.dir === dir && start.test(firstLine(m)));

/** Nothing linphonec sent went anywhere but the lab on loopback, or named the machine's own network. */
function expectLoopbackOnly(set: Linphonec): void {
  for (const m of set.trace().filter((t) => t.dir === 'out')) {
    expect(m.peer).toMatch(/^UDP:\/\/127\./);
    expect(m.text).not.toMatch(/192\.0\.2\./);
  }
}

describeIfTool('linphonec', 'linphone-cli', 'call transfer with linphonec (linphone-cli 5.1) and psi-phone through the lab', () => {
  beforeAll(async () => {
    lab = await startLabUnderTest();
    dir = mkdtempSync(join(tmpdir(), 'psi-interop-linphone-transfer-'));
    await writeWav(join(dir, 'tone-1000.wav'), generateTone({ frequency: 1000, durationMs: 30_000, amplitude: 0.5 }));
  }, 60_000);
  afterEach(async (context) => {
    if (context.task.result?.state === 'fail') {
      for (const { set } of running.sets) console.error(`linphonec's console:\n${set.console()}`);
      console.error(`the lab's log:\n${lab.process.output().split('\n').slice(-30).join('\n')}`);
    }
    for (const { set, lease } of running.sets.splice(0)) {
      await set.stop();
      set.remove();
      await lease.release();
    }
    // Closing hangs up what a failed test left and unregisters: the next test starts from nothing.
    await Promise.all(running.phones.splice(0).map((p) => p.close()));
    await gatewayHolds([]);
  }, 60_000);
  afterAll(async () => {
    await lab?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('linphonec holds psi-phone Bob and resumes: Bob sends nothing while held (counted at the gateway), then sends again', async () => {
    const bob = await psiPhone(BOB, 440);
    const set = await linphonec();
    const bobRings = nextIncoming(bob);
    const id = await set.call(`sip:${BOB.user}@${lab.host}`);
    await set.connected(id);
    const call = await within(bobRings, EVENT_LIMIT_MS, 'Bob to ring');
    await connected(call, 'Bob\'s call with linphonec');
    await untilLab(() => sentBy(BOB.user, ALICE.user), (n) => n >= AUDIO_PACKETS, 'Bob\'s audio before the hold', 15_000);
    await set.pause(id);
    // A packet already on its way when Bob answered the hold may still land; none after that.
    await new Promise((r) => setTimeout(r, 100));
    const held = await sentBy(BOB.user, ALICE.user);
    // A second on hold: 50 packets, were Bob still sending.
    await new Promise((r) => setTimeout(r, 1000));
    expect(await sentBy(BOB.user, ALICE.user)).toBe(held);
    await set.resume(id);
    await untilLab(() => sentBy(BOB.user, ALICE.user), (n) => n >= held + AUDIO_PACKETS, 'Bob\'s audio after the hold', 15_000);
    set.terminate(id);
    await ended(call, 'Bob\'s call');
    await set.stop();
    // linphonec held with a=sendonly (or inactive); Bob's answers said he would not send.
    const holds = traced(set, 'in', /^SIP\/2\.0 200 /).filter((m) => /a=(recvonly|inactive)/.test(m.text));
    expect(holds.length).toBeGreaterThanOrEqual(1);
  }, TEST_LIMIT_MS);

  it('linphonec blind-transfers psi-phone Bob to psi-phone Carol: Bob follows the REFER, linphonec hears the outcome and hangs up, Bob and Carol talk', async () => {
    const bob = await psiPhone(BOB, 440);
    const carol = await psiPhone(CAROL, 700);
    const set = await linphonec();
    const bobRings = nextIncoming(bob);
    const id = await set.call(`sip:${BOB.user}@${lab.host}`);
    await set.connected(id);
    const first = await within(bobRings, EVENT_LIMIT_MS, 'Bob to ring');
    expect(first.peer).toBe(ALICE.user);
    await connected(first, 'Bob\'s call with linphonec');

    const bobTransferred = nextTransfer(bob);
    const carolRings = nextIncoming(carol);
    set.transfer(id, `sip:${CAROL.user}@${lab.host}`);
    const [from, next] = await within(bobTransferred, TRANSFER_LIMIT_MS, 'Bob to follow the REFER');
    expect(from).toBe(first);
    expect(next.peer).toBe(CAROL.user);
    const atCarol = await within(carolRings, EVENT_LIMIT_MS, 'Carol to ring');
    expect(atCarol.peer).toBe(BOB.user);
    await connected(next, 'Bob\'s call with Carol');
    // linphonec ends the call itself once a NOTIFY says the target answered.
    await set.transferred(id, TRANSFER_LIMIT_MS);
    expect(await set.ended(id)).toBe('No error');
    await ended(first, 'Bob\'s call with linphonec');
    await heard(next, 'Bob from Carol');
    await heard(atCarol, 'Carol from Bob');

    await gatewayHolds([`${BOB.user}>${CAROL.user}`, `${CAROL.user}>${BOB.user}`]);
    expect(await set.calls()).toEqual([]);
    expect([...bob.calls]).toEqual([next]);
    expect([...carol.calls]).toEqual([atCarol]);
    await next.hangUp();
    await ended(atCarol, 'Carol\'s call');
    await gatewayHolds([]);

    await set.stop();
    const [refer] = traced(set, 'out', /^REFER /);
    expect(header(refer!, 'Refer-To')).toBe(`sip:${CAROL.user}@${lab.host}`);
    // Bob's NOTIFYs name the REFER by its CSeq on linphonec's own leg: the gateway gives each leg its id.
    const referId = /^(\d+) REFER$/.exec(header(refer!, 'CSeq')!)![1];
    const notifies = traced(set, 'in', /^NOTIFY /);
    expect(notifies.length).toBeGreaterThanOrEqual(2);
    for (const n of notifies) expect(header(n, 'Event')).toBe(`refer;id=${referId}`);
    expect(sipfrag(notifies.at(-1)!)).toMatch(/^SIP\/2\.0 200 /);
    expect(header(notifies.at(-1)!, 'Subscription-State')).toMatch(/^terminated/);
    expectLoopbackOnly(set);
  }, TEST_LIMIT_MS);

  it('psi-phone Bob blind-transfers linphonec to Carol: linphonec holds Bob, calls Carol, and its NOTIFYs tell Bob the transfer completed', async () => {
    const bob = await psiPhone(BOB, 440);
    const carol = await psiPhone(CAROL, 700);
    const set = await linphonec();
    const call = await bob.call(ALICE.user, { play: 'tone:440' });
    const incoming = await set.incoming();
    expect(incoming.from).toContain(`sip:${BOB.user}@`);
    set.answer(incoming.id);
    await set.connected(incoming.id);
    await connected(call, 'Bob\'s call with linphonec');

    const carolRings = nextIncoming(carol);
    const result = bob.transfer(call, CAROL.user);
    const placed = await set.placed(`sip:${CAROL.user}@${lab.host}`, TRANSFER_LIMIT_MS);
    const atCarol = await within(carolRings, EVENT_LIMIT_MS, 'Carol to ring');
    expect(atCarol.peer).toBe(ALICE.user);
    await set.connected(placed.id);
    expect(await within(result, TRANSFER_LIMIT_MS, 'Bob to hear how the transfer ended')).toMatchObject({ completed: true, status: 200 });
    // Bob hangs up once the transfer completed: linphonec's held call ends with his BYE.
    await ended(call, 'Bob\'s call with linphonec');
    expect(await set.ended(incoming.id)).toBe('No error');
    await heard(atCarol, 'Carol from linphonec');
    await audioToSet(ALICE.user, CAROL.user);

    await gatewayHolds([`${ALICE.user}>${CAROL.user}`, `${CAROL.user}>${ALICE.user}`]);
    expect(await set.calls()).toEqual([{ id: placed.id, uri: `sip:${CAROL.user}@${lab.host}`, state: 'StreamsRunning' }]);
    expect(bob.calls.size).toBe(0);
    expect([...carol.calls]).toEqual([atCarol]);
    await atCarol.hangUp();
    expect(await set.ended(placed.id)).toBe('No error');
    await gatewayHolds([]);

    await set.stop();
    const [refer] = traced(set, 'in', /^REFER /);
    expect(header(refer!, 'Refer-To')).toBe(`sip:${CAROL.user}@${lab.host}`);
    // linphonec's NOTIFYs carry `Event: refer` with no id: allowed for the first REFER of a
    // dialog (RFC 3515 §2.4.6), and psi-phone took them as the answer to its REFER.
    const notifies = traced(set, 'out', /^NOTIFY /);
    for (const n of notifies) expect(header(n, 'Event')).toMatch(/^refer\b/);
    expect(sipfrag(notifies.at(-1)!)).toMatch(/^SIP\/2\.0 200 /);
    expect(header(notifies.at(-1)!, 'Subscription-State')).toMatch(/^terminated/);
    expectLoopbackOnly(set);
  }, TEST_LIMIT_MS);

  it('psi-phone Bob transfers linphonec to his consultation call with Carol (REFER with Replaces): Carol\'s psi-phone takes linphonec\'s INVITE with Replaces over', async () => {
    const bob = await psiPhone(BOB, 440);
    const carol = await psiPhone(CAROL, 700);
    const set = await linphonec();
    const call1 = await bob.call(ALICE.user, { play: 'tone:440' });
    const incoming = await set.incoming();
    set.answer(incoming.id);
    await set.connected(incoming.id);
    await connected(call1, 'Bob\'s call with linphonec');
    const carolRings = nextIncoming(carol);
    const call2 = await bob.call(CAROL.user, { play: 'tone:440' });
    const consulted = await within(carolRings, EVENT_LIMIT_MS, 'Carol to ring');
    await connected(call2, 'Bob\'s consultation call with Carol');

    const carolTransferred = nextTransfer(carol);
    const result = bob.transfer(call1, call2);
    const placed = await set.placed(`sip:${CAROL.user}@${lab.host}`, TRANSFER_LIMIT_MS);
    expect(placed.uri).toMatch(/\?Replaces=/);
    expect(await within(result, TRANSFER_LIMIT_MS, 'Bob to hear how the transfer ended')).toMatchObject({ completed: true, status: 200 });
    const [from, taken] = await within(carolTransferred, EVENT_LIMIT_MS, 'Carol\'s psi-phone to take the call over');
    expect(from).toBe(consulted);
    expect(taken.peer).toBe(ALICE.user);
    await set.connected(placed.id);
    await connected(taken, 'Carol\'s call with linphonec');
    // Bob ends call 1 on success; Carol's psi-phone BYEs the call it replaced.
    await ended(call1, 'Bob\'s call with linphonec');
    expect(await set.ended(incoming.id)).toBe('No error');
    await ended(call2, 'Bob\'s consultation call');
    await ended(consulted, 'Carol\'s consultation call');
    await heard(taken, 'Carol from linphonec');
    await audioToSet(ALICE.user, CAROL.user);

    await gatewayHolds([`${ALICE.user}>${CAROL.user}`, `${CAROL.user}>${ALICE.user}`]);
    expect((await set.calls()).map((c) => [c.id, c.state])).toEqual([[placed.id, 'StreamsRunning']]);
    expect(bob.calls.size).toBe(0);
    expect([...carol.calls]).toEqual([taken]);
    await taken.hangUp();
    expect(await set.ended(placed.id)).toBe('No error');
    await gatewayHolds([]);

    await set.stop();
    const [refer] = traced(set, 'in', /^REFER /);
    const [invite] = traced(set, 'out', /^INVITE sip:1003@/);
    // What linphonec asked Carol to replace is what the REFER it got named.
    expect(header(invite!, 'Replaces')).toBe(decodeURIComponent(/\?Replaces=([^>]+)>/.exec(header(refer!, 'Refer-To')!)![1]!));
    expectLoopbackOnly(set);
  }, TEST_LIMIT_MS);

  it('linphonec transfers Bob to its call with Carol (transfer --to-call): Bob\'s INVITE with Replaces takes Carol\'s call over, and linphonec\'s two calls end', async () => {
    const bob = await psiPhone(BOB, 440);
    const carol = await psiPhone(CAROL, 700);
    const set = await linphonec();
    const bobRings = nextIncoming(bob);
    const id1 = await set.call(`sip:${BOB.user}@${lab.host}`);
    await set.connected(id1);
    const atBob = await within(bobRings, EVENT_LIMIT_MS, 'Bob to ring');
    // linphonec places a second call only once the first is on hold.
    await set.pause(id1);
    const carolRings = nextIncoming(carol);
    const id2 = await set.call(`sip:${CAROL.user}@${lab.host}`);
    await set.connected(id2);
    const atCarol = await within(carolRings, EVENT_LIMIT_MS, 'Carol to ring');
    await connected(atCarol, 'Carol\'s call with linphonec');

    const bobTransferred = nextTransfer(bob);
    const carolTransferred = nextTransfer(carol);
    await set.transferToCall(id1, id2);
    const [bobFrom, bobNext] = await within(bobTransferred, TRANSFER_LIMIT_MS, 'Bob to follow the REFER');
    expect(bobFrom).toBe(atBob);
    expect(bobNext.peer).toBe(CAROL.user);
    const [carolFrom, carolNext] = await before(carolTransferred, bobNext, 'Carol\'s psi-phone to take the call over');
    expect(carolFrom).toBe(atCarol);
    expect(carolNext.peer).toBe(BOB.user);
    await connected(bobNext, 'Bob\'s call with Carol');
    await connected(carolNext, 'Carol\'s call with Bob');
    // linphonec hangs up call 1 once the NOTIFY says Bob reached Carol; Carol BYEs call 2, the one replaced.
    await set.transferred(id1, TRANSFER_LIMIT_MS);
    expect(await set.ended(id1)).toBe('No error');
    expect(await set.ended(id2)).toBe('No error');
    await ended(atBob, 'Bob\'s call with linphonec');
    await ended(atCarol, 'Carol\'s call with linphonec');
    await heard(bobNext, 'Bob from Carol');
    await heard(carolNext, 'Carol from Bob');

    await gatewayHolds([`${BOB.user}>${CAROL.user}`, `${CAROL.user}>${BOB.user}`]);
    expect(await set.calls()).toEqual([]);
    expect([...bob.calls]).toEqual([bobNext]);
    expect([...carol.calls]).toEqual([carolNext]);
    await bobNext.hangUp();
    await ended(carolNext, 'Carol\'s call with Bob');
    await gatewayHolds([]);

    await set.stop();
    const [refer] = traced(set, 'out', /^REFER /);
    const [invite2] = traced(set, 'out', /^INVITE sip:1003@/);
    // Its Replaces names call 2 as Carol's end knows it (RFC 3891): from-tag linphonec's, to-tag the far end's.
    const replaces = decodeURIComponent(/\?Replaces=([^>]+)>/.exec(header(refer!, 'Refer-To')!)![1]!);
    expect(replaces.split(';')[0]).toBe(header(invite2!, 'Call-ID'));
    expect(replaces).toContain(`from-tag=${/;tag=([^;\s]+)/.exec(header(invite2!, 'From')!)![1]}`);
    const referId = /^(\d+) REFER$/.exec(header(refer!, 'CSeq')!)![1];
    const notifies = traced(set, 'in', /^NOTIFY /);
    for (const n of notifies) expect(header(n, 'Event')).toBe(`refer;id=${referId}`);
    expect(sipfrag(notifies.at(-1)!)).toMatch(/^SIP\/2\.0 200 /);
    expectLoopbackOnly(set);
  }, TEST_LIMIT_MS);
});
