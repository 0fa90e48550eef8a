/**
 * A multi-homed set: baresip signals from one address, names another in its SDP, and sends
 * its RTP from whichever the route picks (its RTP socket is bound to every address: toward
 * loopback that is 127.0.0.1). By default the gateway takes a set's media only from its signalling
 * address, so such a call has no audio either way: the gateway must say so at once (a warning
 * in its log, a counter, the call flagged on the status page). With the media address's network
 * trusted (`media.trustedNetworks`, the lab's `--media-network`), the call has its audio.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { audioFrames, framesWithTone, readWav } from '@psi-lab/media';
import { Phone, type Call } from '@psi-lab/softphone';
import { ALICE, BOB, describeIfTool, leaseLoopbackAddress, startLabUnderTest, waitFor, within, type LabUnderTest } from '@psi-lab/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Baresip } from '../src/index.js';

interface CallView {
  user: string;
  peer: string;
  media: { fromSet: number; toSet: number; refused: number };
  warning?: string;
}

/** The lab (with `labArgs`), psi-phone as Bob, and baresip as Alice on two addresses of its own. */
function multiHomedCall(labArgs: (mediaAddress: string) => string[]): { lab: () => LabUnderTest; call: () => Promise<{ set: Baresip; bobCall: Call; bobHeard: string; mediaAddress: string }> } {
  let lab: LabUnderTest;
  let bob: Phone;
  let dir: string;
  let mediaAddress: string;
  const sets: Baresip[] = [];
  beforeAll(async () => {
    mediaAddress = await leaseLoopbackAddress();
    lab = await startLabUnderTest(labArgs(mediaAddress));
    dir = mkdtempSync(join(tmpdir(), 'psi-interop-multi-homed-'));
    bob = new Phone({ ...BOB, servers: [`tls://${lab.host}:5061`], ca: lab.process.ca() });
    expect(await bob.register()).toBe('Registered');
  }, 60_000);
  afterAll(async () => {
    await Promise.all(sets.map((s) => s.stop()));
    await bob?.close();
    await lab?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return {
    lab: () => lab,
    call: async () => {
      // UDP: baresip signals from its listening socket, so from `address`; its RTP leaves from mediaAddress.
      const set = await Baresip.start({
        ...ALICE, transport: 'udp', gateway: lab.host, address: await leaseLoopbackAddress(), mediaAddress, caFile: lab.process.caFile(), toneHz: 1000,
      });
      sets.push(set);
      const bobHeard = join(dir, 'bob-heard.wav');
      const incoming = new Promise<Call>((resolve) => bob.once('incoming', resolve));
      bob.once('incoming', (c) => void bob.answer(c, { play: 'tone:440', record: bobHeard }));
      await set.command('dial', `sip:${BOB.user}@${lab.host}`);
      await set.waitEvent((e) => e.type === 'CALL_ESTABLISHED', 'the call to be answered');
      const bobCall = await within(incoming, 10_000, 'psi-phone to ring');
      return { set, bobCall, bobHeard, mediaAddress };
    },
  };
}

async function aliceCall(lab: LabUnderTest): Promise<CallView | undefined> {
  return (await lab.admin<CallView[]>('/api/calls')).find((c) => c.user === ALICE.user);
}

const ended = (call: Call): Promise<void> =>
  within(new Promise((r) => (call.state === 'ended' ? r() : call.once('ended', () => r()))), 10_000, 'psi-phone\'s call to end');

describeIfTool('baresip', 'baresip', 'a multi-homed baresip, with the gateway\'s defaults', () => {
  const { lab, call } = multiHomedCall(() => []);

  it('gets a connected call with no media, and the gateway says so: log warning, counter, the call flagged on the status page', async () => {
    const { set, bobCall } = await call();
    let view: CallView | undefined;
    const deadline = Date.now() + 15_000;
    while (!(view = await aliceCall(lab()))?.warning) {
      if (Date.now() > deadline) throw new Error(`the gateway never flagged the call: ${JSON.stringify(view)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(view.warning).toMatch(/^the set's media comes from 127\.0\.0\.1, not from its signalling address 127\./);
    expect(view.media.refused).toBeGreaterThanOrEqual(50);
    expect(view.media.fromSet).toBe(0);
    expect((await lab().admin<{ callsMediaRefused: number }>('/api/counters')).callsMediaRefused).toBe(1);
    const page = await lab().https(`https://${lab().internal}:9080/`, { token: lab().process.adminToken() });
    expect(page.body).toContain('<span class="error">the set&#39;s media comes from 127.0.0.1, not from its signalling address');
    // The warning is in the lab's log (the lab logs warnings and above).
    await waitFor(() => lab().process.output().includes('call without media'), 10_000, 'the warning in the gateway\'s log');
    // Nothing of baresip's tone reached psi-phone.
    expect(bobCall.mediaStatistics?.packetsReceived ?? 0).toBe(0);
    await set.command('hangup');
    await ended(bobCall);
  });
});

describeIfTool('baresip', 'baresip', 'a multi-homed baresip, its media network trusted (--media-network)', () => {
  // Both of its media addresses, the one its SDP names and the one its packets come from.
  const { lab, call } = multiHomedCall((mediaAddress) => ['--media-network', `${mediaAddress}/32`, '--media-network', '127.0.0.1/32']);

  it('has its audio both ways: the gateway takes its media from the trusted network', async () => {
    const { set, bobCall, bobHeard } = await call();
    await waitFor(() => (bobCall.mediaStatistics?.packetsReceived ?? 0) >= 100, 15_000, () => `baresip's audio at psi-phone (${bobCall.mediaStatistics?.packetsReceived ?? 0} packets)`);
    const view = await aliceCall(lab());
    expect(view?.warning).toBeUndefined();
    expect(view?.media.refused).toBe(0);
    await set.command('hangup');
    await set.waitEvent((e) => e.type === 'CALL_CLOSED', 'its call to close');
    await ended(bobCall);
    const heardByBob = audioFrames((await readWav(bobHeard)).samples);
    const heardByBaresip = audioFrames((await readWav(set.recordings('dec').at(-1)!)).samples);
    expect(framesWithTone(heardByBob, 1000)).toBeGreaterThan(0.8 * heardByBob.length);
    expect(heardByBaresip.length).toBeGreaterThanOrEqual(50);
    expect(framesWithTone(heardByBaresip, 440)).toBeGreaterThan(0.8 * heardByBaresip.length);
    expect((await lab().admin<{ callsMediaRefused: number }>('/api/counters')).callsMediaRefused).toBe(0);
  });
});
