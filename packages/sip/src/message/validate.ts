import { SipParseError } from './errors.js';
import type { SipMessage, SipRequest, SipResponse } from './message.js';
import { SIP_VERSION, parseScalar } from './message.js';
import { OpaqueUri, SipUri } from './uri.js';
import { splitOutside } from './grammar.js';

/** Headers a message may carry once only (RFC 3261 §7.3.1, RFC 4475 §3.3.8-9). */
const SINGLE_VALUE_HEADERS = new Set(['from', 'to', 'call-id', 'cseq', 'max-forwards', 'content-length', 'content-type', 'expires']);
const REQUIRED_HEADERS = ['via', 'from', 'to', 'call-id', 'cseq'];
const MAX_CONTENT_LENGTH = 2 ** 32 - 1;

/**
 * Check what RFC 3261 requires before a request may be processed: the mandatory headers, single
 * values, consistent CSeq, sane scalars and a routable Request-URI. Returns the first defect, or
 * undefined. Other headers stay unparsed until someone reads them.
 */
export function validateRequest(req: SipRequest): SipParseError | undefined {
  return check(() => {
    if (req.sipVersion !== SIP_VERSION) {
      throw new SipParseError('version', `${req.sipVersion} is not supported`, 'start-line');
    }
    checkCommon(req);
    if (req.cseq.method !== req.method) {
      throw new SipParseError('cseq-mismatch', `CSeq method ${req.cseq.method} differs from ${req.method}`, 'CSeq');
    }
    if (req.has('max-forwards')) req.maxForwards;
    const uri = req.requestUri;
    if (uri instanceof OpaqueUri) {
      throw new SipParseError('unsupported-scheme', `unsupported URI scheme "${uri.scheme}"`, 'Request-URI');
    }
    if (uri instanceof SipUri && uri.headers.length > 0) {
      throw new SipParseError('request-uri', 'a Request-URI may not carry headers', 'Request-URI');
    }
    req.contacts;
    if (req.has('route')) req.routeSet('route');
    if (req.has('record-route')) req.routeSet('record-route');
  });
}

/** Responses that fail this are dropped: a response can't be answered. */
export function validateResponse(res: SipResponse): SipParseError | undefined {
  return check(() => {
    checkCommon(res);
    if (res.has('contact')) res.contacts;
  });
}

function checkCommon(msg: SipMessage): void {
  // One pass over the fields for presence and repetition: this runs on every message.
  const seen = new Map<string, number>();
  for (const f of msg.headers) {
    if (SINGLE_VALUE_HEADERS.has(f.key) || f.key === 'via') seen.set(f.key, (seen.get(f.key) ?? 0) + 1);
  }
  for (const key of REQUIRED_HEADERS) {
    if (!seen.has(key)) throw new SipParseError('missing-header', `the ${key} header is missing`, key);
  }
  for (const [key, count] of seen) {
    if (key !== 'via' && (count > 1 || hasTopLevelComma(msg.get(key)!, key))) {
      throw new SipParseError('duplicate-header', `${key} may appear only once`, key);
    }
  }
  msg.vias;
  msg.cseq;
  msg.from;
  msg.to;
  if (msg.has('expires')) msg.expires;
  const declared = msg.get('content-length');
  if (declared !== undefined) {
    const n = parseScalar(declared, MAX_CONTENT_LENGTH, 'Content-Length');
    if (n !== msg.body.length) {
      throw new SipParseError('content-length', `Content-Length ${n} but ${msg.body.length} octets of body arrived`, 'Content-Length');
    }
  }
}

function check(fn: () => void): SipParseError | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    if (e instanceof SipParseError) return e;
    return new SipParseError('header-value', (e as Error).message);
  }
}

/** The response a server sends for a request that failed to parse or validate. */
export function statusForParseError(err: SipParseError): { status: number; reason: string } {
  switch (err.code) {
    case 'version':
      return { status: 505, reason: 'Version Not Supported' };
    case 'unsupported-scheme':
      return { status: 416, reason: 'Unsupported URI Scheme' };
    case 'too-large':
      return { status: 513, reason: 'Message Too Large' };
    default:
      return { status: 400, reason: 'Bad Request' };
  }
}

/**
 * Two values folded into one line ("To: a, b") are as wrong as two lines. Only name-addr
 * headers can hide a second value behind a comma; in the others a comma is just a bad value.
 */
function hasTopLevelComma(value: string, key: string): boolean {
  if ((key !== 'from' && key !== 'to') || !value.includes(',')) return false;
  return splitOutside(value, ',').length > 1;
}
