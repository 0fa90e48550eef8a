import { parseUri, type Destination, type Flow } from '@psi-lab/sip';

/**
 * Where a request to a registered set goes.
 * - A set behind NAT (its Contact names another address than the one it sent from), a set using
 *   RFC 5626 outbound (`+sip.instance`), and every TLS or WebSocket set: over the flow it
 *   registered on, always — it is reachable no other way.
 * - A set not behind NAT over UDP or TCP (its Contact names the very address it sent from, at
 *   another port): at its Contact's port, as a registrar would (RFC 3261 §18.2.1); over TCP that
 *   opens a connection to the port it listens on.
 * No address is ever taken from a message alone: only a port, on the address the set sent from.
 */
export function setDestination(contact: string, flow: Flow, outbound = false): Destination {
  const viaFlow: Destination = { protocol: flow.protocol, address: flow.remote.address, port: flow.remote.port, flow };
  if (outbound || (flow.protocol !== 'udp' && flow.protocol !== 'tcp')) return viaFlow;
  let port: number | undefined;
  try {
    const uri = parseUri(contact, 'Contact');
    if ('host' in uri && uri.host.replace(/^\[|\]$/g, '') === flow.remote.address) port = uri.port ?? 5060;
  } catch {
    // An unreadable contact: the flow is all we know.
  }
  if (port === undefined || port === flow.remote.port) return viaFlow;
  return { protocol: flow.protocol, address: flow.remote.address, port };
}
