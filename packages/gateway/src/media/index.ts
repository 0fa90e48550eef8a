export { MediaRelay, type MediaRelayOptions, type MediaRelayStats } from './media-relay.js';
export { MediaSession, MediaStreamLimitError, type MediaFlowStats, type MediaSessionContext, type MediaSessionStats } from './media-session.js';
export { RelayedStream, otherSide, type MediaSide, type PacketKind } from './relayed-stream.js';
export { RtpPortPool, RtpPortsExhaustedError, type RtpSocketPair } from './port-pool.js';
export { ICE_ATTRIBUTES, endpointMedia, rewriteTowards, type EndpointMedia, type RelayPorts, type TransportAddress } from './sdp-rewrite.js';
