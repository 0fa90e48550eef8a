import { describe, expect, it } from 'vitest';
import { JitterBuffer, type JitterFrame } from '../src/jitter/index.js';
import { RtpPacket } from '../src/rtp/index.js';

const SSRC = 0x5151;

/** Packet n of a 20 ms PCMU stream whose first packet is `firstSeq`; the payload names n. */
function frame(n: number, firstSeq = 1000, ssrc = SSRC): RtpPacket {
  const payload = Buffer.alloc(160, n & 0xff);
  payload.writeUInt16BE(n & 0xffff, 0);
  return new RtpPacket({ payloadType: 0, sequenceNumber: (firstSeq + n) & 0xffff, timestamp: (50_000 + n * 160) >>> 0, ssrc, payload });
}

/** Which frame a played payload carries (see `frame`), 'lost', or '-' while buffering. */
function label(out: JitterFrame): number | string {
  if (out.status === 'played') return (out.payload as Buffer).readUInt16BE(0);
  return out.status === 'lost' ? 'lost' : '-';
}

/**
 * Runs the playout clock: at tick t, the packets scheduled for t are pushed (arrival t × 20 ms),
 * then one frame is popped. Returns the labels of what was played.
 */
function run(buffer: JitterBuffer, schedule: Map<number, RtpPacket[]>, ticks: number): (number | string)[] {
  const played: (number | string)[] = [];
  for (let t = 0; t < ticks; t++) {
    for (const packet of schedule.get(t) ?? []) buffer.push(packet, t * 20);
    played.push(label(buffer.pop()));
  }
  return played;
}

/** One packet per tick: frames[t] arrives at tick t. */
function steady(frames: (RtpPacket | RtpPacket[] | undefined)[]): Map<number, RtpPacket[]> {
  const schedule = new Map<number, RtpPacket[]>();
  frames.forEach((f, t) => { if (f) schedule.set(t, Array.isArray(f) ? f : [f]); });
  return schedule;
}

describe('JitterBuffer', () => {
  it('plays an in-order stream after the 60 ms playout delay', () => {
    const buffer = new JitterBuffer();
    const played = run(buffer, steady([0, 1, 2, 3, 4, 5].map((n) => frame(n))), 9);
    expect(played).toEqual(['-', '-', '-', 0, 1, 2, 3, 4, 5]);
    expect(buffer.stats).toMatchObject({ received: 6, played: 6, lost: 0, late: 0, duplicate: 0, reordered: 0, jitterMs: 0 });
  });

  it('returns timestamps and sequence numbers of the played frames', () => {
    const buffer = new JitterBuffer({ depthMs: 0 });
    buffer.push(frame(0), 0);
    expect(buffer.pop()).toMatchObject({ status: 'played', sequenceNumber: 1000, timestamp: 50_000 });
  });

  it('puts packets reordered within the depth back in order', () => {
    const buffer = new JitterBuffer();
    const order = [frame(0), frame(2), frame(1), frame(4), frame(5), frame(3), frame(6)];
    const played = run(buffer, steady(order), 10);
    expect(played).toEqual(['-', '-', '-', 0, 1, 2, 3, 4, 5, 6]);
    expect(buffer.stats).toMatchObject({ reordered: 2, lost: 0, late: 0 });
    expect(buffer.stats.jitterMs).toBeGreaterThan(0);
  });

  it('drops duplicates, whether still queued or already played', () => {
    const buffer = new JitterBuffer();
    const arrivals = [frame(0), [frame(1), frame(1)], frame(2), frame(3), [frame(4), frame(0)], frame(5)];
    const played = run(buffer, steady(arrivals), 9);
    expect(played).toEqual(['-', '-', '-', 0, 1, 2, 3, 4, 5]);
    expect(buffer.stats).toMatchObject({ duplicate: 2, played: 6, received: 8 });
    expect(buffer.push(frame(2), 200)).toBe('duplicate');
  });

  it('reports a lost frame in its slot and keeps the rest in time', () => {
    const buffer = new JitterBuffer();
    const arrivals = [0, 1, 2, undefined, 4, 5, 6].map((n) => (n === undefined ? undefined : frame(n)));
    const played = run(buffer, steady(arrivals), 10);
    expect(played).toEqual(['-', '-', '-', 0, 1, 2, 'lost', 4, 5, 6]);
    expect(buffer.stats).toMatchObject({ lost: 1, played: 6 });
  });

  it('gives a lost frame the expected timestamp and sequence number', () => {
    const buffer = new JitterBuffer({ depthMs: 0 });
    buffer.push(frame(0), 0);
    buffer.push(frame(2), 0);
    buffer.pop();
    expect(buffer.pop()).toEqual({ status: 'lost', payload: undefined, timestamp: 50_160, sequenceNumber: 1001, marker: false });
  });

  it('drops a packet that arrives after its slot was played as lost', () => {
    const buffer = new JitterBuffer();
    // Frame 3 is 100 ms late: beyond the 60 ms depth.
    const arrivals = [frame(0), frame(1), frame(2), undefined, frame(4), frame(5), frame(6), [frame(7), frame(3)], frame(8)];
    const played = run(buffer, steady(arrivals), 12);
    expect(played).toEqual(['-', '-', '-', 0, 1, 2, 'lost', 4, 5, 6, 7, 8]);
    expect(buffer.stats).toMatchObject({ late: 1, lost: 1, duplicate: 0 });
  });

  it('plays through the 16-bit sequence wrap, reordered across it', () => {
    const buffer = new JitterBuffer();
    const first = 65533;
    const order = [0, 1, 3, 2, 4, 5, 6].map((n) => frame(n, first));
    expect(order.map((p) => p.sequenceNumber)).toEqual([65533, 65534, 0, 65535, 1, 2, 3]);
    const played = run(buffer, steady(order), 10);
    expect(played).toEqual(['-', '-', '-', 0, 1, 2, 3, 4, 5, 6]);
    expect(buffer.stats).toMatchObject({ lost: 0, reordered: 1, late: 0 });
  });

  it('resynchronises on a new SSRC, dropping the old stream', () => {
    const buffer = new JitterBuffer();
    const arrivals = [frame(0), frame(1), frame(2), frame(3), frame(0, 7, 0xbeef), frame(1, 7, 0xbeef), frame(2, 7, 0xbeef), frame(3, 7, 0xbeef)];
    const played = run(buffer, steady(arrivals), 11);
    expect(played).toEqual(['-', '-', '-', 0, '-', '-', '-', 0, 1, 2, 3]);
    expect(buffer.push(frame(9, 7, 0xbeef), 300)).toBe('queued');
    expect(buffer.stats).toMatchObject({ resyncs: 1, lost: 0 });
  });

  it('resynchronises on a sequence jump confirmed by the next packet, ignoring a lone stray', () => {
    const buffer = new JitterBuffer({ depthMs: 0 });
    buffer.push(frame(0), 0);
    expect(label(buffer.pop())).toBe(0);
    expect(buffer.push(frame(30_000), 20)).toBe('held');
    expect(buffer.push(frame(1), 20)).toBe('queued');
    expect(label(buffer.pop())).toBe(1);
    expect(buffer.stats.stray).toBe(1);

    expect(buffer.push(frame(20_000), 40)).toBe('held');
    expect(buffer.push(frame(20_001), 40)).toBe('resync');
    expect(buffer.stats.resyncs).toBe(1);
    expect([label(buffer.pop()), label(buffer.pop())]).toEqual([20_000 & 0xffff, 20_001 & 0xffff]);
  });

  it('re-buffers after running dry instead of counting a pause as loss', () => {
    const buffer = new JitterBuffer();
    // Talk spurt 0..2, silence (no packets, sequence continues), then 3..5.
    const arrivals = [frame(0), frame(1), frame(2), undefined, undefined, undefined, undefined, undefined, frame(3), frame(4), frame(5)];
    const played = run(buffer, steady(arrivals), 14);
    expect(played).toEqual(['-', '-', '-', 0, 1, 2, '-', '-', '-', '-', '-', 3, 4, 5]);
    expect(buffer.stats).toMatchObject({ lost: 0, played: 6 });
  });

  it('bounds the delay when packets pile up', () => {
    const buffer = new JitterBuffer({ depthMs: 40, maxDepthMs: 100 });
    // A burst of 12 frames at once: only the newest 5 (100 ms) are kept for playout.
    const burst = Array.from({ length: 12 }, (_, n) => frame(n));
    const played = run(buffer, steady([burst]), 8);
    expect(played).toEqual(['-', '-', 7, 8, 9, 10, 11, '-']);
    expect(buffer.stats).toMatchObject({ overflow: 7, played: 5, lost: 0 });
  });
});
