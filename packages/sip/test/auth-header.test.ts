import { describe, it, expect } from 'vitest';
import { formatAuthHeader, parseAuthHeader } from '../src/message/auth.js';
import { SipParseError } from '../src/message/errors.js';

function paramsOf(value: string): Record<string, string> {
  return Object.fromEntries(parseAuthHeader(value).params);
}

function parseErrorOf(value: string): SipParseError {
  try {
    parseAuthHeader(value);
  } catch (e) {
    if (e instanceof SipParseError) return e;
    throw e;
  }
  throw new Error(`expected ${JSON.stringify(value)} to be rejected`);
}

describe('parseAuthHeader', () => {
  it('parses the RFC 2617 §3.5 credentials, folded lines included', () => {
    const value =
      'Digest username="Mufasa",\r\n realm="testrealm@host.com",\r\n' +
      ' nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",\r\n uri="/dir/index.html",\r\n' +
      ' qop=auth,\r\n nc=00000001,\r\n cnonce="0a4f113b",\r\n' +
      ' response="6629fae49393a05397450978507c4ef1",\r\n opaque="5ccc069c403ebaf9f0171e9517f40e41"';
    const parsed = parseAuthHeader(value);
    expect(parsed.scheme).toBe('Digest');
    expect(Object.fromEntries(parsed.params)).toEqual({
      username: 'Mufasa',
      realm: 'testrealm@host.com',
      nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
      uri: '/dir/index.html',
      qop: 'auth',
      nc: '00000001',
      cnonce: '0a4f113b',
      response: '6629fae49393a05397450978507c4ef1',
      opaque: '5ccc069c403ebaf9f0171e9517f40e41',
    });
  });

  it('tolerates spaces and tabs around "=" and ","', () => {
    expect(paramsOf('  Digest \t realm =\t"atlanta.com" ,\tnonce=  "xyz"  ,algorithm = MD5 ,qop="auth" ')).toEqual({
      realm: 'atlanta.com',
      nonce: 'xyz',
      algorithm: 'MD5',
      qop: 'auth',
    });
  });

  it('resolves backslash escapes inside quoted strings', () => {
    expect(paramsOf('Digest realm="say \\"hi\\" \\\\ \\there", nonce="n"')).toEqual({
      realm: 'say "hi" \\ there',
      nonce: 'n',
    });
  });

  it('keeps commas and equals signs inside quoted values', () => {
    expect(paramsOf('Digest qop="auth,auth-int", domain="sip:a.com, sip:b.com", opaque="k=v,w"')).toEqual({
      qop: 'auth,auth-int',
      domain: 'sip:a.com, sip:b.com',
      opaque: 'k=v,w',
    });
  });

  it('lower-cases parameter names but keeps the scheme and values as written', () => {
    const parsed = parseAuthHeader('dIgEsT REALM="Mixed.Case", Algorithm=sha-256');
    expect(parsed.scheme).toBe('dIgEsT');
    expect(Object.fromEntries(parsed.params)).toEqual({ realm: 'Mixed.Case', algorithm: 'sha-256' });
  });

  it('accepts unquoted base64 values and empty list elements', () => {
    expect(paramsOf('Digest nonce=ab/c+d==, , realm=""')).toEqual({ nonce: 'ab/c+d==', realm: '' });
  });

  it('parses an unknown scheme (RFC 4475 regaut01)', () => {
    const parsed = parseAuthHeader('NoOneKnowsThisScheme opaque-data=here');
    expect(parsed.scheme).toBe('NoOneKnowsThisScheme');
    expect(Object.fromEntries(parsed.params)).toEqual({ 'opaque-data': 'here' });
  });

  it('leaves the params of a non-Digest token68 value empty instead of failing', () => {
    const parsed = parseAuthHeader('Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==');
    expect(parsed.scheme).toBe('Basic');
    expect(parsed.params.size).toBe(0);
  });

  it('accepts a bare scheme', () => {
    const parsed = parseAuthHeader('Digest');
    expect(parsed.scheme).toBe('Digest');
    expect(parsed.params.size).toBe(0);
  });

  it.each([
    ['unterminated quote', 'Digest nonce="x", realm="atlanta.com, opaque=y', 'unterminated quoted string'],
    ['missing "="', 'Digest realm "atlanta.com"', 'parameter realm has no value'],
    ['empty bare value', 'Digest realm=, nonce="x"', 'parameter realm is empty'],
    ['repeated directive', 'Digest nonce="a", nonce="b"', 'parameter nonce appears twice'],
    ['text glued to a quoted value', 'Digest realm="a"b', 'expected "," after parameter realm'],
    ['quote inside a bare value', 'Digest realm=a"b"', 'quote inside an unquoted value'],
    ['no separator', 'Digest realm="a" nonce="b"', 'expected "," after parameter realm'],
  ])('rejects Digest with %s', (_label, value, message) => {
    const error = parseErrorOf(value);
    expect(error.code).toBe('header-value');
    expect(error.where).toBe('Authorization');
    expect(error.message).toBe(`Authorization: ${message}`);
  });

  it.each([[''], ['   '], ['"Digest" realm="a"'], ['Dig/est realm="a"']])('rejects a missing or invalid scheme: %j', (value) => {
    expect(parseErrorOf(value).code).toBe('header-value');
  });

  it('names the header it was told about', () => {
    expect(() => parseAuthHeader('Digest realm="x', 'Proxy-Authenticate')).toThrow(
      'Proxy-Authenticate: unterminated quoted string',
    );
  });
});

describe('formatAuthHeader', () => {
  it('quotes a Digest challenge per RFC 7616, qop as a quoted list', () => {
    const value = formatAuthHeader({
      scheme: 'Digest',
      params: [
        ['realm', 'atlanta.com'],
        ['nonce', 'abc'],
        ['opaque', 'op'],
        ['algorithm', 'SHA-256'],
        ['qop', 'auth'],
        ['stale', 'true'],
      ],
    });
    expect(value).toBe('Digest realm="atlanta.com", nonce="abc", opaque="op", algorithm=SHA-256, qop="auth", stale=true');
  });

  it('writes qop and nc as tokens in credentials', () => {
    const value = formatAuthHeader({
      scheme: 'Digest',
      params: [
        ['username', 'bob'],
        ['realm', 'atlanta.com'],
        ['nonce', 'abc'],
        ['uri', 'sip:bob@atlanta.com'],
        ['response', '0123'],
        ['algorithm', 'MD5'],
        ['cnonce', 'c'],
        ['qop', 'auth'],
        ['nc', '00000001'],
      ],
    });
    expect(value).toBe(
      'Digest username="bob", realm="atlanta.com", nonce="abc", uri="sip:bob@atlanta.com", ' +
        'response="0123", algorithm=MD5, cnonce="c", qop=auth, nc=00000001',
    );
  });

  it('escapes quotes and backslashes, and the result parses back to the same values', () => {
    const params: Array<[string, string]> = [
      ['username', 'a "quoted" \\ user'],
      ['realm', 'r, with comma'],
      ['response', 'ff'],
    ];
    const value = formatAuthHeader({ scheme: 'Digest', params });
    expect(value).toBe('Digest username="a \\"quoted\\" \\\\ user", realm="r, with comma", response="ff"');
    expect(Object.fromEntries(parseAuthHeader(value).params)).toEqual(Object.fromEntries(params));
  });

  it('quotes any value that is not a token, and honours an explicit quoted set', () => {
    expect(formatAuthHeader({ scheme: 'Custom', params: [['a', 'plain'], ['b', 'has space']] })).toBe(
      'Custom a=plain, b="has space"',
    );
    expect(formatAuthHeader({ scheme: 'Digest', params: [['realm', 'x'], ['qop', 'auth']] }, new Set(['qop']))).toBe(
      'Digest realm=x, qop="auth"',
    );
  });

  it('refuses names that would not parse', () => {
    expect(() => formatAuthHeader({ scheme: 'Di gest', params: [] })).toThrow(TypeError);
    expect(() => formatAuthHeader({ scheme: 'Digest', params: [['bad name', 'x']] })).toThrow(TypeError);
  });
});
