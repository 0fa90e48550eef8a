import { serializeRtcp, type ReportBlock, type RtcpPacket, type SenderInfo } from './rtcp.js';

/** What to put into one outgoing compound packet (RFC 3550 §6.1: report first, then SDES CNAME). */
export interface CompoundReport {
  ssrc: number;
  cname: string;
  /** Present when we sent RTP since the last report: makes it an SR, otherwise an RR. */
  sender?: SenderInfo;
  reports?: ReportBlock[];
  /** Appends a BYE for `ssrc` with this reason ('' for none). */
  bye?: string;
}

/** Builds a valid compound RTCP packet: SR or RR, SDES with the CNAME, optionally BYE. */
export function buildRtcpCompound(report: CompoundReport): Buffer {
  const reports = report.reports ?? [];
  const packets: RtcpPacket[] = [
    report.sender ? { type: 'SR', ssrc: report.ssrc, sender: report.sender, reports } : { type: 'RR', ssrc: report.ssrc, reports },
    { type: 'SDES', chunks: [{ ssrc: report.ssrc, cname: report.cname, items: [] }] },
  ];
  if (report.bye !== undefined) packets.push({ type: 'BYE', ssrcs: [report.ssrc], ...(report.bye ? { reason: report.bye } : {}) });
  return serializeRtcp(packets);
}

/** Seconds between the NTP epoch (1900) and the Unix epoch (1970). */
const NTP_UNIX_OFFSET = 2_208_988_800;

/** Converts Unix milliseconds to an NTP timestamp (for SR sender info). */
export function ntpFromUnixMs(ms: number): { ntpSeconds: number; ntpFraction: number } {
  const seconds = Math.floor(ms / 1000);
  const fraction = Math.floor(((ms - seconds * 1000) / 1000) * 0x1_0000_0000);
  return { ntpSeconds: (seconds + NTP_UNIX_OFFSET) >>> 0, ntpFraction: Math.min(fraction, 0xffffffff) };
}

/** The middle 32 bits of an NTP timestamp: the LSR value a receiver echoes back. */
export function ntpMiddle32(ntpSeconds: number, ntpFraction: number): number {
  return (((ntpSeconds & 0xffff) << 16) | (ntpFraction >>> 16)) >>> 0;
}
