import {
  addressType,
  attributeName,
  effectiveConnection,
  formatConnection,
  hasRtcpMux,
  isUnspecifiedAddress,
  parseConnection,
  rtcpAttribute,
  type SdpLine,
  type SessionDescription,
} from '@psi-lab/media';

/** A UDP address and port. */
export interface TransportAddress {
  address: string;
  port: number;
}

/** Where one endpoint wants to receive the media of one m= line, as its SDP says. */
export interface EndpointMedia {
  /** False for m= port 0: the stream is refused or disabled. */
  enabled: boolean;
  /** The connection address is 0.0.0.0 (or ::): old-style hold, nothing is to be sent to it. */
  hold: boolean;
  rtp?: TransportAddress;
  rtcp?: TransportAddress;
  /** The section carries a=rtcp-mux (RFC 5761). */
  rtcpMux: boolean;
}

/** The gateway's relay ports for one m= line, on the side an SDP is delivered to. */
export interface RelayPorts {
  rtp: number;
  rtcp: number;
}

/**
 * ICE attributes: the gateway anchors media itself and does not do ICE, and the candidates
 * would tell the receiver the sender's addresses.
 */
export const ICE_ATTRIBUTES: ReadonlySet<string> = new Set([
  'candidate',
  'remote-candidates',
  'end-of-candidates',
  'ice-ufrag',
  'ice-pwd',
  'ice-options',
  'ice-lite',
  'ice-mismatch',
  'ice-pacing',
]);

/** Reads, per m= line index, where the endpoint that wrote `sdp` wants its RTP and RTCP. */
export function endpointMedia(sdp: SessionDescription): EndpointMedia[] {
  return sdp.media.map((section, index) => {
    const rtcpMux = hasRtcpMux(section);
    const connection = effectiveConnection(sdp, index);
    if (section.port === 0 || !connection) return { enabled: false, hold: false, rtcpMux };
    const hold = isUnspecifiedAddress(connection.address);
    const rtcp = rtcpAttribute(section);
    const rtcpAddress = rtcp?.connection && !isUnspecifiedAddress(rtcp.connection.address) ? rtcp.connection.address : connection.address;
    return {
      enabled: true,
      hold,
      rtp: { address: connection.address, port: section.port },
      rtcp: { address: rtcpAddress, port: rtcp?.port ?? section.port + 1 },
      rtcpMux,
    };
  });
}

/**
 * Rewrites `sdp` in place for delivery to the other side: every address becomes
 * `gatewayAddress` (o=, c=, a=rtcp), each enabled m= line gets the gateway's relay port of
 * `ports[index]`, ICE attributes go. Port 0 stays 0; 0.0.0.0 (hold) stays 0.0.0.0.
 */
export function rewriteTowards(sdp: SessionDescription, gatewayAddress: string, ports: ReadonlyArray<RelayPorts | undefined>): void {
  const addrType = addressType(gatewayAddress);
  sdp.origin = { ...sdp.origin, netType: 'IN', addrType, address: gatewayAddress };
  rewriteConnectionLines(sdp.sessionLines, gatewayAddress);
  sdp.removeAttributes(ICE_ATTRIBUTES);

  sdp.media.forEach((section, index) => {
    rewriteConnectionLines(section.lines, gatewayAddress);
    section.removeAttributes(ICE_ATTRIBUTES);
    const relay = ports[index];
    const rtcp = rtcpAttribute(section);
    if (section.port === 0 || !relay) {
      section.port = 0;
      section.removeAttributes(new Set(['rtcp']));
      return;
    }
    // An a=rtcp naming the RTP port itself means RTCP is muxed: keep saying so.
    const rtcpPort = rtcp?.port === section.port ? relay.rtp : relay.rtcp;
    section.port = relay.rtp;
    // One relayed pair per m= line: layered streams over several ports are not relayed.
    section.portCount = undefined;
    if (rtcp) {
      const unspecified = rtcp.connection && isUnspecifiedAddress(rtcp.connection.address);
      const value = !rtcp.connection
        ? `rtcp:${rtcpPort}`
        : `rtcp:${rtcpPort} IN ${unspecified ? rtcp.connection.addrType : addrType} ${unspecified ? rtcp.connection.address : gatewayAddress}`;
      replaceFirstDropOthers(section.lines, 'rtcp', value);
    }
  });
}

/** Points every c= line at the gateway, except 0.0.0.0 / :: (hold), which the receiver must see as is. */
function rewriteConnectionLines(lines: SdpLine[], gatewayAddress: string): void {
  for (const line of lines) {
    if (line.type !== 'c') continue;
    const connection = parseConnection(line.value);
    if (isUnspecifiedAddress(connection.address)) continue;
    line.value = formatConnection({ netType: 'IN', addrType: addressType(gatewayAddress), address: gatewayAddress, suffix: '' });
  }
}

/** Gives the first `a=<name>` line `value` and removes any further ones (which would leak addresses). */
function replaceFirstDropOthers(lines: SdpLine[], name: string, value: string): void {
  let seen = false;
  for (let i = 0; i < lines.length; i++) {
    if (attributeName(lines[i]) !== name) continue;
    if (seen) lines.splice(i--, 1);
    else lines[i].value = value;
    seen = true;
  }
}
