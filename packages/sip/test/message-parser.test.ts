import { describe, expect, it } from 'vitest';
import {
  NameAddr, OpaqueUri, SipParseError, SipRequest, SipResponse, SipUri, StreamFramer, createResponse, parseMessage,
  parseNameAddr, parseUri, parseVia, uriEquals, validateRequest,
} from '../src/message/index.js';

const register = [
  'REGISTER sip:pbx.example.com SIP/2.0',
  'Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK776asdhds;rport',
  'Max-Forwards: 70',
  'To: Bob <sip:bob@pbx.example.com>',
  'From: Bob <sip:bob@pbx.example.com>;tag=456248',
  'Call-ID: 843817637684230@998sdasdh09',
  'CSeq: 1826 REGISTER',
  'Contact: <sip:bob@10.0.0.5:5060>;expires=3600;+sip.instance="<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>";reg-id=1, <sip:bob@10.0.0.6>;q=0.5',
  'Expires: 7200',
  'Content-Length: 0',
  '', '',
].join('\r\n');

function req(text: string): SipRequest {
  const m = parseMessage(Buffer.from(text), { datagram: true });
  if (!(m instanceof SipRequest)) throw new Error('not a request');
  return m;
}

describe('parseMessage', () => {
  it('parses a REGISTER and its routing headers', () => {
    const m = req(register);
    expect(m.method).toBe('REGISTER');
    expect(m.uri).toBe('sip:pbx.example.com');
    expect(m.via.branch).toBe('z9hG4bK776asdhds');
    expect(m.via.rport).toBeNull();
    expect(m.via.transport).toBe('UDP');
    expect(m.cseq.seq).toBe(1826);
    expect(m.cseq.method).toBe('REGISTER');
    expect(m.from.tag).toBe('456248');
    expect(m.to.tag).toBeUndefined();
    expect(m.callId).toBe('843817637684230@998sdasdh09');
    expect(m.expires).toBe(7200);
    const contacts = m.contacts as NameAddr[];
    expect(contacts).toHaveLength(2);
    expect(contacts[0].params.get('+sip.instance')).toBe('"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"');
    expect(contacts[0].params.get('reg-id')).toBe('1');
    expect(contacts[1].params.get('q')).toBe('0.5');
    expect(validateRequest(m)).toBeUndefined();
  });

  it('serializes an unchanged message byte for byte, and a changed one with Content-Length', () => {
    const m = req(register);
    expect(m.toBuffer().toString()).toBe(register);
    m.set('Expires', 60);
    m.body = 'hello';
    const out = m.toString();
    expect(out).toContain('Expires: 60\r\n');
    expect(out).toContain('Content-Length: 5\r\n\r\nhello');
    expect(req(out).body.toString()).toBe('hello');
  });

  it('finds headers by compact form and any case, in order', () => {
    const m = req('OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/TCP h;branch=z9hG4bK1\r\nVIA: SIP/2.0/UDP g;branch=z9hG4bK2\r\nf: <sip:x@y>;tag=1\r\nt: <sip:a@b>\r\ni: abc\r\nCSEQ: 1 OPTIONS\r\nl: 0\r\n\r\n');
    expect(m.get('Call-ID')).toBe('abc');
    expect(m.get('content-length')).toBe('0');
    expect(m.vias.map((v) => v.host)).toEqual(['h', 'g']);
    expect([...m.headers].map((f) => f.name)).toEqual(['v', 'VIA', 'f', 't', 'i', 'CSEQ', 'l']);
  });

  it('unfolds continuation lines', () => {
    const m = req('OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nSubject: one\r\n  two\r\n\tthree\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n');
    expect(m.get('subject')).toBe('one two three');
  });

  it('parses responses, including an empty reason phrase', () => {
    const r = parseMessage(Buffer.from('SIP/2.0 180 \r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n'));
    expect(r).toBeInstanceOf(SipResponse);
    expect((r as SipResponse).status).toBe(180);
    expect((r as SipResponse).reason).toBe('');
  });

  it('throws typed errors naming the problem', () => {
    const bad = (text: string): SipParseError => {
      try {
        parseMessage(Buffer.from(text));
      } catch (e) {
        return e as SipParseError;
      }
      throw new Error('parsed');
    };
    expect(bad('INVITE  sip:a@b SIP/2.0\r\n\r\n').code).toBe('start-line');
    expect(bad('SIP/2.0 99999 Huge\r\n\r\n').code).toBe('status-code');
    expect(bad('INVITE sip:a@b SIP/2.0\r\nNo colon here\r\n\r\n').code).toBe('header-syntax');
    expect(bad('INVITE sip:a@b SIP/2.0\r\nNo colon here\r\n\r\n')).toBeInstanceOf(SipParseError);
    expect(bad('').code).toBe('truncated');
  });

  it('builds a response per RFC 3261 §8.2.6', () => {
    const m = req(register);
    const res = createResponse(m, 200, { toTag: 'abc', headers: { Expires: 3600 } });
    expect(res.status).toBe(200);
    expect(res.reason).toBe('OK');
    expect(res.to.tag).toBe('abc');
    expect(res.get('via')).toBe(m.get('via'));
    expect(res.cseq.seq).toBe(1826);
    expect(res.get('expires')).toBe('3600');
    const round = parseMessage(res.toBuffer()) as SipResponse;
    expect(round.status).toBe(200);
    expect(round.get('content-length')).toBe('0');
  });
});

describe('URIs', () => {
  it('parses sip, sips and tel URIs with params and headers', () => {
    const u = parseUri('sips:alice:secret@[2001:db8::1]:5061;transport=tls;lr?Subject=hi&Priority=urgent') as SipUri;
    expect(u.scheme).toBe('sips');
    expect(u.user).toBe('alice');
    expect(u.password).toBe('secret');
    expect(u.host).toBe('[2001:db8::1]');
    expect(u.port).toBe(5061);
    expect(u.param('transport')).toBe('tls');
    expect(u.param('lr')).toBeNull();
    expect(u.headers).toEqual([['Subject', 'hi'], ['Priority', 'urgent']]);
    expect(u.toString()).toBe('sips:alice:secret@[2001:db8::1]:5061;transport=tls;lr?Subject=hi&Priority=urgent');
    const t = parseUri('tel:+1-201-555-0123;phone-context=example.com') as SipUri;
    expect(t.scheme).toBe('tel');
    expect(t.user).toBe('+1-201-555-0123');
  });

  it('keeps other schemes opaque', () => {
    expect(parseUri('http://www.example.com/x')).toBeInstanceOf(OpaqueUri);
  });

  it('compares per RFC 3261 §19.1.4', () => {
    const eq = (a: string, b: string): boolean => uriEquals(parseUri(a), parseUri(b));
    expect(eq('sip:%61lice@atlanta.com;transport=TCP', 'sip:alice@AtLanTa.CoM;Transport=tcp')).toBe(true);
    expect(eq('sip:carol@chicago.com', 'sip:carol@chicago.com;newparam=5')).toBe(true);
    expect(eq('sip:alice@atlanta.com', 'sip:ALICE@atlanta.com')).toBe(false);
    expect(eq('sip:bob@biloxi.com', 'sip:bob@biloxi.com:5060')).toBe(false);
    expect(eq('sip:bob@biloxi.com', 'sip:bob@biloxi.com;transport=udp')).toBe(false);
    expect(eq('sip:carol@chicago.com;security=on', 'sip:carol@chicago.com;security=off')).toBe(false);
  });

  it('rejects malformed URIs with a typed error', () => {
    expect(() => parseUri('sip:user@host:99999')).toThrow(SipParseError);
    expect(() => parseUri('sip:us er@host')).toThrow(/user/);
    expect(() => parseUri('<sip:a@b>')).toThrow(/scheme/);
  });
});

describe('name-addr and Via', () => {
  it('parses display names, quoted or not, with header params', () => {
    const a = parseNameAddr('"Alice \\"A\\"" <sip:alice@a.com>;tag=1', 'From');
    expect(a.name).toBe('Alice "A"');
    expect(a.tag).toBe('1');
    const b = parseNameAddr('Bob Smith<sip:bob@b.com>', 'To');
    expect(b.displayName).toBe('Bob Smith');
    const c = parseNameAddr('sip:carol@c.com;tag=9', 'From');
    expect(c.tag).toBe('9');
    expect((c.uri as SipUri).params.size).toBe(0);
    expect(NameAddr.create(parseUri('sip:d@d.com'), 'D, Esq.').toString()).toBe('"D, Esq." <sip:d@d.com>');
  });

  it('parses Via with spaces around separators, received and rport', () => {
    const v = parseVia(' SIP  / 2.0  / tcp  host.example.com:5070 ; branch = z9hG4bKabc ; rport=1234;received=10.1.1.1');
    expect(v.transport).toBe('TCP');
    expect(v.port).toBe(5070);
    expect(v.branch).toBe('z9hG4bKabc');
    expect(v.rport).toBe(1234);
    expect(v.received).toBe('10.1.1.1');
    expect(v.isRfc3261Branch).toBe(true);
  });
});

describe('StreamFramer', () => {
  const msg = 'OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 4\r\n\r\nbody';
  it('frames messages split at any byte and answers keepalives', () => {
    const f = new StreamFramer();
    const bytes = Buffer.from(`\r\n\r\n${msg}${msg}\r\n`);
    const items = [];
    for (let i = 0; i < bytes.length; i++) items.push(...f.push(bytes.subarray(i, i + 1)));
    expect(items.map((i) => i.kind)).toEqual(['ping', 'message', 'message']);
    expect(items[1].kind === 'message' && items[1].data.toString()).toBe(msg);
    // The trailing CRLF is a pong once we know it is not the start of a ping.
    expect(f.push(Buffer.from(msg)).map((i) => i.kind)).toEqual(['pong', 'message']);
  });

  it('refuses a stream message without Content-Length or over the size bound', () => {
    expect(() => new StreamFramer().push(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\n\r\n'))).toThrow(/Content-Length is required/);
    expect(() => new StreamFramer(1000).push(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 5000\r\n\r\n'))).toThrow(SipParseError);
    expect(() => new StreamFramer(1000).push(Buffer.alloc(2000, 'a'))).toThrow(/no end of headers/);
  });
});

describe('more of RFC 3261 §20', () => {
  it('reads Contact: * as the wildcard', () => {
    const m = req('REGISTER sip:pbx SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@pbx>;tag=1\r\nTo: <sip:a@pbx>\r\nCall-ID: w\r\nCSeq: 2 REGISTER\r\nContact: *\r\nExpires: 0\r\n\r\n');
    expect(m.contacts).toBe('*');
    expect(m.contact).toBeUndefined();
    expect(validateRequest(m)).toBeUndefined();
  });

  it('compares escaped and plain user parts as equal (RFC 4475 esc01)', () => {
    expect(uriEquals(parseUri('sip:%75se%72@example.com'), parseUri('sip:user@example.com'))).toBe(true);
    expect(uriEquals(parseUri('sip:sips%3Auser%40example.com@example.net'), parseUri('sip:sips%3auser%40example%2Ecom@example.net'))).toBe(true);
  });

  it('leaves headers nobody reads unparsed (lazy): a broken Date does not fail validation', () => {
    const m = req('OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: lazy\r\nCSeq: 1 OPTIONS\r\nDate: not a date at all\r\nX-Weird: ;;,,;\r\n\r\n');
    expect(validateRequest(m)).toBeUndefined();
    expect(m.get('date')).toBe('not a date at all');
  });

  it('keeps bytes that are not UTF-8 exactly when re-serializing a changed message', () => {
    const raw = Buffer.concat([Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: "'), Buffer.from([0xff, 0xfe]), Buffer.from('" <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: bytes\r\nCSeq: 1 OPTIONS\r\n\r\n')]);
    const m = parseMessage(raw) as SipRequest;
    m.set('Max-Forwards', 69);
    expect(m.toBuffer().includes(Buffer.from([0x22, 0xff, 0xfe, 0x22]))).toBe(true);
  });

  it('folds two values of a single-value header in one line into a 400', () => {
    const m = req('OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>, <sip:c@d>\r\nCall-ID: two\r\nCSeq: 1 OPTIONS\r\n\r\n');
    expect(validateRequest(m)?.code).toBe('duplicate-header');
  });
});
