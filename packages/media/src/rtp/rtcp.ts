import { RtpError } from './rtp-packet.js';

/** RTCP packet types (RFC 3550 §12.1). */
export const RTCP_SR = 200;
export const RTCP_RR = 201;
export const RTCP_SDES = 202;
export const RTCP_BYE = 203;
export const RTCP_APP = 204;

const SDES_CNAME = 1;

/** One reception report block (RFC 3550 §6.4.1). */
export interface ReportBlock {
  ssrc: number;
  /** Fraction lost since the previous report, as a fixed-point 0..255 (256 = all). */
  fractionLost: number;
  /** Cumulative packets lost, signed 24-bit (negative when duplicates arrived). */
  cumulativeLost: number;
  /** Extended highest sequence number received (cycles << 16 | seq). */
  highestSeq: number;
  /** Interarrival jitter in timestamp units. */
  jitter: number;
  /** Middle 32 bits of the NTP timestamp of the last SR received from this source (0: none). */
  lastSr: number;
  /** Delay since that SR, in 1/65536 s. */
  delaySinceLastSr: number;
}

/** Sender info of an SR (RFC 3550 §6.4.1). */
export interface SenderInfo {
  /** NTP timestamp, seconds since 1900 (upper 32 bits). */
  ntpSeconds: number;
  /** NTP timestamp, fraction of a second in 1/2^32 (lower 32 bits). */
  ntpFraction: number;
  rtpTimestamp: number;
  packetCount: number;
  octetCount: number;
}

export interface SenderReport { type: 'SR'; ssrc: number; sender: SenderInfo; reports: ReportBlock[] }
export interface ReceiverReport { type: 'RR'; ssrc: number; reports: ReportBlock[] }
export interface SdesChunk { ssrc: number; cname?: string; items: { type: number; value: string }[] }
export interface SourceDescription { type: 'SDES'; chunks: SdesChunk[] }
export interface Goodbye { type: 'BYE'; ssrcs: number[]; reason?: string }
/** Any other packet type (APP, XR, feedback…), kept as its body after the 4-octet header. */
export interface RawRtcp { type: 'raw'; packetType: number; count: number; body: Buffer }

export type RtcpPacket = SenderReport | ReceiverReport | SourceDescription | Goodbye | RawRtcp;

/** Parses an RTCP compound packet into its parts; throws RtpError on a malformed one. */
export function parseRtcp(buf: Uint8Array): RtcpPacket[] {
  const bytes = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const packets: RtcpPacket[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    if (offset + 4 > bytes.length) throw new RtpError(`RTCP: truncated header at offset ${offset}`);
    const version = bytes[offset] >> 6;
    if (version !== 2) throw new RtpError(`RTCP: version ${version} at offset ${offset}, expected 2`);
    const count = bytes[offset] & 0x1f;
    const packetType = bytes[offset + 1];
    const length = (bytes.readUInt16BE(offset + 2) + 1) * 4;
    if (offset + length > bytes.length) {
      throw new RtpError(`RTCP: packet type ${packetType} at offset ${offset} claims ${length} octets, ${bytes.length - offset} remain`);
    }
    let body = bytes.subarray(offset + 4, offset + length);
    if (bytes[offset] & 0x20) {
      const padding = bytes[offset + length - 1];
      if (padding === 0 || padding > body.length) throw new RtpError(`RTCP: invalid padding ${padding} at offset ${offset}`);
      body = body.subarray(0, body.length - padding);
    }
    packets.push(parseOne(packetType, count, body, offset));
    offset += length;
  }
  return packets;
}

function parseOne(packetType: number, count: number, body: Buffer, at: number): RtcpPacket {
  const need = (octets: number): void => {
    if (body.length < octets) throw new RtpError(`RTCP: packet type ${packetType} at offset ${at} needs ${octets} octets of body, has ${body.length}`);
  };
  switch (packetType) {
    case RTCP_SR: {
      need(24 + count * 24);
      const sender: SenderInfo = {
        ntpSeconds: body.readUInt32BE(4),
        ntpFraction: body.readUInt32BE(8),
        rtpTimestamp: body.readUInt32BE(12),
        packetCount: body.readUInt32BE(16),
        octetCount: body.readUInt32BE(20),
      };
      return { type: 'SR', ssrc: body.readUInt32BE(0), sender, reports: readBlocks(body, 24, count) };
    }
    case RTCP_RR:
      need(4 + count * 24);
      return { type: 'RR', ssrc: body.readUInt32BE(0), reports: readBlocks(body, 4, count) };
    case RTCP_SDES:
      return { type: 'SDES', chunks: readSdesChunks(body, count, at) };
    case RTCP_BYE: {
      need(count * 4);
      const ssrcs: number[] = [];
      for (let i = 0; i < count; i++) ssrcs.push(body.readUInt32BE(i * 4));
      const reasonAt = count * 4;
      if (reasonAt < body.length) {
        const reasonLength = body[reasonAt];
        need(reasonAt + 1 + reasonLength);
        return { type: 'BYE', ssrcs, reason: body.toString('utf8', reasonAt + 1, reasonAt + 1 + reasonLength) };
      }
      return { type: 'BYE', ssrcs };
    }
    default:
      return { type: 'raw', packetType, count, body: Buffer.from(body) };
  }
}

function readBlocks(body: Buffer, offset: number, count: number): ReportBlock[] {
  const blocks: ReportBlock[] = [];
  for (let i = 0; i < count; i++, offset += 24) {
    blocks.push({
      ssrc: body.readUInt32BE(offset),
      fractionLost: body[offset + 4],
      cumulativeLost: body.readIntBE(offset + 5, 3),
      highestSeq: body.readUInt32BE(offset + 8),
      jitter: body.readUInt32BE(offset + 12),
      lastSr: body.readUInt32BE(offset + 16),
      delaySinceLastSr: body.readUInt32BE(offset + 20),
    });
  }
  return blocks;
}

function readSdesChunks(body: Buffer, count: number, at: number): SdesChunk[] {
  const chunks: SdesChunk[] = [];
  let offset = 0;
  for (let i = 0; i < count; i++) {
    if (offset + 4 > body.length) throw new RtpError(`RTCP SDES at offset ${at}: chunk ${i} is cut off`);
    const chunk: SdesChunk = { ssrc: body.readUInt32BE(offset), items: [] };
    offset += 4;
    for (;;) {
      if (offset >= body.length) throw new RtpError(`RTCP SDES at offset ${at}: chunk ${i} lacks its terminating null item`);
      const itemType = body[offset];
      if (itemType === 0) break;
      const itemLength = body[offset + 1] ?? 0;
      if (offset + 2 + itemLength > body.length) throw new RtpError(`RTCP SDES at offset ${at}: item ${itemType} overruns the packet`);
      const value = body.toString('utf8', offset + 2, offset + 2 + itemLength);
      chunk.items.push({ type: itemType, value });
      if (itemType === SDES_CNAME) chunk.cname = value;
      offset += 2 + itemLength;
    }
    // The null item is followed by more nulls up to the next 32-bit boundary.
    offset = (offset + 4) & ~3;
    chunks.push(chunk);
  }
  return chunks;
}

/** Serializes RTCP packets back to back into one compound packet. */
export function serializeRtcp(packets: readonly RtcpPacket[]): Buffer {
  return Buffer.concat(packets.map(serializeOne));
}

function serializeOne(packet: RtcpPacket): Buffer {
  switch (packet.type) {
    case 'SR': {
      const body = Buffer.alloc(24);
      body.writeUInt32BE(packet.ssrc, 0);
      body.writeUInt32BE(packet.sender.ntpSeconds, 4);
      body.writeUInt32BE(packet.sender.ntpFraction, 8);
      body.writeUInt32BE(packet.sender.rtpTimestamp, 12);
      body.writeUInt32BE(packet.sender.packetCount, 16);
      body.writeUInt32BE(packet.sender.octetCount, 20);
      return withHeader(RTCP_SR, checkCount(packet.reports.length, 'report blocks'), Buffer.concat([body, ...packet.reports.map(writeBlock)]));
    }
    case 'RR': {
      const ssrc = Buffer.alloc(4);
      ssrc.writeUInt32BE(packet.ssrc);
      return withHeader(RTCP_RR, checkCount(packet.reports.length, 'report blocks'), Buffer.concat([ssrc, ...packet.reports.map(writeBlock)]));
    }
    case 'SDES':
      return withHeader(RTCP_SDES, checkCount(packet.chunks.length, 'SDES chunks'), Buffer.concat(packet.chunks.map(writeSdesChunk)));
    case 'BYE': {
      const parts: Buffer[] = packet.ssrcs.map((ssrc) => {
        const word = Buffer.alloc(4);
        word.writeUInt32BE(ssrc);
        return word;
      });
      if (packet.reason !== undefined) {
        const reason = Buffer.from(packet.reason, 'utf8');
        if (reason.length > 255) throw new RtpError(`RTCP BYE reason: ${reason.length} octets, max 255`);
        parts.push(padTo4(Buffer.concat([Buffer.from([reason.length]), reason])));
      }
      return withHeader(RTCP_BYE, checkCount(packet.ssrcs.length, 'BYE sources'), Buffer.concat(parts));
    }
    case 'raw':
      if (packet.body.length % 4 !== 0) throw new RtpError(`RTCP packet type ${packet.packetType}: body of ${packet.body.length} octets is not 32-bit aligned`);
      return withHeader(packet.packetType, checkCount(packet.count, 'count'), packet.body);
  }
}

function withHeader(packetType: number, count: number, body: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header[0] = 0x80 | count;
  header[1] = packetType;
  header.writeUInt16BE(body.length / 4, 2);
  return Buffer.concat([header, body]);
}

function checkCount(count: number, what: string): number {
  if (count > 31) throw new RtpError(`RTCP: ${count} ${what} do not fit the 5-bit count (max 31)`);
  return count;
}

function writeBlock(block: ReportBlock): Buffer {
  const out = Buffer.alloc(24);
  out.writeUInt32BE(block.ssrc, 0);
  out[4] = Math.min(255, Math.max(0, Math.floor(block.fractionLost)));
  out.writeIntBE(Math.min(0x7fffff, Math.max(-0x800000, block.cumulativeLost)), 5, 3);
  out.writeUInt32BE(block.highestSeq >>> 0, 8);
  out.writeUInt32BE(block.jitter >>> 0, 12);
  out.writeUInt32BE(block.lastSr >>> 0, 16);
  out.writeUInt32BE(block.delaySinceLastSr >>> 0, 20);
  return out;
}

function writeSdesChunk(chunk: SdesChunk): Buffer {
  const items = chunk.items.length > 0 ? chunk.items : chunk.cname !== undefined ? [{ type: SDES_CNAME, value: chunk.cname }] : [];
  const parts: Buffer[] = [Buffer.alloc(4)];
  parts[0].writeUInt32BE(chunk.ssrc);
  for (const item of items) {
    const value = Buffer.from(item.value, 'utf8');
    if (value.length > 255) throw new RtpError(`RTCP SDES item ${item.type}: ${value.length} octets, max 255`);
    parts.push(Buffer.from([item.type, value.length]), value);
  }
  // At least one null octet ends the item list, then pad to a 32-bit boundary.
  return padTo4(Buffer.concat([...parts, Buffer.from([0])]));
}

/** Zero-pads to a multiple of 4 octets. */
function padTo4(buf: Buffer): Buffer {
  const padded = Buffer.alloc(Math.ceil(buf.length / 4) * 4);
  buf.copy(padded);
  return padded;
}
