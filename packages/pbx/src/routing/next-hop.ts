import { SipRequest, newBranch, parseUri, uriEquals, viaTransport, type Destination, type SipApp, type SipResponse, type TransportProtocol } from '@psi-lab/sip';
import type { Binding, PbxStore } from '../store/types.js';

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

/** A URI's own address: for targets that are not registered sets (the trunk, a dialog peer). */
export function uriDestination(uriText: string): Destination | undefined {
  const uri = parseUri(uriText);
  if (!('host' in uri) || !uri.host) return undefined;
  const transport = uri.params.get('transport');
  const protocol: TransportProtocol = typeof transport === 'string' && ['tcp', 'udp'].includes(transport.toLowerCase()) ? (transport.toLowerCase() as TransportProtocol) : 'udp';
  return { protocol, address: uri.host.replace(/^\[|\]$/g, ''), port: uri.port ?? 5060 };
}

/** The registered binding whose contact is this URI, if any (to reach a set inside a dialog). */
export function findBindingByContact(store: PbxStore, uriText: string, now: number): Binding | undefined {
  let uri;
  try {
    uri = parseUri(uriText);
  } catch {
    return undefined;
  }
  // Only the bindings of the URI's user are searched: a scan of every binding per in-dialog
  // request would make each BYE cost as much as the whole registry. A contact without a user
  // part is then reached at its own address.
  const user = 'user' in uri ? uri.user : undefined;
  if (!user) return undefined;
  return store.bindings(user).find((b) => b.expiresAt > now && uriEquals(parseUri(b.contact), uri));
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
