/** Thrown when bytes are not a valid RTP or RTCP packet, or a packet cannot be built. */
export class RtpError extends Error {
  override readonly name: string = 'RtpError';
}

/** An RTP header extension (RFC 3550 §5.3.1), kept raw: profile-defined 16 bits and the data words. */
export interface RtpHeaderExtension {
  /** The 16-bit "defined by profile" field (0xBEDE for RFC 8285 one-byte headers). */
  profile: number;
  /** Extension data; its length must be a multiple of 4 octets. */
  data: Buffer;
}

/** The fields of an RTP packet; everything but the essentials defaults to "absent". */
export interface RtpPacketInit {
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  payload: Buffer;
  marker?: boolean;
  csrcs?: number[];
  /** Number of padding octets to append (0: no P bit). Includes the final count octet. */
  padding?: number;
  extension?: RtpHeaderExtension;
}

const FIXED_HEADER_LENGTH = 12;
const RTP_VERSION = 2;

/**
 * One RTP data packet (RFC 3550 §5.1). `parse` validates the wire format and strips padding;
 * `serialize` writes it back, so parse(serialize(p)) reproduces p.
 */
export class RtpPacket {
  readonly version = RTP_VERSION;
  readonly payloadType: number;
  readonly sequenceNumber: number;
  readonly timestamp: number;
  readonly ssrc: number;
  readonly payload: Buffer;
  readonly marker: boolean;
  readonly csrcs: readonly number[];
  /** Padding octets present on the wire (0 when the P bit is clear). */
  readonly padding: number;
  readonly extension: RtpHeaderExtension | undefined;

  constructor(init: RtpPacketInit) {
    checkRange('payload type', init.payloadType, 0x7f);
    checkRange('sequence number', init.sequenceNumber, 0xffff);
    checkRange('timestamp', init.timestamp, 0xffffffff);
    checkRange('SSRC', init.ssrc, 0xffffffff);
    const csrcs = init.csrcs ?? [];
    if (csrcs.length > 15) throw new RtpError(`RTP packet: ${csrcs.length} CSRCs, at most 15 fit the CC field`);
    csrcs.forEach((csrc) => checkRange('CSRC', csrc, 0xffffffff));
    checkRange('padding', init.padding ?? 0, 0xff);
    if (init.extension) {
      checkRange('extension profile', init.extension.profile, 0xffff);
      if (init.extension.data.length % 4 !== 0 || init.extension.data.length > 0xffff * 4) {
        throw new RtpError(`RTP header extension: ${init.extension.data.length} octets is not a whole number of 32-bit words (max 65535)`);
      }
    }
    this.payloadType = init.payloadType;
    this.sequenceNumber = init.sequenceNumber;
    this.timestamp = init.timestamp;
    this.ssrc = init.ssrc;
    this.payload = init.payload;
    this.marker = init.marker ?? false;
    this.csrcs = csrcs;
    this.padding = init.padding ?? 0;
    this.extension = init.extension;
  }

  /** Parses one RTP packet; throws RtpError saying what is wrong and at which offset. */
  static parse(buf: Uint8Array): RtpPacket {
    const bytes = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    if (bytes.length < FIXED_HEADER_LENGTH) {
      throw new RtpError(`RTP packet too short: ${bytes.length} octets, the fixed header needs ${FIXED_HEADER_LENGTH}`);
    }
    const version = bytes[0] >> 6;
    if (version !== RTP_VERSION) throw new RtpError(`RTP packet: version ${version} in octet 0, expected 2`);
    const hasPadding = (bytes[0] & 0x20) !== 0;
    const hasExtension = (bytes[0] & 0x10) !== 0;
    const csrcCount = bytes[0] & 0x0f;

    let offset = FIXED_HEADER_LENGTH;
    if (offset + csrcCount * 4 > bytes.length) {
      throw new RtpError(`RTP packet: CSRC count ${csrcCount} needs ${offset + csrcCount * 4} octets, packet has ${bytes.length}`);
    }
    const csrcs: number[] = [];
    for (let i = 0; i < csrcCount; i++, offset += 4) csrcs.push(bytes.readUInt32BE(offset));

    let extension: RtpHeaderExtension | undefined;
    if (hasExtension) {
      if (offset + 4 > bytes.length) {
        throw new RtpError(`RTP packet: X bit set but the extension header at offset ${offset} is cut off (${bytes.length} octets)`);
      }
      const profile = bytes.readUInt16BE(offset);
      const dataLength = bytes.readUInt16BE(offset + 2) * 4;
      if (offset + 4 + dataLength > bytes.length) {
        throw new RtpError(`RTP packet: header extension at offset ${offset} claims ${dataLength} octets, only ${bytes.length - offset - 4} remain`);
      }
      extension = { profile, data: Buffer.from(bytes.subarray(offset + 4, offset + 4 + dataLength)) };
      offset += 4 + dataLength;
    }

    let end = bytes.length;
    let padding = 0;
    if (hasPadding) {
      padding = bytes[bytes.length - 1];
      if (padding === 0 || padding > bytes.length - offset) {
        throw new RtpError(`RTP packet: padding count ${padding} is invalid for a ${bytes.length - offset}-octet payload area`);
      }
      end -= padding;
    }

    return new RtpPacket({
      marker: (bytes[1] & 0x80) !== 0,
      payloadType: bytes[1] & 0x7f,
      sequenceNumber: bytes.readUInt16BE(2),
      timestamp: bytes.readUInt32BE(4),
      ssrc: bytes.readUInt32BE(8),
      csrcs,
      extension,
      padding,
      payload: Buffer.from(bytes.subarray(offset, end)),
    });
  }

  /** Length of everything before the payload. */
  get headerLength(): number {
    return FIXED_HEADER_LENGTH + this.csrcs.length * 4 + (this.extension ? 4 + this.extension.data.length : 0);
  }

  /** Writes the packet in wire format. */
  serialize(): Buffer {
    const out = Buffer.alloc(this.headerLength + this.payload.length + this.padding);
    out[0] = (RTP_VERSION << 6) | (this.padding > 0 ? 0x20 : 0) | (this.extension ? 0x10 : 0) | this.csrcs.length;
    out[1] = (this.marker ? 0x80 : 0) | this.payloadType;
    out.writeUInt16BE(this.sequenceNumber, 2);
    out.writeUInt32BE(this.timestamp, 4);
    out.writeUInt32BE(this.ssrc, 8);
    let offset = FIXED_HEADER_LENGTH;
    for (const csrc of this.csrcs) {
      out.writeUInt32BE(csrc, offset);
      offset += 4;
    }
    if (this.extension) {
      out.writeUInt16BE(this.extension.profile, offset);
      out.writeUInt16BE(this.extension.data.length / 4, offset + 2);
      this.extension.data.copy(out, offset + 4);
      offset += 4 + this.extension.data.length;
    }
    this.payload.copy(out, offset);
    if (this.padding > 0) out[out.length - 1] = this.padding;
    return out;
  }
}

function checkRange(what: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RtpError(`RTP packet: ${what} ${value} is outside 0..${max}`);
  }
}

/**
 * RFC 5761 §4 demultiplexing of RTP and RTCP sharing one port: the second octet's low seven
 * bits in 64..95 (RTCP packet types 192..223) mean RTCP.
 */
export function isRtcp(buf: Uint8Array): boolean {
  if (buf.length < 2 || buf[0] >> 6 !== RTP_VERSION) return false;
  const type = buf[1] & 0x7f;
  return type >= 64 && type <= 95;
}

/**
 * Signed distance from sequence number `from` to `to` on the 16-bit circle, in -32768..32767:
 * positive when `to` comes after `from` (seqDistance(65535, 0) === 1).
 */
export function seqDistance(from: number, to: number): number {
  const forward = (to - from) & 0xffff;
  return forward >= 0x8000 ? forward - 0x10000 : forward;
}

/** True when sequence number `a` comes after `b`, allowing for the 16-bit wrap. */
export function seqNewer(a: number, b: number): boolean {
  return seqDistance(b, a) > 0;
}

/** Adds `delta` to a 16-bit sequence number, wrapping. */
export function seqAdd(seq: number, delta: number): number {
  return (seq + delta) & 0xffff;
}
