import { CSeq, parseCSeq } from './cseq.js';
import { SipParseError } from './errors.js';
import { Headers, type HeaderField } from './headers.js';
import { NameAddr, parseNameAddr } from './name-addr.js';
import { parseUri, type Uri } from './uri.js';
import { Via, parseVia } from './via.js';

export const SIP_VERSION = 'SIP/2.0';
const CRLF = '\r\n';
const EMPTY = Buffer.alloc(0);

export type HeaderInit = Iterable<[string, string | number]> | Record<string, string | number>;

/**
 * What requests and responses share: ordered headers, a body, and parsed views of the headers
 * routing needs. Parsed views are computed on first use (lazy parsing) and are read-only
 * snapshots: change a header with `set`/`append`/`prepend`, never by editing a view.
 */
export abstract class SipMessage {
  readonly headers: Headers;
  private bodyBytes: Buffer;
  /** The bytes this message was parsed from, reused by `toBuffer` while nothing has changed. */
  private raw: Buffer | undefined;
  private rawVersion = -1;
  private rawStartLine = '';
  /** How header text maps to octets: UTF-8, or one octet per char for input that was not UTF-8. */
  headerEncoding: 'utf8' | 'latin1' = 'utf8';

  protected constructor(headers: Headers, body: Buffer) {
    this.headers = headers;
    this.bodyBytes = body;
  }

  /** Remember the wire bytes (parser only), so an unchanged message is sent exactly as received. */
  keepRaw(raw: Buffer): this {
    this.raw = raw;
    this.rawVersion = this.headers.version;
    this.rawStartLine = this.startLine();
    return this;
  }

  abstract readonly isRequest: boolean;
  protected abstract startLine(): string;

  get body(): Buffer {
    return this.bodyBytes;
  }

  set body(value: Buffer | string) {
    this.bodyBytes = typeof value === 'string' ? Buffer.from(value) : value;
    this.raw = undefined;
  }

  /** First value of a header, e.g. `msg.get('Call-ID')`, `msg.get('i')`. */
  get(name: string): string | undefined {
    return this.headers.get(name);
  }

  /** Every value of a header; list headers are split at their commas. */
  getAll(name: string): string[] {
    return this.headers.getAll(name);
  }

  has(name: string): boolean {
    return this.headers.has(name);
  }

  set(name: string, value: string | number | undefined): this {
    this.headers.set(name, value === undefined ? undefined : String(value));
    return this;
  }

  append(name: string, value: string | number): this {
    this.headers.append(name, String(value));
    return this;
  }

  prepend(name: string, value: string | number): this {
    this.headers.prepend(name, String(value));
    return this;
  }

  remove(name: string): this {
    this.headers.remove(name);
    return this;
  }

  get callId(): string {
    return this.required('call-id');
  }

  get cseq(): CSeq {
    return this.headers.parsedView('cseq', () => parseCSeq(this.required('cseq')));
  }

  get from(): NameAddr {
    return this.headers.parsedView('from', () => parseNameAddr(this.required('from'), 'From'));
  }

  get to(): NameAddr {
    return this.headers.parsedView('to', () => parseNameAddr(this.required('to'), 'To'));
  }

  /** All Via entries, top first. */
  get vias(): Via[] {
    return this.headers.parsedView('via', () => {
      const values = this.headers.getAll('via');
      if (values.length === 0) throw new SipParseError('missing-header', 'no Via header', 'Via');
      return values.map(parseVia);
    });
  }

  get via(): Via {
    return this.vias[0];
  }

  /** Contacts, or `'*'` for the REGISTER wildcard; empty when there is no Contact. */
  get contacts(): NameAddr[] | '*' {
    return this.headers.parsedView('contact', () => {
      const values = this.headers.getAll('contact');
      if (values.length === 1 && values[0] === '*') return '*' as const;
      return values.map((v) => parseNameAddr(v, 'Contact'));
    });
  }

  get contact(): NameAddr | undefined {
    const c = this.contacts;
    return c === '*' ? undefined : c[0];
  }

  /** Route, Record-Route, Path, Service-Route: the name-addr list of that header. */
  routeSet(name: 'route' | 'record-route' | 'path' | 'service-route'): NameAddr[] {
    return this.headers.parsedView(name, () => this.headers.getAll(name).map((v) => parseNameAddr(v, name)));
  }

  get maxForwards(): number | undefined {
    const v = this.headers.get('max-forwards');
    return v === undefined ? undefined : parseScalar(v, 255, 'Max-Forwards');
  }

  get expires(): number | undefined {
    const v = this.headers.get('expires');
    return v === undefined ? undefined : parseScalar(v, 2 ** 32 - 1, 'Expires');
  }

  get contentType(): string | undefined {
    return this.headers.get('content-type');
  }

  /** Serialize: the received bytes when unchanged, else a fresh rendering with Content-Length set. */
  toBuffer(): Buffer {
    if (this.raw && this.rawVersion === this.headers.version && this.rawStartLine === this.startLine()) return this.raw;
    if (this.bodyBytes.length > 0 || this.headers.has('content-length')) {
      // Content-Length always describes the body we send: a stream peer frames by it.
      const declared = this.headers.get('content-length');
      if (declared !== String(this.bodyBytes.length)) this.headers.set('content-length', String(this.bodyBytes.length));
    } else {
      this.headers.set('content-length', '0');
    }
    let head = this.startLine() + CRLF;
    for (const f of this.headers) head += `${f.name}: ${f.value}${CRLF}`;
    head += CRLF;
    const headBytes = Buffer.from(head, this.headerEncoding);
    const buf = this.bodyBytes.length === 0 ? headBytes : Buffer.concat([headBytes, this.bodyBytes]);
    this.keepRaw(buf);
    return buf;
  }

  toString(): string {
    return this.toBuffer().toString();
  }

  private required(key: string): string {
    const v = this.headers.get(key);
    if (v === undefined) throw new SipParseError('missing-header', `no ${key} header`, key);
    return v;
  }
}

export class SipRequest extends SipMessage {
  readonly isRequest = true;
  method: string;
  /** As received; anything but SIP/2.0 is answered 505 by validation. */
  sipVersion = SIP_VERSION;
  private uriText: string;
  private uriParsed: Uri | undefined;

  constructor(method: string, uri: string | Uri, headers: Headers | HeaderInit = [], body: Buffer | string = EMPTY) {
    super(toHeaders(headers), typeof body === 'string' ? Buffer.from(body) : body);
    this.method = method;
    this.uriText = uri.toString();
    if (typeof uri !== 'string') this.uriParsed = uri;
  }

  /** The Request-URI as written. */
  get uri(): string {
    return this.uriText;
  }

  set uri(value: string) {
    this.uriText = value;
    this.uriParsed = undefined;
  }

  /** The Request-URI parsed (lazily). */
  get requestUri(): Uri {
    this.uriParsed ??= parseUri(this.uriText, 'Request-URI');
    return this.uriParsed;
  }

  protected startLine(): string {
    return `${this.method} ${this.uriText} ${this.sipVersion}`;
  }

  clone(): SipRequest {
    return new SipRequest(this.method, this.uriText, this.headers.clone(), this.body);
  }
}

export class SipResponse extends SipMessage {
  readonly isRequest = false;
  constructor(public status: number, public reason: string, headers: Headers | HeaderInit = [], body: Buffer | string = EMPTY) {
    super(toHeaders(headers), typeof body === 'string' ? Buffer.from(body) : body);
  }

  protected startLine(): string {
    return `${SIP_VERSION} ${this.status} ${this.reason}`;
  }

  clone(): SipResponse {
    return new SipResponse(this.status, this.reason, this.headers.clone(), this.body);
  }
}

export type AnySipMessage = SipRequest | SipResponse;

function toHeaders(init: Headers | HeaderInit): Headers {
  if (init instanceof Headers) return init;
  const h = new Headers();
  const entries = Symbol.iterator in init ? (init as Iterable<[string, string | number]>) : Object.entries(init);
  for (const [name, value] of entries) h.append(name, String(value));
  return h;
}

/** An unsigned decimal no larger than `max`; overlarge values are errors (RFC 4475 §3.1.2.4). */
export function parseScalar(value: string, max: number, where: string): number {
  const v = value.trim();
  if (!/^\d+$/.test(v)) throw new SipParseError('header-value', `"${v.slice(0, 20)}" is not a number`, where);
  const n = v.length > 16 ? Infinity : Number(v);
  if (n > max) throw new SipParseError('header-value', `value larger than ${max}`, where);
  return n;
}

export type { HeaderField };
