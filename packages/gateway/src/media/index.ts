export { MediaRelay, type MediaRelayOptions, type MediaRelayStats } from './media-relay.js';
export { MediaSession, type MediaFlowStats, type MediaSessionContext, type MediaSessionStats } from './media-session.js';
export { RelayedStream, otherSide, type MediaSide, type PacketKind } from './relayed-stream.js';
export { RtpPortPool, RtpPortsExhaustedError, type RtpSocketPair } from './port-pool.js';
export {
  SdpError,
  SdpMediaSection,
  SessionDescription,
  addressType,
  attributeName,
  attributeValue,
  directionOf,
  effectiveConnection,
  formatConnection,
  hasRtcpMux,
  isUnspecifiedAddress,
  parseConnection,
  rtcpAttribute,
  type SdpConnection,
  type SdpDirection,
  type SdpLine,
  type SdpOrigin,
} from '@psi-lab/media';
export { ICE_ATTRIBUTES, endpointMedia, rewriteTowards, type EndpointMedia, type RelayPorts, type TransportAddress } from './sdp-rewrite.js';
