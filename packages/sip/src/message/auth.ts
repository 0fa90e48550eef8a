import { SipParseError } from './errors.js';

/**
 * Values of WWW-Authenticate, Proxy-Authenticate, Authorization and Proxy-Authorization
 * (RFC 3261 §25.1, RFC 7616 §3.3-3.4). One header value holds exactly one challenge or one set of
 * credentials: SIP never folds several challenges into one value, because the commas inside
 * a challenge would make the split ambiguous.
 */
export interface AuthHeader {
  /** As written ("Digest", "digest"...): compare case-insensitively. */
  scheme: string;
  /** Names lower-cased, values unquoted with backslash escapes resolved. */
  params: Map<string, string>;
}

// RFC 3261 token plus the extra tchar of RFC 7230 ("#$&^|"), which HTTP-born stacks emit.
const TOKEN_CHARS = /^[A-Za-z0-9\-.!%*_+`'~#$&^|]+$/;
const TOKEN_CHAR = /[A-Za-z0-9\-.!%*_+`'~#$&^|]/;
// RFC 7235 §2.1 token68: an opaque blob such as Basic credentials ("QWxh...ZQ==").
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;

// CR and LF count as whitespace so a value that still carries a folded line parses the same.
function isWhitespace(ch: string | undefined): boolean {
  return ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n';
}

class ParamScanner {
  pos = 0;
  constructor(readonly text: string) {}

  get done(): boolean {
    return this.pos >= this.text.length;
  }

  peek(): string | undefined {
    return this.text[this.pos];
  }

  skipWhitespace(): void {
    while (isWhitespace(this.text[this.pos])) this.pos++;
  }

  token(): string {
    const start = this.pos;
    while (this.pos < this.text.length && TOKEN_CHAR.test(this.text[this.pos])) this.pos++;
    return this.text.slice(start, this.pos);
  }

  /** The opening quote must be at pos. Returns the content with quoted-pairs resolved. */
  quotedString(): string {
    this.pos++;
    let out = '';
    while (this.pos < this.text.length) {
      const ch = this.text[this.pos++];
      if (ch === '"') return out;
      if (ch === '\\') {
        if (this.pos >= this.text.length) break;
        out += this.text[this.pos++];
      } else {
        out += ch;
      }
    }
    throw new Error('unterminated quoted string');
  }

  /**
   * Unquoted values are read up to the next separator rather than as strict tokens: servers in
   * the wild send unquoted base64 nonces ("nonce=ab/c+d=="), and refusing those gains nothing.
   */
  bareValue(): string {
    const start = this.pos;
    while (this.pos < this.text.length) {
      const ch = this.text[this.pos];
      if (ch === ',' || isWhitespace(ch)) break;
      if (ch === '"') throw new Error('quote inside an unquoted value');
      this.pos++;
    }
    return this.text.slice(start, this.pos);
  }
}

function parseParams(text: string): Map<string, string> {
  const params = new Map<string, string>();
  const scanner = new ParamScanner(text);
  for (;;) {
    scanner.skipWhitespace();
    // Empty list elements ("a=1, , b=2") are allowed by the #rule of RFC 7230 §7.
    if (scanner.peek() === ',') {
      scanner.pos++;
      continue;
    }
    if (scanner.done) return params;

    const name = scanner.token().toLowerCase();
    if (!name) throw new Error(`unexpected character ${JSON.stringify(scanner.peek())}`);
    scanner.skipWhitespace();
    if (scanner.peek() !== '=') throw new Error(`parameter ${name} has no value`);
    scanner.pos++;
    scanner.skipWhitespace();
    const isQuoted = scanner.peek() === '"';
    const value = isQuoted ? scanner.quotedString() : scanner.bareValue();
    // An empty quoted-string is legal (realm=""); an empty bare value is a truncated header.
    if (value === '' && !isQuoted) throw new Error(`parameter ${name} is empty`);
    // Two values for one directive leave the verifier guessing which one the client meant.
    if (params.has(name)) throw new Error(`parameter ${name} appears twice`);
    params.set(name, value);

    scanner.skipWhitespace();
    if (scanner.done) return params;
    if (scanner.peek() !== ',') throw new Error(`expected "," after parameter ${name}`);
    scanner.pos++;
  }
}

/**
 * Parses one challenge or credentials value. Digest values must be a well-formed list of
 * name=value pairs. Other schemes only need a valid scheme token: their parameters are kept
 * when they happen to be name=value pairs and left empty otherwise (token68 blobs such as Basic
 * credentials), so a verifier can answer "not Digest" instead of failing on the syntax.
 */
export function parseAuthHeader(value: string, headerName = 'Authorization'): AuthHeader {
  const text = value.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '');
  let schemeEnd = 0;
  while (schemeEnd < text.length && TOKEN_CHAR.test(text[schemeEnd])) schemeEnd++;
  const scheme = text.slice(0, schemeEnd);
  if (!scheme) throw new SipParseError('header-value', 'missing authentication scheme', headerName);
  if (schemeEnd < text.length && !isWhitespace(text[schemeEnd])) {
    throw new SipParseError(
      'header-value',
      `invalid character ${JSON.stringify(text[schemeEnd])} in scheme`,
      headerName,
    );
  }

  const rest = text.slice(schemeEnd);
  const isDigest = scheme.toLowerCase() === 'digest';
  // Its trailing "=" padding would otherwise read as a parameter named after the blob.
  if (!isDigest && TOKEN68.test(rest.trim())) return { scheme, params: new Map() };
  try {
    return { scheme, params: parseParams(rest) };
  } catch (e) {
    if (!isDigest) return { scheme, params: new Map() };
    const reason = e instanceof Error ? e.message : String(e);
    throw new SipParseError('header-value', reason, headerName);
  }
}

// RFC 7616 §3.3-3.4 (and RFC 3261 §25.1): these Digest directives are always quoted-strings.
const DIGEST_QUOTED = new Set(['realm', 'nonce', 'opaque', 'username', 'uri', 'response', 'cnonce', 'domain']);

function quoteString(value: string): string {
  return `"${value.replace(/["\\]/g, (ch) => `\\${ch}`)}"`;
}

/**
 * Serializes a challenge or credentials value. Without `quoted`, Digest follows RFC 7616:
 * the directives above are quoted; qop is a quoted list in a challenge but a bare token in
 * credentials (told apart by the presence of "response"); algorithm, nc and stale are tokens.
 * Any value that is not a valid token is quoted regardless, so the output always parses.
 */
export function formatAuthHeader(
  h: { scheme: string; params: Array<[string, string]> },
  quoted?: Set<string>,
): string {
  if (!TOKEN_CHARS.test(h.scheme)) throw new TypeError(`invalid authentication scheme ${JSON.stringify(h.scheme)}`);
  let mustQuote: Set<string>;
  if (quoted) {
    mustQuote = new Set([...quoted].map((name) => name.toLowerCase()));
  } else if (h.scheme.toLowerCase() === 'digest') {
    mustQuote = new Set(DIGEST_QUOTED);
    const isCredentials = h.params.some(([name]) => name.toLowerCase() === 'response');
    if (!isCredentials) mustQuote.add('qop');
  } else {
    mustQuote = new Set();
  }

  const rendered = h.params.map(([name, value]) => {
    if (!TOKEN_CHARS.test(name)) throw new TypeError(`invalid parameter name ${JSON.stringify(name)}`);
    const asToken = !mustQuote.has(name.toLowerCase()) && TOKEN_CHARS.test(value);
    return `${name}=${asToken ? value : quoteString(value)}`;
  });
  return rendered.length ? `${h.scheme} ${rendered.join(', ')}` : h.scheme;
}
