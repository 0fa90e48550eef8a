import type { ReportBlock } from './rtcp.js';
import type { RtpPacket } from './rtp-packet.js';

/** RFC 3550 A.1: a forward jump this large, or a backward one beyond MAX_MISORDER, is suspect. */
const MAX_DROPOUT = 3000;
const MAX_MISORDER = 100;
const SEQ_MOD = 0x10000;

export interface RtpStatisticsOptions {
  /** RTP clock rate of the stream, to turn arrival times into timestamp units. */
  clockRate: number;
}

/**
 * Receiver-side statistics for one source, as RFC 3550 Appendix A describes them: sequence
 * tracking with wrap and restart (A.1), expected/lost/fraction lost (A.3) and interarrival
 * jitter (A.8). Feed every received packet with its arrival time; `reportBlock()` yields the
 * RR/SR block and starts a new reporting interval.
 */
export class RtpStatistics {
  private readonly clockRate: number;
  private ssrc: number | undefined;
  private baseSeq = 0;
  private maxSeq = 0;
  private cycles = 0;
  private badSeq = SEQ_MOD + 1;
  private receivedCount = 0;
  private expectedPrior = 0;
  private receivedPrior = 0;
  private transit: number | undefined;
  private jitterEstimate = 0;

  constructor(options: RtpStatisticsOptions) {
    this.clockRate = options.clockRate;
  }

  /** Records a received packet; `arrivalMs` is the local clock at arrival, in milliseconds. */
  update(packet: RtpPacket, arrivalMs: number): void {
    const seq = packet.sequenceNumber;
    if (this.ssrc === undefined || packet.ssrc !== this.ssrc) {
      this.ssrc = packet.ssrc;
      this.restart(seq);
    } else {
      const delta = (seq - this.maxSeq + SEQ_MOD) % SEQ_MOD;
      if (delta < MAX_DROPOUT) {
        if (seq < this.maxSeq) this.cycles += SEQ_MOD;
        this.maxSeq = seq;
      } else if (delta <= SEQ_MOD - MAX_MISORDER) {
        // A big jump: only believe it when the next packet continues from it (sender restart).
        if (seq !== this.badSeq) {
          this.badSeq = (seq + 1) % SEQ_MOD;
          return;
        }
        this.restart(seq);
      }
      // Otherwise a duplicate or reordered packet: counted as received, max unchanged.
    }
    this.receivedCount++;
    this.updateJitter(packet.timestamp, arrivalMs);
  }

  private restart(seq: number): void {
    this.baseSeq = seq;
    this.maxSeq = seq;
    this.cycles = 0;
    this.badSeq = SEQ_MOD + 1;
    this.receivedCount = 0;
    this.expectedPrior = 0;
    this.receivedPrior = 0;
    this.transit = undefined;
    this.jitterEstimate = 0;
  }

  private updateJitter(rtpTimestamp: number, arrivalMs: number): void {
    const arrival = (arrivalMs * this.clockRate) / 1000;
    const transit = arrival - rtpTimestamp;
    if (this.transit !== undefined) {
      let d = Math.abs(transit - this.transit);
      // A timestamp wrap looks like a 2^32 jump in transit time; fold it back.
      if (d > 0x80000000) d = Math.abs(d - 0x1_0000_0000);
      this.jitterEstimate += (d - this.jitterEstimate) / 16;
    }
    this.transit = transit;
  }

  /** SSRC of the source being tracked, once a packet arrived. */
  get sourceSsrc(): number | undefined {
    return this.ssrc;
  }

  /** Packets received, including duplicates and late ones (A.3 `received`). */
  get received(): number {
    return this.receivedCount;
  }

  /** Highest sequence number extended with the wrap count. */
  get extendedHighestSeq(): number {
    return this.cycles + this.maxSeq;
  }

  /** Packets expected from the first to the highest sequence number seen. */
  get expected(): number {
    return this.ssrc === undefined ? 0 : this.extendedHighestSeq - this.baseSeq + 1;
  }

  /** Cumulative lost (negative when duplicates outnumber losses), clamped to 24 signed bits. */
  get lost(): number {
    return Math.max(-0x800000, Math.min(0x7fffff, this.expected - this.receivedCount));
  }

  /** Interarrival jitter estimate in timestamp units (A.8), unrounded. */
  get jitter(): number {
    return this.jitterEstimate;
  }

  /** Fraction lost since the last report, 0..255, without starting a new interval. */
  get fractionLost(): number {
    const expectedInterval = this.expected - this.expectedPrior;
    const lostInterval = expectedInterval - (this.receivedCount - this.receivedPrior);
    if (expectedInterval === 0 || lostInterval <= 0) return 0;
    return Math.floor((lostInterval * 256) / expectedInterval);
  }

  /**
   * The reception report block for this source; starts a new interval for `fractionLost`.
   * `lastSr`/`delaySinceLastSr` come from the caller, which tracks the SRs it received.
   */
  reportBlock(lastSr = 0, delaySinceLastSr = 0): ReportBlock {
    const block: ReportBlock = {
      ssrc: this.ssrc ?? 0,
      fractionLost: this.fractionLost,
      cumulativeLost: this.lost,
      highestSeq: this.extendedHighestSeq >>> 0,
      jitter: Math.floor(this.jitterEstimate),
      lastSr,
      delaySinceLastSr,
    };
    this.expectedPrior = this.expected;
    this.receivedPrior = this.receivedCount;
    return block;
  }
}
