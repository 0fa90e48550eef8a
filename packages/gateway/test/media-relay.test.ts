import dgram from 'node:dgram';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SessionDescription } from '@psi-lab/media';
import { leaseLoopbackAddress } from '@psi-lab/testkit';
import { MediaRelay, RtpPortPool, RtpPortsExhaustedError, type MediaSession } from '../src/media/index.js';

/** Relay, pools and endpoints: an address of this file's own, so every port below is ours to take. */
const HOST = await leaseLoopbackAddress();
/** Where the RTP-bleed attacker sends from: not the set's signalling address. */
const ATTACKER_HOST = await leaseLoopbackAddress();
/** Long enough for a loaded machine to deliver one datagram over loopback. */
const DELIVERY_LIMIT_MS = 5000;
// Gateway pool, fixed endpoint ports, small pools: apart, so no test's ports meet another's.
const POOL = { min: 41200, max: 41299 };
const SET_ENDPOINT_PORT = 41300;
const REUSE_POOL = { min: 41350, max: 41353 };
const EXHAUST_POOL = { min: 41360, max: 41365 };

interface Datagram {
  msg: Buffer;
  port: number;
}

/** A UDP socket on HOST standing in for a phone's or the pbx's media port. */
class Endpoint {
  private readonly queue: Datagram[] = [];
  private readonly waiters: Array<(d: Datagram) => void> = [];

  private constructor(readonly socket: dgram.Socket) {
    socket.on('message', (msg, rinfo) => {
      const datagram = { msg, port: rinfo.port };
      const waiter = this.waiters.shift();
      if (waiter) waiter(datagram);
      else this.queue.push(datagram);
    });
  }

  static open(port = 0, host = HOST): Promise<Endpoint> {
    const socket = dgram.createSocket('udp4');
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => resolve(new Endpoint(socket)));
    });
  }

  get port(): number {
    return this.socket.address().port;
  }

  get pending(): number {
    return this.queue.length;
  }

  send(payload: string | Buffer, port: number): Promise<void> {
    const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
    return new Promise((resolve, reject) => this.socket.send(data, port, HOST, (err) => (err ? reject(err) : resolve())));
  }

  /** The next datagram that arrives (or has arrived); rejects, saying so, after `timeoutMs`. */
  next(timeoutMs = DELIVERY_LIMIT_MS): Promise<Datagram> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const waiter = (d: Datagram): void => {
        clearTimeout(timer);
        resolve(d);
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no datagram reached ${HOST}:${this.port} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

const sdp = (origin: string, port: number, ...attributes: string[]): string => sdpAt(HOST, origin, port, ...attributes);
const sdpAt = (host: string, origin: string, port: number, ...attributes: string[]): string =>
  [`v=0`, `o=${origin} 1 1 IN IP4 ${host}`, 's=-', `c=IN IP4 ${host}`, 't=0 0', `m=audio ${port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', ...attributes]
    .map((l) => `${l}\r\n`)
    .join('');

const audioPort = (text: Buffer): number => SessionDescription.parse(text).media[0].port;

describe('MediaRelay over real UDP', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()!();
  });

  async function endpoint(port = 0, host = HOST): Promise<Endpoint> {
    const e = await Endpoint.open(port, host);
    cleanups.push(() => e.close());
    return e;
  }

  function relay(range = POOL, isTrustedNetwork?: (address: string) => boolean): MediaRelay {
    const r = new MediaRelay({ setSideAddress: HOST, pbxSideAddress: HOST, portMin: range.min, portMax: range.max, isTrustedNetwork });
    cleanups.push(() => r.close());
    return r;
  }

  /** A set (RTP on a fixed port, RTCP on port + 1) calls the pbx (RTCP on its own a=rtcp port). */
  async function establishedCall(): Promise<{ session: MediaSession; r: MediaRelay; set: Endpoint; setRtcp: Endpoint; pbx: Endpoint; pbxRtcp: Endpoint; gwSet: number; gwPbx: number }> {
    const [set, setRtcp, pbx, pbxRtcp] = await Promise.all([endpoint(SET_ENDPOINT_PORT), endpoint(SET_ENDPOINT_PORT + 1), endpoint(), endpoint()]);
    const r = relay();
    const session = r.createSession('call-1');
    const gwPbx = audioPort(await session.rewrite('set', sdp('set', set.port)));
    const gwSet = audioPort(await session.rewrite('pbx', sdp('pbx', pbx.port, `a=rtcp:${pbxRtcp.port}`)));
    return { session, r, set, setRtcp, pbx, pbxRtcp, gwSet, gwPbx };
  }

  it('relays RTP both ways, payload intact, from the gateway ports', async () => {
    const { session, r, set, pbx, gwSet, gwPbx } = await establishedCall();
    expect(session.localPorts('set')[0]?.rtp).toBe(gwSet);
    expect(session.localPorts('pbx')[0]?.rtp).toBe(gwPbx);

    await set.send('hello from the set', gwSet);
    const atPbx = await pbx.next();
    expect(atPbx.msg.toString()).toBe('hello from the set');
    expect(atPbx.port).toBe(gwPbx);

    await pbx.send('hello from the pbx!', gwPbx);
    const atSet = await set.next();
    expect(atSet.msg.toString()).toBe('hello from the pbx!');
    expect(atSet.port).toBe(gwSet);

    expect(session.stats).toEqual({ setToPbx: { packets: 1, bytes: 18 }, pbxToSet: { packets: 1, bytes: 19 }, dropped: 0, refused: { set: 0, pbx: 0 }, received: { set: 1, pbx: 1 } });
    expect(r.stats).toEqual({ sessions: 1, activeSessions: 1, packets: 2, bytes: 37, sessionsMediaRefused: 0 });
  });

  it('relays RTCP between the RTCP ports (port + 1 and a=rtcp)', async () => {
    const { set, setRtcp, pbx, pbxRtcp, gwSet, gwPbx } = await establishedCall();
    await setRtcp.send('set RTCP', gwSet + 1);
    const atPbx = await pbxRtcp.next();
    expect(atPbx.msg.toString()).toBe('set RTCP');
    expect(atPbx.port).toBe(gwPbx + 1);

    await pbxRtcp.send('pbx RTCP', gwPbx + 1);
    expect((await setRtcp.next()).msg.toString()).toBe('pbx RTCP');
    expect(set.pending + pbx.pending).toBe(0);
  });

  it('relays muxed RTCP over the RTP ports when both sides use rtcp-mux', async () => {
    const [set, pbx] = await Promise.all([endpoint(), endpoint()]);
    const session = relay().createSession('mux');
    const gwPbx = audioPort(await session.rewrite('set', sdp('set', set.port, 'a=rtcp-mux')));
    const answer = (await session.rewrite('pbx', sdp('pbx', pbx.port, 'a=rtcp-mux'))).toString();
    expect(answer).toContain('a=rtcp-mux\r\n');
    const gwSet = audioPort(Buffer.from(answer));
    const rtcpSenderReport = Buffer.from([0x80, 200, 0, 6, 1, 2, 3, 4]);
    await set.send(rtcpSenderReport, gwSet);
    expect((await pbx.next()).msg).toEqual(rtcpSenderReport);
    await pbx.send('rtp back', gwPbx);
    expect((await set.next()).msg.toString()).toBe('rtp back');
  });

  it('drops, and counts, packets sent before the other side is known', async () => {
    const set = await endpoint();
    const session = relay().createSession('early');
    await session.rewrite('set', sdp('set', set.port));
    const gwSet = session.localPorts('set')[0]!.rtp;
    await set.send('too early', gwSet);
    await vi.waitFor(() => expect(session.stats.dropped).toBe(1), { timeout: DELIVERY_LIMIT_MS });
    expect(session.stats.setToPbx.packets).toBe(0);
  });

  it('latches to where the set really sends from (NAT) and ignores other sources', async () => {
    const [advertised, natted, intruder, pbx] = await Promise.all([endpoint(), endpoint(), endpoint(), endpoint()]);
    const session = relay().createSession('nat');
    const gwPbx = audioPort(await session.rewrite('set', sdp('set', advertised.port)));
    const gwSet = audioPort(await session.rewrite('pbx', sdp('pbx', pbx.port)));

    await natted.send('first', gwSet);
    expect((await pbx.next()).msg.toString()).toBe('first');
    await pbx.send('reply', gwPbx);
    expect((await natted.next()).msg.toString()).toBe('reply');

    await intruder.send('injected', gwSet);
    await vi.waitFor(() => expect(session.stats.dropped).toBe(1), { timeout: DELIVERY_LIMIT_MS });
    await natted.send('second', gwSet);
    expect((await pbx.next()).msg.toString()).toBe('second');
    expect(advertised.pending + intruder.pending).toBe(0);

    // A new SDP from the set (re-INVITE) lets it latch again, from wherever it now sends.
    const reoffer = await session.rewrite('set', sdp('set', advertised.port));
    expect(audioPort(reoffer)).toBe(gwPbx);
    await intruder.send('after re-offer', gwSet);
    expect((await pbx.next()).msg.toString()).toBe('after re-offer');
    await pbx.send('to the new source', gwPbx);
    expect((await intruder.next()).msg.toString()).toBe('to the new source');
    expect(natted.pending).toBe(0);
  });

  it('takes media only from the set\'s signalling address and the pbx\'s SDP address: a port sprayer latches nothing (RTP bleed)', async () => {
    const { session, set, pbx, gwSet, gwPbx } = await establishedCall();
    session.trustSetAddress(HOST);
    const attacker = dgram.createSocket('udp4');
    await new Promise<void>((r) => attacker.bind(0, ATTACKER_HOST, r));
    cleanups.push(() => new Promise((r) => attacker.close(() => r(undefined))));
    const heardByAttacker: Buffer[] = [];
    attacker.on('message', (m) => heardByAttacker.push(m));
    // The attacker gets there first, on both sides.
    await new Promise((r) => attacker.send('spoofed-set', gwSet, HOST, r));
    await new Promise((r) => attacker.send('spoofed-pbx', gwPbx, HOST, r));
    // Both spoofed packets were read and dropped, not relayed.
    await vi.waitFor(() => expect(session.stats.dropped).toBe(2), { timeout: DELIVERY_LIMIT_MS });
    expect(pbx.pending + set.pending).toBe(0);
    // The real endpoints are relayed, and the attacker hears nothing.
    await set.send('from-set', gwSet);
    expect((await pbx.next()).msg.toString()).toBe('from-set');
    await pbx.send('from-pbx', gwPbx);
    expect((await set.next()).msg.toString()).toBe('from-pbx');
    // Nothing latched to the attacker: no more drops, and what was relayed went to the real endpoints.
    expect(heardByAttacker).toEqual([]);
    expect(session.stats.dropped).toBe(2);
  });

  it('a multi-homed set whose media all comes from another address than its signalling: dropped, warned about once, counted', async () => {
    const [media, pbx] = await Promise.all([endpoint(0, ATTACKER_HOST), endpoint()]);
    const r = relay();
    const session = r.createSession('multi-homed');
    session.trustSetAddress(HOST);
    await session.rewrite('set', sdpAt(ATTACKER_HOST, 'set', media.port));
    const gwSet = audioPort(await session.rewrite('pbx', sdp('pbx', pbx.port)));
    for (let i = 0; i < 60; i++) await media.send(`frame ${i}`, gwSet);
    await vi.waitFor(() => expect(session.stats.refused.set).toBe(60), { timeout: DELIVERY_LIMIT_MS });
    expect(session.stats.setToPbx.packets).toBe(0);
    expect(pbx.pending).toBe(0);
    expect(session.stats.warning).toBe(`the set's media comes from ${ATTACKER_HOST}, not from its signalling address ${HOST}: all dropped (media.trustedNetworks lets a set's media in from other networks)`);
    expect(r.stats.sessionsMediaRefused).toBe(1);
  });

  it('media.trustedNetworks: a set\'s media from a trusted network is taken, and its SDP address there sent to, besides its signalling address', async () => {
    const [media, pbx] = await Promise.all([endpoint(0, ATTACKER_HOST), endpoint()]);
    const r = relay(POOL, (address) => address === ATTACKER_HOST);
    const session = r.createSession('trusted-network');
    session.trustSetAddress(HOST);
    const gwPbx = audioPort(await session.rewrite('set', sdpAt(ATTACKER_HOST, 'set', media.port)));
    const gwSet = audioPort(await session.rewrite('pbx', sdp('pbx', pbx.port)));
    // The pbx may speak first: the SDP address is where the set listens.
    await pbx.send('to the set', gwPbx);
    expect((await media.next()).msg.toString()).toBe('to the set');
    await media.send('from the set', gwSet);
    expect((await pbx.next()).msg.toString()).toBe('from the set');
    expect(session.stats.refused.set).toBe(0);
    expect(session.stats.warning).toBeUndefined();
  });

  it('keeps the gateway ports across a re-offer and follows the new destination', async () => {
    const { session, set, gwSet, gwPbx } = await establishedCall();
    const moved = await endpoint();
    const reoffer = await session.rewrite('pbx', sdp('pbx', moved.port));
    expect(audioPort(reoffer)).toBe(gwSet);
    expect(session.localPorts('pbx')[0]?.rtp).toBe(gwPbx);
    await set.send('to the moved pbx', gwSet);
    expect((await moved.next()).msg.toString()).toBe('to the moved pbx');
  });

  it('returns ports on close, so a new session can take them', async () => {
    const set = await endpoint();
    const r = relay(REUSE_POOL);
    const first = r.createSession('first');
    await first.rewrite('set', sdp('set', set.port));
    const ports = [first.localPorts('set')[0], first.localPorts('pbx')[0]];

    const second = r.createSession('second');
    await expect(second.rewrite('set', sdp('set', set.port))).rejects.toThrow(RtpPortsExhaustedError);

    await first.close();
    await first.close();
    expect(first.closed).toBe(true);
    await expect(first.rewrite('set', sdp('set', set.port))).rejects.toThrow(/media session first is closed/);
    expect(r.stats.activeSessions).toBe(1);

    await second.rewrite('set', sdp('set', set.port));
    const reused = [second.localPorts('set')[0], second.localPorts('pbx')[0]];
    expect(reused.map((p) => p?.rtp).sort()).toEqual(ports.map((p) => p?.rtp).sort());
  });
});

describe('RtpPortPool', () => {
  it('hands out even pairs, skips ports in use elsewhere, and says when it is exhausted', async () => {
    // Another process's socket on the middle pair's RTP port.
    const foreign = await Endpoint.open(EXHAUST_POOL.min + 2);
    const pool = new RtpPortPool(EXHAUST_POOL.min, EXHAUST_POOL.max);
    try {
      const a = await pool.allocate(HOST);
      const b = await pool.allocate(HOST);
      expect([a.rtpPort, b.rtpPort]).toEqual([EXHAUST_POOL.min, EXHAUST_POOL.min + 4]);
      expect([a.rtcpPort, b.rtcpPort]).toEqual([EXHAUST_POOL.min + 1, EXHAUST_POOL.min + 5]);
      expect(pool.inUse(HOST)).toBe(2);
      const exhausted = pool.allocate(HOST);
      await expect(exhausted).rejects.toThrow(RtpPortsExhaustedError);
      await expect(exhausted).rejects.toThrow(`no free RTP port pair in ${EXHAUST_POOL.min}–${EXHAUST_POOL.max} on ${HOST}`);

      await pool.release(b);
      const again = await pool.allocate(HOST);
      expect(again.rtpPort).toBe(EXHAUST_POOL.min + 4);
      await Promise.all([pool.release(a), pool.release(again)]);
      expect(pool.inUse(HOST)).toBe(0);
    } finally {
      await foreign.close();
    }
  });

  it('refuses a range without an even/odd pair', () => {
    expect(() => new RtpPortPool(41371, 41371)).toThrow(/holds no even\/odd port pair/);
    expect(() => new RtpPortPool(41380, 41370)).toThrow(RangeError);
  });
});
