import { randomBytes } from 'node:crypto';
import type { PartialMessage } from './errors.js';
import { Headers, type HeaderField } from './headers.js';
import { SipResponse, type HeaderInit, type SipRequest } from './message.js';
import { reasonPhrase } from './reasons.js';

export interface ResponseOptions {
  reason?: string;
  /** Added to To when it has none (a UAS's dialog tag); ignored for 100 Trying. */
  toTag?: string;
  headers?: HeaderInit;
  body?: Buffer | string;
}

const COPIED_HEADERS = ['via', 'from', 'to', 'call-id', 'cseq'];

/**
 * Build a response to a request the way RFC 3261 §8.2.6 says: Via (all of them, in order), From,
 * To, Call-ID and CSeq copied, a To tag added for anything but 100, Record-Route copied for 2xx/1xx.
 */
export function createResponse(req: SipRequest, status: number, options: ResponseOptions = {}): SipResponse {
  const fields: HeaderField[] = [];
  const copy = status < 300 && status > 100 ? [...COPIED_HEADERS, 'record-route'] : COPIED_HEADERS;
  for (const f of req.headers) if (copy.includes(f.key)) fields.push({ ...f });
  const res = new SipResponse(status, options.reason ?? reasonPhrase(status), new Headers(fields), options.body);
  res.headerEncoding = req.headerEncoding;
  if (status > 100 && options.toTag && req.to.tag === undefined) {
    res.set('To', `${req.get('to')};tag=${options.toTag}`);
  }
  appendHeaders(res, options.headers);
  return res;
}

/**
 * A response to a request that could not be fully parsed, built from the fields that could.
 * Returns undefined when the fields needed to address it are missing or unreadable.
 */
export function createResponseFromPartial(partial: PartialMessage, status: number, reason?: string, extra?: HeaderInit): SipResponse | undefined {
  if (!partial.isRequest) return undefined;
  const fields = partial.fields.filter((f) => COPIED_HEADERS.includes(f.key)).map((f) => ({ ...f }));
  for (const key of COPIED_HEADERS) if (!fields.some((f) => f.key === key)) return undefined;
  const res = new SipResponse(status, reason ?? reasonPhrase(status), new Headers(fields));
  res.headerEncoding = partial.encoding ?? 'utf8';
  appendHeaders(res, extra);
  return res;
}

export function newTag(): string {
  return randomBytes(6).toString('hex');
}

/** A branch with the RFC 3261 magic cookie, unique in space and time. */
export function newBranch(): string {
  return `z9hG4bK${randomBytes(9).toString('base64url')}`;
}

export function newCallId(host?: string): string {
  const id = randomBytes(12).toString('base64url');
  return host ? `${id}@${host}` : id;
}

function appendHeaders(res: SipResponse, headers: HeaderInit | undefined): void {
  if (!headers) return;
  const entries = Symbol.iterator in headers ? (headers as Iterable<[string, string | number]>) : Object.entries(headers);
  for (const [name, value] of entries) res.append(name, String(value));
}
