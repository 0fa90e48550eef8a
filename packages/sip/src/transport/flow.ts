/** The transports a SIP message can travel over. */
export type TransportProtocol = 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';

export interface Endpoint {
  address: string;
  port: number;
}

/**
 * The path a message arrived on or leaves by: a connection for streams, a (local, remote) socket
 * pair for UDP. Responses and in-dialog requests go back over the flow the request came in on
 * (RFC 3261 §18.2.2, RFC 5626), which is how sets behind NAT stay reachable.
 */
export interface Flow {
  /** Unique while the connection lives, e.g. `tls:127.0.0.1:5061<-127.0.0.1:40012#7`. */
  readonly id: string;
  readonly protocol: TransportProtocol;
  readonly local: Endpoint;
  readonly remote: Endpoint;
}

/** Where to send: an existing flow when known, else an address to reach (opening a connection if needed). */
export interface Destination {
  protocol: TransportProtocol;
  address: string;
  port: number;
  /** Reuse this flow if it is still open. */
  flow?: Flow;
  /** WebSocket path for ws/wss destinations (default `/`). */
  path?: string;
}

export function isReliable(protocol: TransportProtocol): boolean {
  return protocol !== 'udp';
}

/** The Via transport token of a protocol (RFC 3261 §18, RFC 7118 for WS/WSS). */
export function viaTransport(protocol: TransportProtocol): string {
  return protocol.toUpperCase();
}

/** IPv4-mapped IPv6 (`::ffff:1.2.3.4`) as plain IPv4, so one peer has one address. */
export function normalizeAddress(address: string | undefined): string {
  if (!address) return '0.0.0.0';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
