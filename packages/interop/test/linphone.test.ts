/**
 * Debian's linphonec (linphone-cli 5.1) as a remote set on the lab as `npm run lab` starts it
 * (default settings: MD5 digest, UDP/TCP 5060, TLS 5061 with the lab's CA): it registers over
 * each transport and the gateway lists it; it calls psi-phone and psi-phone calls it, a tone
 * heard each way, each side seeing the other hang up. Its own SIP trace says what it offered.
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectTone, generateTone, readWav, writeWav, type DecodedWav } from '@psi-lab/media';
import { createCa } from '@psi-lab/pki';
import {
  ALICE, BOB, EVENT_LIMIT_MS, REPO_ROOT, describeIfTool, leaseLoopback, startLabUnderTest, waitFor, within, type LabUnderTest, type LoopbackLease,
} from '@psi-lab/testkit';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { Linphonec, readLinphoneRecording, type LinphoneTransport, type TracedMessage } from '../src/index.js';

interface Registration { user: string; device: string; instance?: string; transport: string; source: string }
type PsiEvent = { event: string } & Record<string, unknown>;

/** psi-phone's CLI as a process of its own, its `--json` events read as they come. */
interface PsiPhone {
  events: PsiEvent[];
  event(match: (e: PsiEvent) => boolean, what: string, limitMs?: number): Promise<PsiEvent>;
  done: Promise<{ code: number | null; stderr: string }>;
  /** SIGTERM: it hangs up and unregisters, as after Ctrl-C. */
  stop(): Promise<void>;
}

const CALL_LIMIT_MS = 45_000;
/** psi-phone starts from its TypeScript source and registers over TLS: slow on a busy machine. */
const PSI_PHONE_START_MS = 20_000;
let lab: LabUnderTest;
let dir: string;
let caFile: string;
const tone = (hz: number): string => join(dir, `tone-${hz}.wav`);
const running = { sets: [] as Array<{ set: Linphonec; lease: LoopbackLease }>, phones: [] as PsiPhone[] };

async function linphonec(transport: LinphoneTransport, options: { trust?: string; rtpAddress?: string } = {}): Promise<Linphonec> {
  const lease = await leaseLoopback();
  const set = await Linphonec.start({ ...ALICE, transport, gateway: lab.host, address: lease.address, caFile: options.trust ?? caFile, rtpAddress: options.rtpAddress });
  running.sets.push({ set, lease });
  return set;
}

function psiPhone(args: string[]): PsiPhone {
  const child = spawn(process.execPath, ['packages/softphone/bin/psi-phone.mjs', ...args, '--json'], { cwd: REPO_ROOT });
  const events: PsiEvent[] = [];
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    const lines = stdout.split('\n');
    stdout = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        events.push(JSON.parse(line) as PsiEvent);
      } catch {
        events.push({ event: 'unparsed', line });
      }
    }
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stderr })));
  const phone: PsiPhone = {
    events, done,
    event: async (match, what, limitMs = EVENT_LIMIT_MS) => {
      await waitFor(() => events.some(match) || child.exitCode !== null, limitMs, () => `psi-phone: ${what}; it printed ${JSON.stringify(events)} ${stderr}`);
      const found = events.find(match);
      if (!found) throw new Error(`psi-phone exited (${child.exitCode}) before ${what}: ${JSON.stringify(events)} ${stderr}`);
      return found;
    },
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await within(done, EVENT_LIMIT_MS, 'psi-phone to end after SIGTERM').catch(() => child.kill('SIGKILL'));
    },
  };
  running.phones.push(phone);
  return phone;
}

/** The source address the kernel picks toward `host`, as for a TCP or TLS connection (a connected UDP socket sends nothing). */
async function sourceAddressToward(host: string): Promise<string> {
  const socket = dgram.createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(5061, host, resolve);
    });
    return socket.address().address;
  } finally {
    socket.close();
  }
}

const psiAccount = (): string[] => ['--user', BOB.user, '--password', BOB.password, '--server', `tls://${lab.host}:5061`, '--ca', caFile];
const registrationsOf = async (user: string): Promise<Registration[]> =>
  (await lab.admin<Registration[]>('/api/registrations')).filter((r) => r.user === user);

/** A recording cut into 20 ms frames, leaving out the silent ones (before the first packet came). */
function frames(wav: DecodedWav): Int16Array[] {
  const size = wav.sampleRate / 50;
  const out: Int16Array[] = [];
  for (let at = 0; at + size <= wav.samples.length; at += size) {
    const frame = wav.samples.subarray(at, at + size);
    if (frame.some((s) => s !== 0)) out.push(frame);
  }
  return out;
}

/** Most frames hold `hz`, none the other side's own tone (so it is not an echo). */
function expectTone(wav: DecodedWav, hz: number, notHz: number): void {
  expect(wav.channels).toBe(1);
  const heard = frames(wav);
  const withTone = (f: number): number => heard.filter((frame) => detectTone(frame, f, { sampleRate: wav.sampleRate })).length;
  expect(heard.length).toBeGreaterThanOrEqual(50);
  expect(withTone(hz)).toBeGreaterThan(0.8 * heard.length);
  expect(withTone(notHz)).toBe(0);
}

const sdpOf = (m: TracedMessage): string => m.text.slice(m.text.search(/\r?\n\r?\nv=0/)).trim();
const sdpAddresses = (sdp: string): string[] => [...sdp.matchAll(/^(?:c=IN IP4 (\S+)|o=.* IN IP4 (\S+))$/gm)].map((m) => (m[1] ?? m[2])!);
/** The first traced message in `dir` whose first line matches `start` (and, when given, whose text holds `also`). */
function traced(set: Linphonec, dir: TracedMessage['dir'], start: RegExp, also?: RegExp): TracedMessage {
  const found = set.trace().find((m) => m.dir === dir && start.test(m.text.split('\n')[0]!) && (!also || also.test(m.text)));
  if (!found) throw new Error(`no ${dir === 'out' ? 'sent' : 'received'} message starting ${start} in linphonec's trace`);
  return found;
}

/** Nothing linphonec sent named the machine's own interface (192.0.2.0/24): only loopback. */
function expectLoopbackOnly(set: Linphonec): void {
  const sent = set.trace().filter((m) => m.dir === 'out');
  expect(sent.length).toBeGreaterThan(0);
  for (const m of sent) {
    expect(m.peer).toMatch(/^(UDP|TCP|TLS):\/\/127\./);
    expect(m.text).not.toMatch(/192\.0\.2\./);
  }
}

describeIfTool('linphonec', 'linphone-cli', 'linphonec (linphone-cli 5.1) through the lab', () => {
  beforeAll(async () => {
    lab = await startLabUnderTest();
    caFile = join(lab.process.dataDir, 'certs/ca.pem');
    dir = mkdtempSync(join(tmpdir(), 'psi-interop-linphone-'));
    for (const hz of [440, 1000]) await writeWav(tone(hz), generateTone({ frequency: hz, durationMs: 20_000, amplitude: 0.5 }));
  }, 60_000);
  // A test that failed half-way may leave a set registered as 1001 or a psi-phone waiting: end them.
  afterEach(async (context) => {
    // What the lab logged (warnings and worse: blocks, refusals) says why a set was turned away.
    if (context.task.result?.state === 'fail') console.error(`the lab's log:\n${lab.process.output().split('\n').slice(-30).join('\n')}`);
    await Promise.all(running.phones.splice(0).map((p) => p.stop()));
    for (const { set, lease } of running.sets.splice(0)) {
      await set.stop();
      set.remove();
      await lease.release();
    }
  });
  afterAll(async () => {
    await lab?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each(['udp', 'tcp', 'tls'] as const)('registers over %s with the lab\'s defaults (MD5 digest, qop=auth); the gateway lists it; quitting unregisters it', async (transport) => {
    const set = await linphonec(transport);
    await set.registration('LinphoneRegistrationOk');
    const listed = await registrationsOf(ALICE.user);
    expect(listed).toEqual([expect.objectContaining({ transport: transport.toUpperCase() })]);
    expect(await set.stop()).toBe(0);
    // Quitting unregistered it: the gateway said 200 to its Expires: 0, so it lists it no more.
    const unregister = traced(set, 'out', /^REGISTER /, /^Expires: 0/m);
    const cseq = /^CSeq: (\d+) REGISTER/m.exec(unregister.text)?.[1];
    expect(traced(set, 'in', /^SIP\/2\.0 200 /, new RegExp(`^CSeq: ${cseq} REGISTER`, 'm'))).toBeDefined();
    expect(await registrationsOf(ALICE.user)).toEqual([]);

    // The gateway knows the set by the address its REGISTER came from: over UDP the socket
    // linphonec bound; over TCP and TLS the kernel's choice, as belle-sip binds no client connection.
    const ok = traced(set, 'in', /^SIP\/2\.0 200 /, /^CSeq: \d+ REGISTER/m);
    const via = /;rport=(\d+);received=([\d.]+)/.exec(ok.text);
    expect(listed[0]!.source).toBe(`${via?.[2]}:${via?.[1]}`);
    if (transport === 'udp') expect(listed[0]!.source).toBe(`${set.options.address}:5060`);
    const authorized = traced(set, 'out', /^REGISTER /, /^Authorization:/m).text;
    // Listed by the User-Agent and the +sip.instance its REGISTER carried.
    expect(listed[0]).toMatchObject({
      device: /^User-Agent: (.*)$/m.exec(authorized)?.[1],
      instance: /\+sip\.instance="<(urn:uuid:[^>]+)>"/.exec(authorized)?.[1],
    });
    expect(listed[0]!.device).toMatch(/^Linphonec\/5\.1\./);
    expect(authorized).toMatch(/algorithm=MD5/);
    expect(authorized).toMatch(/qop=auth/);
    expectLoopbackOnly(set);
  }, CALL_LIMIT_MS);

  it('over TLS trusts the lab\'s CA only: with another CA of the same name it does not register', async () => {
    const impostor = join(dir, 'impostor-ca.pem');
    writeFileSync(impostor, createCa('psi-lab CA').cert);
    const set = await linphonec('tls', { trust: impostor });
    await set.registration('LinphoneRegistrationFailed');
    expect(await registrationsOf(ALICE.user)).toEqual([]);
    await set.stop();
    expect(set.log()).toMatch(/SSL handshake failed : X509 - Certificate verification failed/);
    expect(set.trace().filter((m) => m.dir === 'out')).toEqual([]);
  }, CALL_LIMIT_MS);

  it('calls psi-phone over UDP: its 1 kHz tone is heard by psi-phone, psi-phone\'s 440 Hz by linphonec; it hangs up and psi-phone sees it', async () => {
    const bobHeard = join(dir, 'psi-phone-heard-linphonec.wav');
    const linphoneHeard = join(dir, 'linphonec-heard-psi-phone.wav');
    const bob = psiPhone(['answer', ...psiAccount(), '--play', 'tone:440', '--record', bobHeard, '--timeout', '40']);
    await bob.event((e) => e.event === 'waiting', 'to wait for a call', PSI_PHONE_START_MS);
    const set = await linphonec('udp');
    await set.registration('LinphoneRegistrationOk');
    set.play(tone(1000));
    set.record(linphoneHeard);
    const id = await set.call(`sip:${BOB.user}@${lab.host}`);
    await set.connected(id);
    await bob.event((e) => e.event === 'call' && e.state === 'connected', 'the call to connect');
    await set.recorded(linphoneHeard, 3);
    set.terminate(id);
    expect(await set.ended(id)).toBe('No error');
    const answered = await bob.event((e) => e.event === 'answered', 'the call to end');
    expect(answered).toMatchObject({ peer: ALICE.user, endedBy: 'caller' });
    expect(await within(bob.done, EVENT_LIMIT_MS, 'psi-phone to exit')).toMatchObject({ code: 0, stderr: '' });
    await set.stop();

    expectTone(await readWav(bobHeard), 1000, 440);
    expectTone(readLinphoneRecording(linphoneHeard), 440, 1000);
    // Its offer names the loopback address it sends RTP from; the gateway's answer, its own.
    const offer = sdpOf(traced(set, 'out', /^INVITE /));
    expect(new Set(sdpAddresses(offer))).toEqual(new Set([set.options.address]));
    expect(offer).not.toMatch(/^a=candidate/m);
    expect(new Set(sdpAddresses(sdpOf(traced(set, 'in', /^SIP\/2\.0 200 /, /^CSeq: \d+ INVITE/m))))).toEqual(new Set([lab.host]));
    expectLoopbackOnly(set);
  }, CALL_LIMIT_MS);

  it('is called by psi-phone over UDP and answers: each hears the other\'s tone; psi-phone hangs up and linphonec sees it', async () => {
    const bobHeard = join(dir, 'psi-phone-heard-linphonec-2.wav');
    const linphoneHeard = join(dir, 'linphonec-heard-psi-phone-2.wav');
    const set = await linphonec('udp');
    await set.registration('LinphoneRegistrationOk');
    set.play(tone(440));
    set.record(linphoneHeard);
    const bob = psiPhone(['call', ALICE.user, ...psiAccount(), '--play', 'tone:1000', '--record', bobHeard, '--seconds', '3', '--timeout', '20']);
    const incoming = await set.incoming(PSI_PHONE_START_MS);
    expect(incoming.from).toContain(`sip:${BOB.user}@`);
    set.answer(incoming.id);
    await set.connected(incoming.id);
    expect(await set.ended(incoming.id, 20_000)).toBe('No error');
    expect(await within(bob.done, EVENT_LIMIT_MS, 'psi-phone to exit')).toMatchObject({ code: 0, stderr: '' });
    expect(bob.events.find((e) => e.event === 'summary')).toMatchObject({ exitCode: 0 });
    await set.stop();

    expectTone(await readWav(bobHeard), 440, 1000);
    expectTone(readLinphoneRecording(linphoneHeard), 1000, 440);
    // The gateway's offer names the gateway (psi-phone's address stays hidden); linphonec's answer, its own address.
    expect(new Set(sdpAddresses(sdpOf(traced(set, 'in', /^INVITE /))))).toEqual(new Set([lab.host]));
    expect(new Set(sdpAddresses(sdpOf(traced(set, 'out', /^SIP\/2\.0 200 /, /^CSeq: \d+ INVITE/m))))).toEqual(new Set([set.options.address]));
    expectLoopbackOnly(set);
  }, CALL_LIMIT_MS);

  it('is called by psi-phone over TLS, its RTP bound where its TLS connection leaves from: each hears the other\'s tone; it hangs up and psi-phone sees it', async () => {
    const bobHeard = join(dir, 'psi-phone-heard-linphonec-3.wav');
    const linphoneHeard = join(dir, 'linphonec-heard-psi-phone-3.wav');
    const rtpAddress = await sourceAddressToward(lab.host);
    const set = await linphonec('tls', { rtpAddress });
    await set.registration('LinphoneRegistrationOk');
    const [listed] = await registrationsOf(ALICE.user);
    expect(listed).toMatchObject({ transport: 'TLS', source: expect.stringMatching(new RegExp(`^${rtpAddress.replaceAll('.', '\\.')}:\\d+$`)) });
    set.play(tone(440));
    set.record(linphoneHeard);
    const bob = psiPhone(['call', ALICE.user, ...psiAccount(), '--play', 'tone:1000', '--record', bobHeard, '--seconds', '30', '--timeout', '20']);
    const incoming = await set.incoming(PSI_PHONE_START_MS);
    set.answer(incoming.id);
    await set.connected(incoming.id);
    await set.recorded(linphoneHeard, 3);
    set.terminate(incoming.id);
    expect(await set.ended(incoming.id)).toBe('No error');
    // psi-phone's exit code for "connected, but the other side hung up before --seconds".
    expect(await within(bob.done, EVENT_LIMIT_MS, 'psi-phone to exit')).toMatchObject({ code: 4 });
    expect(bob.events.find((e) => e.event === 'summary')).toMatchObject({ exitCode: 4, outcome: 'answered', detail: expect.stringContaining(`${ALICE.user} hung up`) });
    await set.stop();

    expectTone(await readWav(bobHeard), 440, 1000);
    expectTone(readLinphoneRecording(linphoneHeard), 1000, 440);
    expect(new Set(sdpAddresses(sdpOf(traced(set, 'in', /^INVITE /))))).toEqual(new Set([lab.host]));
    expect(new Set(sdpAddresses(sdpOf(traced(set, 'out', /^SIP\/2\.0 200 /, /^CSeq: \d+ INVITE/m))))).toEqual(new Set([rtpAddress]));
    expectLoopbackOnly(set);
  }, CALL_LIMIT_MS);
});
