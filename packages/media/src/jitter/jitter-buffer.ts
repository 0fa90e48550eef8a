import { RtpError, seqAdd, seqDistance, seqNewer, type RtpPacket } from '../rtp/index.js';

export interface JitterBufferOptions {
  /** Playout delay: how long the first packet waits before playing, absorbing jitter. */
  depthMs?: number;
  /** Audio per packet; `pop()` is called once per frame. */
  frameMs?: number;
  clockRate?: number;
  /** A sequence jump beyond this many frames is treated as a stream restart (resync). */
  maxGapFrames?: number;
  /** Queued audio beyond this (default 4 × depth, at least 200 ms) is dropped, oldest first, to bound delay. */
  maxDepthMs?: number;
}

/** 'buffering': nothing to play yet (start, or after running dry); 'lost': the frame never came. */
export type JitterFrameStatus = 'played' | 'lost' | 'buffering';

/** What to play for one frame tick. */
export interface JitterFrame {
  status: JitterFrameStatus;
  /** The frame's payload; undefined when lost or buffering: the caller conceals with silence. */
  payload: Buffer | undefined;
  /** RTP timestamp of the frame (estimated for lost frames; next expected while buffering). */
  timestamp: number;
  sequenceNumber: number;
  marker: boolean;
}

export interface JitterStats {
  received: number;
  played: number;
  lost: number;
  /** Arrived after their slot was played as lost. */
  late: number;
  duplicate: number;
  /** Arrived after a packet with a higher sequence number (and still in time). */
  reordered: number;
  /** New SSRC or confirmed sequence jump. */
  resyncs: number;
  /** Dropped because the queue held more than maxDepthMs. */
  overflow: number;
  /** Lone packets far off the sequence that the next packet did not confirm. */
  stray: number;
  /** RFC 3550 A.8 interarrival jitter estimate, in milliseconds. */
  jitterMs: number;
}

/** How the buffer handled a pushed packet. */
export type JitterPushResult = 'queued' | 'resync' | 'duplicate' | 'late' | 'held';

const PLAYED_MEMORY = 64;

/**
 * A fixed-delay jitter buffer for one incoming audio stream of equal-length frames. Packets
 * are queued by sequence number (16-bit wrap aware) as they arrive; `pop()` runs on the
 * playout clock, once per frame, and returns the next frame in order, or a lost frame when its
 * packet is missing while later ones are already here. Playout starts `depthMs` after the
 * first packet and again after the queue ran dry, so pauses (DTX, hold) re-buffer instead of
 * counting as loss. A new SSRC, or a sequence jump confirmed by the following packet, restarts.
 */
export class JitterBuffer {
  private readonly depthFrames: number;
  private readonly frameSamples: number;
  private readonly msPerUnit: number;
  private readonly maxGapFrames: number;
  private readonly maxFrames: number;
  private readonly queue = new Map<number, RtpPacket>();
  private readonly recentlyPlayed: number[] = [];
  private readonly counters: JitterStats = zeroStats();
  private ssrc: number | undefined;
  private highestSeq: number | undefined;
  private started = false;
  private playing = false;
  private primeTicks = 0;
  private nextSeq = 0;
  private nextTimestamp = 0;
  private jumpProbe: RtpPacket | undefined;
  private lastTransitMs: number | undefined;

  constructor(options: JitterBufferOptions = {}) {
    const depthMs = options.depthMs ?? 60;
    const frameMs = options.frameMs ?? 20;
    const clockRate = options.clockRate ?? 8000;
    if (!(frameMs > 0) || !(depthMs >= 0) || !(clockRate > 0)) {
      throw new RtpError(`JitterBuffer: invalid depthMs ${depthMs} / frameMs ${frameMs} / clockRate ${clockRate}`);
    }
    this.depthFrames = Math.round(depthMs / frameMs);
    this.frameSamples = Math.round((frameMs * clockRate) / 1000);
    this.msPerUnit = 1000 / clockRate;
    this.maxGapFrames = options.maxGapFrames ?? 50;
    this.maxFrames = Math.max(this.depthFrames + 1, Math.round((options.maxDepthMs ?? Math.max(depthMs * 4, 200)) / frameMs));
  }

  /** Counters since construction (jitterMs: of the current stream). */
  get stats(): Readonly<JitterStats> {
    return { ...this.counters };
  }

  /** Packets waiting to be played. */
  get buffered(): number {
    return this.queue.size;
  }

  /** Offers a received packet; `arrivalMs` is the local clock at arrival (for the jitter estimate). */
  push(packet: RtpPacket, arrivalMs: number): JitterPushResult {
    const seq = packet.sequenceNumber;
    let result: JitterPushResult = 'queued';
    if (this.ssrc !== packet.ssrc) {
      if (this.ssrc !== undefined) {
        this.counters.resyncs++;
        result = 'resync';
      }
      this.reset(packet.ssrc);
    } else {
      const reference = this.started ? this.nextSeq : (this.lowestQueued() ?? seq);
      const distance = seqDistance(reference, seq);
      if (Math.abs(distance) > this.maxGapFrames) {
        if (!this.jumpProbe || seq !== seqAdd(this.jumpProbe.sequenceNumber, 1)) {
          if (this.jumpProbe) this.counters.stray++;
          this.jumpProbe = packet;
          return 'held';
        }
        const probe = this.jumpProbe;
        this.counters.resyncs++;
        this.reset(packet.ssrc);
        this.enqueue(probe, arrivalMs);
        result = 'resync';
      } else if (this.jumpProbe) {
        this.counters.stray++;
        this.jumpProbe = undefined;
      }
      if (result === 'queued' && this.started && distance < 0) {
        this.counters.received++;
        const kind = this.recentlyPlayed.includes(seq) ? 'duplicate' : 'late';
        this.counters[kind]++;
        return kind;
      }
      if (this.queue.has(seq)) {
        this.counters.received++;
        this.counters.duplicate++;
        return 'duplicate';
      }
    }
    this.enqueue(packet, arrivalMs);
    return result;
  }

  private enqueue(packet: RtpPacket, arrivalMs: number): void {
    const seq = packet.sequenceNumber;
    this.counters.received++;
    if (this.highestSeq === undefined || seqNewer(seq, this.highestSeq)) this.highestSeq = seq;
    else this.counters.reordered++;
    this.queue.set(seq, packet);
    this.updateJitter(packet.timestamp, arrivalMs);
  }

  /** The frame to play now; call exactly once per frame tick. */
  pop(): JitterFrame {
    if (!this.playing && !this.startPlayout()) return this.emptyFrame('buffering');
    this.dropOverflow();
    const packet = this.queue.get(this.nextSeq);
    if (packet) {
      this.queue.delete(this.nextSeq);
      this.counters.played++;
      this.recentlyPlayed.push(this.nextSeq);
      if (this.recentlyPlayed.length > PLAYED_MEMORY) this.recentlyPlayed.shift();
      this.advance(packet.timestamp);
      return { status: 'played', payload: packet.payload, timestamp: packet.timestamp, sequenceNumber: packet.sequenceNumber, marker: packet.marker };
    }
    if (this.queue.size === 0) {
      // Ran dry: the sender paused or the network stalled. Re-buffer rather than count loss.
      this.playing = false;
      this.primeTicks = 0;
      return this.emptyFrame('buffering');
    }
    const lost = this.emptyFrame('lost');
    this.counters.lost++;
    this.advance(this.nextTimestamp);
    return lost;
  }

  /** Counts priming ticks; on the last one, picks where playout starts. */
  private startPlayout(): boolean {
    if (this.queue.size === 0) return false;
    this.primeTicks++;
    if (this.primeTicks <= this.depthFrames) return false;
    const first = this.lowestQueued() as number;
    if (this.started) {
      // Whatever never arrived between the last played frame and the resumption was lost.
      this.counters.lost += Math.max(0, seqDistance(this.nextSeq, first));
    }
    this.nextSeq = first;
    this.nextTimestamp = (this.queue.get(first) as RtpPacket).timestamp;
    this.started = true;
    this.playing = true;
    return true;
  }

  private advance(playedTimestamp: number): void {
    this.nextSeq = seqAdd(this.nextSeq, 1);
    this.nextTimestamp = (playedTimestamp + this.frameSamples) >>> 0;
  }

  /** Bounds the delay: skips the oldest frames while the queue spans more than maxFrames. */
  private dropOverflow(): void {
    if (this.highestSeq === undefined) return;
    while (seqDistance(this.nextSeq, this.highestSeq) >= this.maxFrames) {
      const skipped = this.queue.get(this.nextSeq);
      if (skipped) {
        this.queue.delete(this.nextSeq);
        this.counters.overflow++;
        this.advance(skipped.timestamp);
      } else {
        this.counters.lost++;
        this.advance(this.nextTimestamp);
      }
    }
  }

  private lowestQueued(): number | undefined {
    let lowest: number | undefined;
    for (const seq of this.queue.keys()) if (lowest === undefined || seqNewer(lowest, seq)) lowest = seq;
    return lowest;
  }

  private emptyFrame(status: JitterFrameStatus): JitterFrame {
    return { status, payload: undefined, timestamp: this.nextTimestamp, sequenceNumber: this.nextSeq, marker: false };
  }

  private reset(ssrc: number): void {
    this.ssrc = ssrc;
    this.queue.clear();
    this.recentlyPlayed.length = 0;
    this.highestSeq = undefined;
    this.started = false;
    this.playing = false;
    this.primeTicks = 0;
    this.jumpProbe = undefined;
    this.lastTransitMs = undefined;
    this.counters.jitterMs = 0;
  }

  private updateJitter(rtpTimestamp: number, arrivalMs: number): void {
    const transit = arrivalMs - rtpTimestamp * this.msPerUnit;
    if (this.lastTransitMs !== undefined) {
      const d = Math.abs(transit - this.lastTransitMs);
      // Skip the step a timestamp wrap or jump causes; it is not network jitter.
      if (d < 10_000) this.counters.jitterMs += (d - this.counters.jitterMs) / 16;
    }
    this.lastTransitMs = transit;
  }
}

function zeroStats(): JitterStats {
  return { received: 0, played: 0, lost: 0, late: 0, duplicate: 0, reordered: 0, resyncs: 0, overflow: 0, stray: 0, jitterMs: 0 };
}
