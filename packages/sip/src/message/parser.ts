import { isUtf8 } from 'node:buffer';
import { SipParseError, type PartialMessage } from './errors.js';
import { TOKEN } from './grammar.js';
import { Headers, headerKey, type HeaderField } from './headers.js';
import { SipRequest, SipResponse, type AnySipMessage } from './message.js';

export interface ParseOptions {
  /**
   * A UDP datagram holds one message: without Content-Length the body is the rest of it, and
   * octets past Content-Length are ignored (RFC 3261 §18.3). Streams are framed before parsing.
   */
  datagram?: boolean;
}

const CR = 0x0d;
const LF = 0x0a;

/**
 * Parse one SIP message. Only the start line is interpreted and the header section split into
 * fields; header values are parsed when first read (see SipMessage) and checked by
 * validateRequest/validateResponse. Throws SipParseError, never anything else, on bad input.
 */
export function parseMessage(input: Buffer, options: ParseOptions = {}): AnySipMessage {
  try {
    return parseUnchecked(input, options);
  } catch (e) {
    if (e instanceof SipParseError) {
      if (e.partial && !e.partial.encoding) e.partial.encoding = isUtf8(input) ? 'utf8' : 'latin1';
      throw e;
    }
    throw new SipParseError('header-syntax', `unreadable message (${(e as Error).message})`);
  }
}

function parseUnchecked(input: Buffer, options: ParseOptions): AnySipMessage {
  let start = 0;
  // Leading CRLFs before a start line are keepalives or leftovers and are ignored (RFC 3261 §7.5).
  while (start < input.length && (input[start] === CR || input[start] === LF)) start++;
  if (start === input.length) throw new SipParseError('truncated', 'empty message', 'start-line');

  const { headEnd, bodyStart } = findHeaderEnd(input, start);
  // Headers are UTF-8 text; octets that are not (fuzzers, broken phones) are kept one char per
  // octet instead, so the message still serializes to exactly the bytes that came in.
  const encoding = isUtf8(input.subarray(start, headEnd)) ? 'utf8' : 'latin1';
  const head = input.toString(encoding, start, headEnd);
  const lines = head.split(head.includes('\r') ? /\r?\n/ : '\n');
  const startLine = lines[0];
  const isRequest = !startLine.startsWith('SIP/');

  let fields: HeaderField[];
  try {
    fields = splitFields(lines);
  } catch (e) {
    if (!(e instanceof SipParseError) || !e.partial) throw e;
    const method = isRequest ? startLine.split(' ')[0] : undefined;
    throw new SipParseError(e.code, e.message.replace(/^[^:]*: /, ''), e.where, { ...e.partial, isRequest, method });
  }
  const headers = new Headers(fields);
  const available = input.length - bodyStart;
  const bodyLength = declaredBodyLength(headers, available, options.datagram ?? false);
  const end = bodyStart + bodyLength;
  const body = bodyLength === 0 ? Buffer.alloc(0) : input.subarray(bodyStart, end);
  const raw = start === 0 && end === input.length ? input : input.subarray(start, end);

  if (isRequest) {
    const { method, uri, version } = parseRequestLine(startLine, fields);
    const req = new SipRequest(method, uri, headers, body);
    req.sipVersion = version;
    req.headerEncoding = encoding;
    return req.keepRaw(raw);
  }
  const { status, reason } = parseStatusLine(startLine, fields);
  const res = new SipResponse(status, reason, headers, body);
  res.headerEncoding = encoding;
  return res.keepRaw(raw);
}

function findHeaderEnd(input: Buffer, start: number): { headEnd: number; bodyStart: number } {
  const crlf = input.indexOf('\r\n\r\n', start);
  const lf = input.indexOf('\n\n', start);
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { headEnd: crlf, bodyStart: crlf + 4 };
  if (lf >= 0) return { headEnd: lf, bodyStart: lf + 2 };
  // A datagram may end right after its last header line with no blank line: tolerate it.
  let end = input.length;
  while (end > start && (input[end - 1] === CR || input[end - 1] === LF)) end--;
  return { headEnd: end, bodyStart: input.length };
}

/**
 * Turn header lines into fields, joining folded continuation lines (RFC 3261 §7.3.1). A bad
 * line fails the message, but the good fields are still read so a 400 can be addressed.
 */
function splitFields(lines: string[]): HeaderField[] {
  const fields: HeaderField[] = [];
  let firstError: SipParseError | undefined;
  for (let i = 1; i < lines.length; i++) {
    let line = lines[i];
    while (i + 1 < lines.length && (lines[i + 1].startsWith(' ') || lines[i + 1].startsWith('\t'))) {
      line += ' ' + lines[++i].trim();
    }
    if (line === '') continue;
    const colon = line.indexOf(':');
    let nameEnd = colon;
    while (nameEnd > 0 && (line[nameEnd - 1] === ' ' || line[nameEnd - 1] === '\t')) nameEnd--;
    const name = colon < 0 ? '' : line.slice(0, nameEnd);
    if (colon <= 0 || !TOKEN.test(name)) {
      firstError ??= new SipParseError('header-syntax', colon <= 0
        ? `header line without a name and colon: "${clip(line)}"`
        : `bad header name "${clip(name)}"`, `line ${i + 1}`);
      continue;
    }
    fields.push({ name, key: headerKey(name), value: line.slice(colon + 1).trim() });
  }
  if (firstError) throw new SipParseError(firstError.code, firstError.message.replace(/^[^:]*: /, ''), firstError.where, { isRequest: true, fields });
  return fields;
}

/**
 * How many octets of body follow. A Content-Length that is malformed, repeated or larger than
 * what arrived is left for validation to reject with 400: here we only bound the body.
 */
function declaredBodyLength(headers: Headers, available: number, datagram: boolean): number {
  const lines = headers.getLines('content-length');
  if (lines.length !== 1 || !/^\d{1,10}$/.test(lines[0])) return datagram || lines.length === 0 ? available : 0;
  return Math.min(Number(lines[0]), available);
}

function parseRequestLine(line: string, fields: HeaderField[]): { method: string; uri: string; version: string } {
  const partial = (): PartialMessage => ({ isRequest: true, method: line.split(' ')[0], fields });
  const parts = line.split(' ');
  if (parts.length !== 3 || parts.some((p) => p === '')) {
    const why = parts.length > 3 || parts.some((p) => p === '')
      ? 'request line must be "Method SP Request-URI SP SIP/2.0" with single spaces and nothing after'
      : 'request line has too few elements';
    throw new SipParseError('start-line', why, 'start-line', partial());
  }
  const [method, uri, version] = parts;
  if (!TOKEN.test(method)) throw new SipParseError('method', `bad method "${clip(method)}"`, 'start-line', partial());
  if (!/^SIP\/\d+\.\d+$/i.test(version)) throw new SipParseError('start-line', `bad protocol "${clip(version)}"`, 'start-line', partial());
  return { method, uri, version };
}

function parseStatusLine(line: string, fields: HeaderField[]): { status: number; reason: string } {
  const m = /^SIP\/(\d+\.\d+) (\d{3})(?: (.*))?$/.exec(line);
  if (!m) throw new SipParseError('status-code', `bad status line "${clip(line)}"`, 'start-line', { isRequest: false, fields });
  if (m[1] !== '2.0') throw new SipParseError('version', `SIP/${m[1]} is not supported`, 'start-line', { isRequest: false, fields });
  const status = Number(m[2]);
  if (status < 100 || status > 699) throw new SipParseError('status-code', `status ${status} out of range`, 'start-line', { isRequest: false, fields });
  return { status, reason: m[3] ?? '' };
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}
