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
/** Extensions that work end to end through the relay: reliable provisionals, session timers, Replaces (translated). */
const END_TO_END_OPTIONS = new Set(['100rel', 'timer', 'replaces']);

export type HeaderList = Array<[string, string]>;

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
 * user on the receiving side's domain. `mapReplaces` translates an attended transfer's Replaces
 * (a dialog on the sender's side) into the matching dialog on the other side, when there is one.
 */
export function rewriteReferTo(value: string, hostport: string, mapReplaces: (replaces: string) => string | undefined): string {
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
      return mapped ? [[k, encodeURIComponent(mapped)]] : [];
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
