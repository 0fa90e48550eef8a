export { RtpError, RtpPacket, isRtcp, seqAdd, seqDistance, seqNewer, type RtpHeaderExtension, type RtpPacketInit } from './rtp-packet.js';
export {
  RTCP_APP,
  RTCP_BYE,
  RTCP_RR,
  RTCP_SDES,
  RTCP_SR,
  parseRtcp,
  serializeRtcp,
  type Goodbye,
  type RawRtcp,
  type ReceiverReport,
  type ReportBlock,
  type RtcpPacket,
  type SdesChunk,
  type SenderInfo,
  type SenderReport,
  type SourceDescription,
} from './rtcp.js';
export { buildRtcpCompound, ntpFromUnixMs, ntpMiddle32, type CompoundReport } from './rtcp-compound.js';
export { RtpStatistics, type RtpStatisticsOptions } from './rtp-statistics.js';
