import type { SipRequest } from '../message/index.js';

/** What a UAS core answers before any application code runs (RFC 3261 §8.2.1–8.2.3, §16.3). */
export interface Rejection {
  status: number;
  headers?: Array<[string, string]>;
}

export interface UasPolicy {
  /** Methods the application handles (from its handlers, plus OPTIONS, ACK, CANCEL). */
  allowed: Set<string>;
  /** Option tags we understand in Require (or, for a proxy, in Proxy-Require). */
  supported: Set<string>;
  /** A proxy checks Proxy-Require, and Require only on REGISTER (which it answers itself). */
  proxy: boolean;
  /** Body types understood, per method (e.g. INVITE → application/sdp). */
  accept: Map<string, string[]>;
}

/** Methods defined by RFC 3261 and its extensions: others are "not implemented" (501), not "not allowed". */
export const KNOWN_METHODS = new Set([
  'INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'PRACK', 'SUBSCRIBE', 'NOTIFY', 'PUBLISH',
  'INFO', 'REFER', 'MESSAGE', 'UPDATE',
]);

export function checkRequest(req: SipRequest, policy: UasPolicy): Rejection | undefined {
  // A request that may travel no further is answered, never processed (RFC 4475 §3.3.11).
  if (req.maxForwards === 0) return { status: 483 };
  if (!policy.allowed.has(req.method)) {
    const allow: Array<[string, string]> = [['Allow', [...policy.allowed].join(', ')]];
    return KNOWN_METHODS.has(req.method) ? { status: 405, headers: allow } : { status: 501, headers: allow };
  }
  if (req.method === 'ACK' || req.method === 'CANCEL') return undefined;
  const required = policy.proxy
    ? [...req.getAll('proxy-require'), ...(req.method === 'REGISTER' ? req.getAll('require') : [])]
    : req.getAll('require');
  const unsupported = required.filter((tag) => !policy.supported.has(tag.toLowerCase()));
  if (unsupported.length > 0) return { status: 420, headers: [['Unsupported', unsupported.join(', ')]] };
  const accepted = policy.accept.get(req.method);
  if (accepted) {
    const acceptHeader: Array<[string, string]> = [['Accept', accepted.join(', ')]];
    if (req.body.length > 0) {
      const type = (req.contentType ?? '').split(';')[0].trim().toLowerCase();
      if (!accepted.includes(type) && type !== 'multipart/mixed') return { status: 415, headers: acceptHeader };
      const encoding = req.get('content-encoding');
      if (encoding && encoding.toLowerCase() !== 'identity') return { status: 415, headers: [...acceptHeader, ['Accept-Encoding', 'identity']] };
    }
    if (req.has('accept') && !canAnswerIn(req.getAll('accept'), accepted)) return { status: 406, headers: acceptHeader };
  }
  return undefined;
}

/** Whether one of our body types matches one of the peer's Accept ranges (type/*, * /*). */
function canAnswerIn(ranges: string[], ours: string[]): boolean {
  return ranges.some((range) => {
    const r = range.split(';')[0].trim().toLowerCase();
    if (r === '' || r === '*/*') return true;
    return ours.some((t) => t === r || (r.endsWith('/*') && t.startsWith(r.slice(0, -1))));
  });
}
