import { NameAddr, SipUri, parseUri, quote, type SipRequest } from '@psi-lab/sip';
import type { Subscriber } from '../store/types.js';

/** Identity headers a caller could write to pass for someone else (RFC 3325): only the pbx asserts. */
const IDENTITY_HEADERS = ['P-Asserted-Identity', 'P-Preferred-Identity', 'Remote-Party-ID'];

/**
 * The callee sees who calls as the subscriber record says (RFC 3325 network-asserted identity):
 * the From display name and user become the subscriber's name and extension (the tag stays),
 * a P-Asserted-Identity names
 * "<name>" <sip:extension@realm>, and whatever identity the caller wrote is dropped. A display
 * name from a set is never trusted ("Bob (Finance) 1002" from 1001 shows as 1001's own name).
 */
export function assertCallerIdentity(request: SipRequest, subscriber: Subscriber | undefined, realm: string): void {
  for (const name of IDENTITY_HEADERS) request.remove(name);
  if (!subscriber) return;
  const from = request.from.clone();
  from.displayName = quote(subscriber.name);
  // The number too: a set authenticated as 1001 writing From: <sip:1002@...> is still 1001.
  if (from.uri instanceof SipUri) from.uri.user = subscriber.extension;
  request.set('From', from.toString());
  request.set('P-Asserted-Identity', new NameAddr(parseUri(`sip:${subscriber.extension}@${realm}`), quote(subscriber.name)).toString());
}
