import { SipParseError } from './errors.js';
import { TOKEN, quote, unquote } from './grammar.js';
import { Params, parseHeaderParams } from './params.js';
import { parseUri, type Uri } from './uri.js';

/**
 * The value of From, To, Contact, Route, Record-Route, Path...: `"Name" <uri>;param` or the bare
 * `uri;param` form, in which the parameters belong to the header, not the URI (RFC 3261 §20.10).
 */
export class NameAddr {
  constructor(
    public uri: Uri,
    public displayName: string | undefined = undefined,
    public params: Params = new Params(),
    /** Whether the URI was written in <...>; serialization always uses <...> when it has to. */
    public bracketed = true,
  ) {}

  get tag(): string | undefined {
    return this.params.get('tag') ?? undefined;
  }

  set tag(value: string | undefined) {
    if (value === undefined) this.params.delete('tag');
    else this.params.set('tag', value);
  }

  /** Display name without quotes, or undefined. */
  get name(): string | undefined {
    return this.displayName === undefined ? undefined : unquote(this.displayName);
  }

  clone(): NameAddr {
    return new NameAddr(this.uri.clone(), this.displayName, this.params.clone(), this.bracketed);
  }

  toString(): string {
    const uri = this.uri.toString();
    const needsBrackets = this.bracketed || this.displayName !== undefined || /[;,?]/.test(uri);
    const display = this.displayName === undefined ? '' : `${this.displayName} `;
    return needsBrackets ? `${display}<${uri}>${this.params}` : `${uri}${this.params}`;
  }

  static create(uri: Uri, displayName?: string, params?: Iterable<[string, string | null]>): NameAddr {
    const dn = displayName === undefined ? undefined : TOKEN.test(displayName) ? displayName : quote(displayName);
    return new NameAddr(uri, dn, new Params(params), true);
  }
}

/** Parse one name-addr / addr-spec with its header parameters. */
export function parseNameAddr(value: string, where: string): NameAddr {
  const text = value.trim();
  if (text === '') throw new SipParseError('header-value', 'empty value', where);
  let i = 0;
  let displayName: string | undefined;
  if (text.charCodeAt(0) === 0x22 /* " */) {
    const end = endOfQuoted(text, 0);
    if (end < 0) throw new SipParseError('header-value', 'unterminated quoted display name', where);
    displayName = text.slice(0, end + 1);
    i = skipWs(text, end + 1);
    if (text.charCodeAt(i) !== 0x3c) throw new SipParseError('header-value', 'display name not followed by <URI>', where);
  }
  const lt = text.indexOf('<', i);
  if (lt >= 0 && (displayName !== undefined || isDisplayNamePrefix(text.slice(0, lt)))) {
    if (displayName === undefined) {
      const raw = text.slice(0, lt).trim();
      displayName = raw === '' ? undefined : raw;
    }
    const gt = text.indexOf('>', lt);
    if (gt < 0) throw new SipParseError('header-value', 'missing ">"', where);
    const uriText = text.slice(lt + 1, gt);
    if (/[ \t]/.test(uriText)) throw new SipParseError('header-value', 'white space inside <URI>', where);
    const uri = parseUri(uriText, where);
    return new NameAddr(uri, displayName, parseHeaderParams(text.slice(gt + 1), where), true);
  }
  if (lt >= 0 && text.indexOf(':') > lt) {
    throw new SipParseError('header-value', `display name "${clip(text.slice(0, lt).trim())}" must be tokens or quoted`, where);
  }
  // addr-spec form: the URI ends at the first ';' or white space; a '?' or ',' here would need <>.
  const end = text.search(/[;\s]/);
  const uriText = end < 0 ? text : text.slice(0, end);
  if (uriText.includes('?')) throw new SipParseError('header-value', 'URI with headers must be enclosed in <>', where);
  const uri = parseUri(uriText, where);
  return new NameAddr(uri, undefined, parseHeaderParams(end < 0 ? '' : text.slice(end), where), false);
}

/** display-name = *(token LWS) / quoted-string: tokens separated by white space, nothing else. */
function isDisplayNamePrefix(s: string): boolean {
  const trimmed = s.trim();
  if (trimmed === '') return true;
  return trimmed.split(/[ \t]+/).every((t) => TOKEN.test(t));
}

function endOfQuoted(s: string, start: number): number {
  for (let i = start + 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x22) return i;
  }
  return -1;
}

function skipWs(s: string, i: number): number {
  while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  return i;
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}
