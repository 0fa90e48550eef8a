import { NameAddr, parseUri, quote, type SipRequest } from '@psi-lab/sip';
import type { Subscriber } from '../store/types.js';

/** Identity headers a caller could write to pass for someone else (RFC 3325): only the pbx asserts. */
const IDENTITY_HEADERS = ['P-Asserted-Identity', 'P-Preferred-Identity', 'Remote-Party-ID'];

/**
 * The callee sees who calls as the subscriber record says (RFC 3325 network-asserted identity):
 * the From display name becomes the subscriber's name, a P-Asserted-Identity names
 * "<name>" <sip:extension@realm>, and whatever identity the caller wrote is dropped. A display
 * name from a set is never trusted ("Bob (Finance) 1002" from 1001 shows as 1001's own name).
 */
export function assertCallerIdentity(request: SipRequest, subscriber: Subscriber | undefined, realm: string): void {
  for (const name of IDENTITY_HEADERS) request.remove(name);
  if (!subscriber) return;
  const from = request.from.clone();
  from.displayName = quote(subscriber.name);
  request.set('From', from.toString());
  request.set('P-Asserted-Identity', new NameAddr(parseUri(`sip:${subscriber.extension}@${realm}`), quote(subscriber.name)).toString());
}
