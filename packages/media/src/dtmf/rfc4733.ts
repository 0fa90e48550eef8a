import { RtpError, RtpPacket, seqAdd } from '../rtp/index.js';

/** DTMF digits in event-code order: events 0–9, then * (10), # (11), A–D (12–15). */
export const DTMF_DIGITS = '0123456789*#ABCD';

export type DtmfDigit = '0' | '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9' | '*' | '#' | 'A' | 'B' | 'C' | 'D';

/** One telephone-event payload (RFC 4733 §2.3). */
export interface TelephoneEvent {
  /** Event code; 0–15 are the DTMF digits. */
  event: number;
  /** E bit: this is (a retransmission of) the final packet of the event. */
  end: boolean;
  /** Power level as 0..63, meaning -0..-63 dBm0. */
  volume: number;
  /** Duration so far, in timestamp units from the event's RTP timestamp. */
  duration: number;
}

const PAYLOAD_LENGTH = 4;
/** RFC 4733 §2.5.1.4: the final packet is sent three times in total. */
const END_REPETITIONS = 3;

/** The event code of a DTMF digit (lower-case a–d accepted). */
export function digitToEvent(digit: string): number {
  const event = DTMF_DIGITS.indexOf(digit.toUpperCase());
  if (digit.length !== 1 || event < 0) throw new RtpError(`DTMF: '${digit}' is not one of ${DTMF_DIGITS}`);
  return event;
}

/** The digit of a DTMF event code, or undefined for other telephone events. */
export function eventToDigit(event: number): DtmfDigit | undefined {
  return Number.isInteger(event) && event >= 0 && event < DTMF_DIGITS.length ? (DTMF_DIGITS[event] as DtmfDigit) : undefined;
}

/** Writes a 4-octet telephone-event payload. */
export function encodeTelephoneEvent(payload: TelephoneEvent): Buffer {
  const { event, volume, duration } = payload;
  if (!Number.isInteger(event) || event < 0 || event > 255) throw new RtpError(`telephone-event: event ${event} is outside 0..255`);
  if (!Number.isInteger(volume) || volume < 0 || volume > 63) throw new RtpError(`telephone-event: volume ${volume} is outside 0..63`);
  if (!Number.isInteger(duration) || duration < 0 || duration > 0xffff) {
    throw new RtpError(`telephone-event: duration ${duration} is outside 0..65535 timestamp units`);
  }
  const out = Buffer.alloc(PAYLOAD_LENGTH);
  out[0] = event;
  out[1] = (payload.end ? 0x80 : 0) | volume;
  out.writeUInt16BE(duration, 2);
  return out;
}

/**
 * Reads a telephone-event payload. Only the first event is read: RFC 4733 allows several
 * 4-octet blocks (redundancy), whose first block is the current one.
 */
export function parseTelephoneEvent(payload: Uint8Array): TelephoneEvent {
  if (payload.length < PAYLOAD_LENGTH) {
    throw new RtpError(`telephone-event: payload of ${payload.length} octets, needs ${PAYLOAD_LENGTH}`);
  }
  return {
    event: payload[0],
    end: (payload[1] & 0x80) !== 0,
    volume: payload[1] & 0x3f,
    duration: (payload[2] << 8) | payload[3],
  };
}

export interface DtmfPacketOptions {
  /** The negotiated telephone-event payload type (dynamic, e.g. 101). */
  payloadType: number;
  ssrc: number;
  /** Sequence number of the first packet; the rest follow one by one. */
  startSeq: number;
  /** RTP timestamp of the event's start, shared by all its packets. */
  timestamp: number;
  /** Length of the tone. */
  durationMs?: number;
  /** Interval between packets (updates and end retransmissions). */
  packetMs?: number;
  /** 0..63, meaning -0..-63 dBm0; 10 is a typical keypad level. */
  volume?: number;
  clockRate?: number;
}

/**
 * The RTP packets for one DTMF digit per RFC 4733 §2.5.1: an update every `packetMs` with the
 * duration so far (the first with the marker bit), then the final duration three times with
 * the E bit. All share the event's timestamp; sequence numbers increase by one per packet.
 * Send packet i at start + (i + 1) × packetMs, when the duration it reports has elapsed.
 */
export function dtmfPackets(digit: string, options: DtmfPacketOptions): RtpPacket[] {
  const event = digitToEvent(digit);
  const clockRate = options.clockRate ?? 8000;
  const durationMs = options.durationMs ?? 100;
  const packetMs = options.packetMs ?? 50;
  if (!(durationMs > 0) || !(packetMs > 0)) throw new RtpError(`DTMF: durationMs ${durationMs} and packetMs ${packetMs} must be positive`);
  const total = Math.round((durationMs * clockRate) / 1000);
  const step = Math.round((packetMs * clockRate) / 1000);
  if (total > 0xffff) throw new RtpError(`DTMF: ${durationMs} ms exceeds the 16-bit duration field at ${clockRate} Hz`);
  const volume = options.volume ?? 10;

  const payloads: TelephoneEvent[] = [];
  for (let duration = step; duration < total; duration += step) payloads.push({ event, end: false, volume, duration });
  for (let i = 0; i < END_REPETITIONS; i++) payloads.push({ event, end: true, volume, duration: total });

  return payloads.map(
    (payload, index) =>
      new RtpPacket({
        payloadType: options.payloadType,
        ssrc: options.ssrc,
        sequenceNumber: seqAdd(options.startSeq, index),
        timestamp: options.timestamp >>> 0,
        marker: index === 0,
        payload: encodeTelephoneEvent(payload),
      }),
  );
}
