import { parseNameAddr, type SipMessage } from '@psi-lab/sip';

/**
 * What crosses the gateway. A back-to-back agent builds each message anew, so only the headers
 * listed here pass from one side to the other: Via, Route, Record-Route, Contact, Call-ID, tags,
 * User-Agent, Server and Warning never do (they would show one side's addresses to the other).
 */
const REQUEST_HEADERS = [
  'content-type', 'content-disposition', 'content-language', 'event', 'subscription-state', 'allow-events',
  'referred-by', 'reason', 'session-expires', 'min-se', 'accept', 'allow', 'info-package', 'recv-info',
  'rseq', 'expires', 'priority', 'subject',
];
const RESPONSE_HEADERS = [
  'content-type', 'content-disposition', 'rseq', 'session-expires', 'min-se', 'allow', 'accept', 'retry-after',
  'unsupported', 'min-expires', 'reason', 'allow-events', 'expires', 'event',
];
/**
 * Extensions that work end to end through the relay, and so the option tags the gateway takes
 * in Require and names in Supported: reliable provisionals (RSeq passed, RAck translated),
 * session timers (refreshes relayed, a session whose refreshes stop ended), Replaces (translated).
 */
export const RELAYED_OPTION_TAGS = ['100rel', 'timer', 'replaces'] as const;
const END_TO_END_OPTIONS = new Set<string>(RELAYED_OPTION_TAGS);

export type HeaderList = Array<[string, string]>;

/** The user part of the gateway's own Contact on both sides (`sip:gw@...`). */
export const GATEWAY_CONTACT_USER = 'gw';

export function requestHeaders(msg: SipMessage): HeaderList {
  return pick(msg, REQUEST_HEADERS);
}

export function responseHeaders(msg: SipMessage): HeaderList {
  return pick(msg, RESPONSE_HEADERS);
}

function pick(msg: SipMessage, names: string[]): HeaderList {
  const out: HeaderList = [];
  for (const name of names) for (const v of msg.getAll(name)) out.push([name === 'rseq' ? 'RSeq' : capitalize(name), v]);
  for (const name of ['supported', 'require']) {
    const tags = msg.getAll(name).filter((t) => END_TO_END_OPTIONS.has(t.trim().toLowerCase()));
    if (tags.length > 0) out.push([capitalize(name), tags.join(', ')]);
  }
  return out;
}

/**
 * Refer-To names a transfer target at the sender's side of the gateway: point it at the same
 * user on the receiving side's domain. An attended transfer's Replaces names a dialog on the
 * sender's side: `mapReplaces` gives the same call's dialog on the other side, and the user that
 * leg reaches — the target when the Refer-To names the gateway itself (a set refers to the
 * Contact it knows its consultation call by, which is the gateway's).
 */
export function rewriteReferTo(value: string, hostport: string, mapReplaces: (replaces: string) => { replaces: string; remoteUser?: string } | undefined): string {
  try {
    const target = parseNameAddr(value, 'Refer-To');
    const uri = target.uri;
    if (!('host' in uri) || uri.scheme === 'tel') return value;
    const [host, port] = splitHostPort(hostport);
    uri.host = host;
    uri.port = port;
    uri.params.delete('transport');
    uri.params.delete('maddr');
    uri.headers = uri.headers.flatMap(([k, v]): Array<[string, string]> => {
      if (k.toLowerCase() !== 'replaces') return [[k, v]];
      const mapped = mapReplaces(decodeURIComponent(v));
      if (mapped?.remoteUser && uri.user === GATEWAY_CONTACT_USER) uri.user = mapped.remoteUser;
      return mapped ? [[k, encodeURIComponent(mapped.replaces)]] : [];
    });
    return target.toString();
  } catch {
    return value;
  }
}

function splitHostPort(hostport: string): [string, number | undefined] {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hostport);
  return m ? [m[1], m[2] ? Number(m[2]) : undefined] : [hostport, undefined];
}

function capitalize(name: string): string {
  return name.split('-').map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join('-');
}
