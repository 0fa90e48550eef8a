import { SipParseError } from './errors.js';
import {
  ABSOLUTE_URI_REST, DIGITS, PARAM_CHARS, PASSWORD, SCHEME, URI_HEADER_NAME, URI_HEADER_VALUE, USER,
  isValidHost, unescapePercent,
} from './grammar.js';
import { Params } from './params.js';

/** A sip:, sips: or tel: URI, taken apart (RFC 3261 §19.1, RFC 3966). */
export class SipUri {
  constructor(
    public scheme: 'sip' | 'sips' | 'tel',
    public user: string | undefined,
    public host: string,
    public port: number | undefined = undefined,
    public params: Params = new Params(),
    /** Raw `name=value` URI headers (after `?`), still escaped. */
    public headers: Array<[string, string]> = [],
    public password: string | undefined = undefined,
  ) {}

  get isSecure(): boolean {
    return this.scheme === 'sips';
  }

  /** `host:port` as written, or host alone. */
  get hostport(): string {
    return this.port === undefined ? this.host : `${this.host}:${this.port}`;
  }

  /** URI parameter, e.g. `transport`, `lr`, `maddr`; `null` for flags. */
  param(name: string): string | null | undefined {
    return this.params.get(name);
  }

  clone(): SipUri {
    return new SipUri(this.scheme, this.user, this.host, this.port, this.params.clone(),
      this.headers.map(([k, v]) => [k, v] as [string, string]), this.password);
  }

  toString(): string {
    if (this.scheme === 'tel') return `tel:${this.user ?? this.host}${this.params}`;
    let s = `${this.scheme}:`;
    if (this.user !== undefined) {
      s += this.user;
      if (this.password !== undefined) s += `:${this.password}`;
      s += '@';
    }
    s += this.hostport + this.params.toString();
    if (this.headers.length > 0) s += '?' + this.headers.map(([k, v]) => `${k}=${v}`).join('&');
    return s;
  }
}

/** Any other absoluteURI (http:, isbn:, urn:...): legal in To/From/Contact, kept opaque. */
export class OpaqueUri {
  constructor(public scheme: string, public rest: string) {}
  get isSecure(): boolean {
    return false;
  }
  clone(): OpaqueUri {
    return new OpaqueUri(this.scheme, this.rest);
  }
  toString(): string {
    return `${this.scheme}:${this.rest}`;
  }
}

export type Uri = SipUri | OpaqueUri;

/** Parse any URI: sip/sips/tel into a SipUri, other schemes into an OpaqueUri. */
export function parseUri(text: string, where = 'URI'): Uri {
  const colon = text.indexOf(':');
  if (colon <= 0) throw new SipParseError('uri', `"${clip(text)}" has no scheme`, where);
  const scheme = text.slice(0, colon);
  if (!SCHEME.test(scheme)) throw new SipParseError('uri', `bad scheme "${clip(scheme)}"`, where);
  const rest = text.slice(colon + 1);
  const lower = scheme.toLowerCase();
  if (lower === 'sip' || lower === 'sips') return parseSipUri(lower, rest, where);
  if (lower === 'tel') return parseTelUri(rest, where);
  if (!ABSOLUTE_URI_REST.test(rest)) throw new SipParseError('uri', `bad characters in "${clip(text)}"`, where);
  return new OpaqueUri(scheme, rest);
}

/** Parse a URI that must be sip/sips/tel; another valid scheme is an 'unsupported-scheme' error. */
export function parseSipUriStrict(text: string, where = 'URI'): SipUri {
  const uri = parseUri(text, where);
  if (uri instanceof OpaqueUri) {
    throw new SipParseError('unsupported-scheme', `unsupported URI scheme "${uri.scheme}"`, where);
  }
  return uri;
}

function parseSipUri(scheme: 'sip' | 'sips', rest: string, where: string): SipUri {
  // The user part may hold ';' and '?' (RFC 3261 user-unreserved) but never a raw '@', so the
  // first '@' ends it; host, parameters and headers follow.
  const at = rest.indexOf('@');
  let user: string | undefined;
  let password: string | undefined;
  let hostPart = rest;
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    hostPart = rest.slice(at + 1);
    const pw = userinfo.indexOf(':');
    user = pw < 0 ? userinfo : userinfo.slice(0, pw);
    if (pw >= 0) password = userinfo.slice(pw + 1);
    if (!USER.test(user)) throw new SipParseError('uri', `bad user part "${clip(user)}"`, where);
    if (password !== undefined && !PASSWORD.test(password)) throw new SipParseError('uri', 'bad password part', where);
  }
  const q = hostPart.indexOf('?');
  const beforeHeaders = q < 0 ? hostPart : hostPart.slice(0, q);
  const semi = beforeHeaders.indexOf(';');
  const hostport = semi < 0 ? beforeHeaders : beforeHeaders.slice(0, semi);
  const { host, port } = parseHostPort(hostport, where);
  const params = semi < 0 ? new Params() : parseUriParams(beforeHeaders.slice(semi + 1), where);
  const headers = q < 0 ? [] : parseUriHeaders(hostPart.slice(q + 1), where);
  return new SipUri(scheme, user, host, port, params, headers, password);
}

function parseTelUri(rest: string, where: string): SipUri {
  const semi = rest.indexOf(';');
  const number = semi < 0 ? rest : rest.slice(0, semi);
  if (!/^\+?[0-9A-Fa-f*#\-.()pPwW]+$/.test(number)) throw new SipParseError('uri', `bad telephone number "${clip(number)}"`, where);
  const params = semi < 0 ? new Params() : parseUriParams(rest.slice(semi + 1), where);
  return new SipUri('tel', number, '', undefined, params);
}

export function parseHostPort(hostport: string, where: string): { host: string; port: number | undefined } {
  let host = hostport;
  let port: number | undefined;
  const close = hostport.lastIndexOf(']');
  const colon = hostport.lastIndexOf(':');
  if (colon > close && (close >= 0 || hostport.indexOf(':') === colon)) {
    host = hostport.slice(0, colon);
    const p = hostport.slice(colon + 1);
    if (!DIGITS.test(p) || p.length > 5 || Number(p) > 65535) throw new SipParseError('uri', `bad port "${clip(p)}"`, where);
    port = Number(p);
  }
  if (!isValidHost(host)) throw new SipParseError('uri', `bad host "${clip(host)}"`, where);
  return { host, port };
}

function parseUriParams(text: string, where: string): Params {
  const params = new Params();
  for (const piece of text.split(';')) {
    const eq = piece.indexOf('=');
    const name = eq < 0 ? piece : piece.slice(0, eq);
    if (!PARAM_CHARS.test(name)) throw new SipParseError('uri', `bad URI parameter "${clip(piece)}"`, where);
    if (eq < 0) params.set(name, null);
    else {
      const value = piece.slice(eq + 1);
      if (!PARAM_CHARS.test(value)) throw new SipParseError('uri', `bad value of URI parameter "${clip(name)}"`, where);
      params.set(name, value);
    }
  }
  return params;
}

function parseUriHeaders(text: string, where: string): Array<[string, string]> {
  return text.split('&').map((piece) => {
    const eq = piece.indexOf('=');
    const name = eq < 0 ? piece : piece.slice(0, eq);
    const value = eq < 0 ? '' : piece.slice(eq + 1);
    if (!URI_HEADER_NAME.test(name) || !URI_HEADER_VALUE.test(value)) {
      throw new SipParseError('uri', `bad URI header "${clip(piece)}"`, where);
    }
    return [name, value] as [string, string];
  });
}

/**
 * URI equality of RFC 3261 §19.1.4: user and password compared case-sensitively after
 * unescaping, host case-insensitively, and parameters that appear in both must match, while
 * user, ttl, method and maddr must appear in both or neither; transport defaults per scheme.
 */
export function uriEquals(a: Uri, b: Uri): boolean {
  if (a instanceof OpaqueUri || b instanceof OpaqueUri) {
    return a.toString().toLowerCase() === b.toString().toLowerCase();
  }
  if (a.scheme !== b.scheme) return false;
  if (a.scheme === 'tel') return a.user?.replace(/[-.()]/g, '') === b.user?.replace(/[-.()]/g, '');
  if ((a.user === undefined) !== (b.user === undefined)) return false;
  if (a.user !== undefined && unescapePercent(a.user) !== unescapePercent(b.user!)) return false;
  if ((a.password ?? '') !== (b.password ?? '')) return false;
  if (a.host.toLowerCase() !== b.host.toLowerCase() || a.port !== b.port) return false;
  for (const special of ['user', 'ttl', 'method', 'maddr', 'transport']) {
    const va = a.params.get(special);
    const vb = b.params.get(special);
    if ((va === undefined) !== (vb === undefined)) return false;
    if (va != null && vb != null && unescapePercent(va).toLowerCase() !== unescapePercent(vb).toLowerCase()) return false;
  }
  for (const [name, va] of a.params) {
    const vb = b.params.get(name);
    if (vb === undefined || va === null || vb === null) continue;
    if (unescapePercent(va).toLowerCase() !== unescapePercent(vb).toLowerCase()) return false;
  }
  const ha = new Map(a.headers.map(([k, v]) => [k.toLowerCase(), unescapePercent(v)]));
  const hb = new Map(b.headers.map(([k, v]) => [k.toLowerCase(), unescapePercent(v)]));
  if (ha.size !== hb.size) return false;
  for (const [k, v] of ha) if (hb.get(k) !== v) return false;
  return true;
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}
