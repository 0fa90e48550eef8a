import { SipRequest, newBranch, viaTransport, type Destination, type SipApp, type SipResponse, type TransportProtocol } from '@psi-lab/sip';
import type { Binding } from '../store/types.js';

/**
 * Where a request for a registered contact goes: back along the flow the set registered on
 * (its source address and port, which is what gets through NAT), not to the address the set
 * wrote in its Contact.
 */
export function bindingDestination(app: SipApp, binding: Binding): Destination {
  const protocol = binding.transport as TransportProtocol;
  const [address, port] = splitHostPort(binding.source);
  const flow = protocol === 'udp' ? undefined : app.transport.flow(binding.flowId);
  return { protocol, address, port, flow };
}

/**
 * The copy of a request a proxy sends on (RFC 3261 §16.6): new Request-URI, Max-Forwards less
 * one, our Via on top, and `route` as its whole Route set — the entry naming us never goes on.
 */
export function forwardedRequest(app: SipApp, original: SipRequest, requestUri: string, protocol: TransportProtocol, route: string[] = []): SipRequest {
  const copy = original.clone();
  copy.uri = requestUri;
  copy.set('Max-Forwards', Math.max(0, (original.maxForwards ?? 70) - 1));
  const sentBy = app.transport.sentBy(protocol);
  copy.prepend('Via', `SIP/2.0/${viaTransport(protocol)} ${sentBy.address}:${sentBy.port};branch=${newBranch()};rport`);
  copy.remove('Route');
  for (const r of route) copy.append('Route', r);
  return copy;
}

/** A response from downstream, made ready to go upstream: our Via taken off. */
export function upstreamResponse(response: SipResponse): SipResponse {
  const copy = response.clone();
  copy.headers.removeFirstValue('via');
  return copy;
}

function splitHostPort(source: string): [string, number] {
  const i = source.lastIndexOf(':');
  return [source.slice(0, i).replace(/^\[|\]$/g, ''), Number(source.slice(i + 1))];
}
