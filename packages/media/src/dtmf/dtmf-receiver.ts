import type { RtpPacket } from '../rtp/index.js';
import { eventToDigit, parseTelephoneEvent, type DtmfDigit } from './rfc4733.js';

/** A digit recognised from telephone-event packets. */
export interface ReceivedDtmf {
  digit: DtmfDigit;
  event: number;
  ssrc: number;
  /** RTP timestamp of the event's start: the event's identity. */
  timestamp: number;
  /** Longest duration reported, in timestamp units. */
  duration: number;
  durationMs: number;
  volume: number;
  /** False when no end packet arrived and the digit was emitted because a newer event began (or on flush). */
  ended: boolean;
}

export interface DtmfReceiverOptions {
  /** The negotiated telephone-event payload type; other packets are ignored. */
  payloadType: number;
  clockRate?: number;
  /** Called once per digit. */
  onDigit: (dtmf: ReceivedDtmf) => void;
}

interface PendingEvent {
  key: string;
  ssrc: number;
  timestamp: number;
  event: number;
  duration: number;
  volume: number;
}

/** How many finished events to remember, so late retransmissions are recognised. */
const REMEMBERED_EVENTS = 32;

/**
 * Turns RFC 4733 telephone-event packets into digits, each reported once. An event is
 * identified by SSRC and RTP timestamp, so the three retransmitted end packets and any
 * late updates are recognised as the same key press. The digit is reported on the first end
 * packet that arrives; if all end packets are lost it is reported when the next event starts,
 * or on `flush()`. Losing the first packets (and their marker bit) does not matter.
 */
export class DtmfReceiver {
  private readonly payloadType: number;
  private readonly clockRate: number;
  private readonly onDigit: (dtmf: ReceivedDtmf) => void;
  private current: PendingEvent | undefined;
  private readonly finished: string[] = [];
  private malformedCount = 0;

  constructor(options: DtmfReceiverOptions) {
    this.payloadType = options.payloadType;
    this.clockRate = options.clockRate ?? 8000;
    this.onDigit = options.onDigit;
  }

  /** Telephone-event packets that were too short to parse. */
  get malformed(): number {
    return this.malformedCount;
  }

  /** True while an event has begun but has not ended. */
  get pending(): boolean {
    return this.current !== undefined;
  }

  /** Feeds one received RTP packet; packets of other payload types are ignored. */
  push(packet: RtpPacket): void {
    if (packet.payloadType !== this.payloadType) return;
    let payload;
    try {
      payload = parseTelephoneEvent(packet.payload);
    } catch {
      this.malformedCount++;
      return;
    }
    if (eventToDigit(payload.event) === undefined) return;
    const key = `${packet.ssrc}:${packet.timestamp}`;
    if (this.finished.includes(key)) return;

    if (this.current && this.current.key !== key) {
      // A straggler from an earlier event we never saw: reporting it now would reorder digits.
      if (this.current.ssrc === packet.ssrc && timestampOlder(packet.timestamp, this.current.timestamp)) return;
      this.finish(false);
    }
    if (!this.current) {
      this.current = { key, ssrc: packet.ssrc, timestamp: packet.timestamp, event: payload.event, duration: 0, volume: payload.volume };
    }
    this.current.duration = Math.max(this.current.duration, payload.duration);
    if (payload.end) this.finish(true);
  }

  /** Reports an event whose end packets never came (call it when the stream stops). */
  flush(): void {
    if (this.current) this.finish(false);
  }

  private finish(ended: boolean): void {
    const current = this.current;
    if (!current) return;
    this.current = undefined;
    this.finished.push(current.key);
    if (this.finished.length > REMEMBERED_EVENTS) this.finished.shift();
    this.onDigit({
      digit: eventToDigit(current.event) as DtmfDigit,
      event: current.event,
      ssrc: current.ssrc,
      timestamp: current.timestamp,
      duration: current.duration,
      durationMs: (current.duration * 1000) / this.clockRate,
      volume: current.volume,
      ended,
    });
  }
}

/** True when 32-bit RTP timestamp `a` is before `b`, allowing for wrap. */
function timestampOlder(a: number, b: number): boolean {
  const forward = (b - a) >>> 0;
  return forward !== 0 && forward < 0x80000000;
}
