/**
 * Character classes of RFC 3261 §25.1, as regular expressions compiled once. The parser validates
 * with these instead of hand-written loops: V8's regex engine is faster than per-char JS.
 */
const alphanum = 'A-Za-z0-9';
const mark = "\\-_.!~*'()";
const unreserved = `${alphanum}${mark}`;
const escaped = '%[0-9A-Fa-f]{2}';

/** token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~") */
export const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
export const TOKEN_CHAR = /[A-Za-z0-9\-.!%*_+`'~]/;
/** user = 1*( unreserved / escaped / user-unreserved ) */
export const USER = new RegExp(`^(?:[${unreserved}&=+$,;?/]|${escaped})+$`);
/** password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," ) */
export const PASSWORD = new RegExp(`^(?:[${unreserved}&=+$,]|${escaped})*$`);
/** paramchar = param-unreserved / unreserved / escaped */
export const PARAM_CHARS = new RegExp(`^(?:[${unreserved}\\[\\]/:&+$]|${escaped})+$`);
/** hname / hvalue of URI headers */
export const URI_HEADER_NAME = new RegExp(`^(?:[${unreserved}\\[\\]/?:+$]|${escaped})+$`);
export const URI_HEADER_VALUE = new RegExp(`^(?:[${unreserved}\\[\\]/?:+$]|${escaped})*$`);
/** hostname / IPv4address (the stricter forms are checked separately) */
export const HOSTNAME = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.?$/;
export const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
export const IPV6_REFERENCE = /^\[[0-9A-Fa-f:.]+\]$/;
/** scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
export const SCHEME = /^[A-Za-z][A-Za-z0-9+\-.]*$/;
/** The characters an absoluteURI (RFC 2396) may hold after its scheme. */
export const ABSOLUTE_URI_REST = new RegExp(`^(?:[${unreserved};/?:@&=+$,\\[\\]]|${escaped})+$`);
export const DIGITS = /^\d+$/;
export const WS = /[ \t]/;

export function isToken(s: string): boolean {
  return TOKEN.test(s);
}

export function isValidHost(host: string): boolean {
  if (host.length === 0) return false;
  if (host.charCodeAt(0) === 0x5b /* [ */) return IPV6_REFERENCE.test(host);
  return HOSTNAME.test(host) || IPV4.test(host);
}

/** Undo %-escapes; invalid escapes are left as they are (comparison then treats them literally). */
export function unescapePercent(s: string): string {
  if (s.indexOf('%') < 0) return s;
  try {
    return decodeURIComponent(s.replace(/%(?![0-9A-Fa-f]{2})/g, '%25'));
  } catch {
    // Escapes of bytes that are not UTF-8 (e.g. %FF) still compare equal byte by byte.
    return s.replace(/%([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
  }
}

/** Remove surrounding quotes of a quoted-string and resolve its backslash escapes. */
export function unquote(s: string): string {
  if (s.length >= 2 && s.charCodeAt(0) === 0x22 && s.charCodeAt(s.length - 1) === 0x22) {
    return s.slice(1, -1).replace(/\\(.)/g, '$1');
  }
  return s;
}

export function quote(s: string): string {
  return `"${s.replace(/(["\\])/g, '\\$1')}"`;
}

/**
 * Split a header value on a separator that is outside quoted strings and <...>. Used for
 * comma-separated header lists and ;-separated parameters.
 */
export function splitOutside(value: string, separator: string): string[] {
  const out: string[] = [];
  let start = 0;
  let inQuotes = false;
  let inAngle = false;
  const sep = separator.charCodeAt(0);
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (inQuotes) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22) inQuotes = false;
    } else if (c === 0x22) inQuotes = true;
    else if (c === 0x3c /* < */) inAngle = true;
    else if (c === 0x3e /* > */) inAngle = false;
    else if (c === sep && !inAngle) {
      out.push(value.slice(start, i));
      start = i + 1;
    }
  }
  if (inQuotes) throw new UnbalancedQuoteError();
  out.push(value.slice(start));
  return out;
}

export class UnbalancedQuoteError extends Error {
  constructor() {
    super('unterminated quoted string');
  }
}
