import { parseUri, type Destination, type Flow } from '@psi-lab/sip';

/**
 * Where a request to a registered set goes. Over a connection: that connection, always (RFC 5626:
 * the set is reachable only over the flow it opened). Over UDP: the address the REGISTER came
 * from, which is the NAT's mapping, except that a set not behind NAT (its Contact names the very
 * address it sent from) is reached at its Contact's port, as a registrar would. No address is
 * ever taken from a message alone.
 */
export function setDestination(contact: string, flow: Flow): Destination {
  if (flow.protocol !== 'udp') return { protocol: flow.protocol, address: flow.remote.address, port: flow.remote.port, flow };
  let port = flow.remote.port;
  try {
    const uri = parseUri(contact, 'Contact');
    if ('host' in uri && uri.host.replace(/^\[|\]$/g, '') === flow.remote.address && uri.port !== undefined) port = uri.port;
  } catch {
    // An unreadable contact: the source port is all we know.
  }
  return { protocol: 'udp', address: flow.remote.address, port, flow: port === flow.remote.port ? flow : undefined };
}
