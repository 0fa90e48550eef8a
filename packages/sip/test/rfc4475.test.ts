import { describe, expect, it } from 'vitest';
import { SipRequest, parseMessage, statusForParseError, validateRequest, validateResponse, type SipParseError } from '../src/message/index.js';
import { RFC4475_DIR, corpusAvailable, tortureCases } from '@psi-lab/testkit';

/**
 * Parser level: every RFC 4475 message parses or fails as EXPECTED.tsv says. The server level
 * (what goes back on the wire) is in rfc4475-server.test.ts.
 */
const have = corpusAvailable(RFC4475_DIR);

/** Outcome at the message layer: accepted, or the status a server would answer, or dropped. */
function outcome(data: Buffer): string {
  try {
    const m = parseMessage(data, { datagram: true });
    const err = m instanceof SipRequest ? validateRequest(m) : validateResponse(m);
    if (!err) return 'accepted';
    return m instanceof SipRequest ? String(statusForParseError(err).status) : 'dropped';
  } catch (e) {
    const err = e as SipParseError;
    return err.partial?.isRequest ? String(statusForParseError(err).status) : 'dropped';
  }
}

/** What the message layer alone must conclude; app-level outcomes (420, 415...) come later. */
const PARSER_OUTCOME: Record<string, string> = {
  'badinv01.dat': '400', 'clerr.dat': '400', 'ncl.dat': '400', 'scalar02.dat': '400', 'scalarlg.dat': 'dropped',
  'quotbal.dat': '400', 'ltgtruri.dat': '400', 'lwsruri.dat': '400', 'lwsstart.dat': '400', 'trws.dat': '400',
  'escruri.dat': '400', 'regbadct.dat': '400', 'badaspec.dat': '400', 'baddn.dat': '400', 'badvers.dat': '505',
  'mismatch01.dat': '400', 'mismatch02.dat': '400', 'bigcode.dat': 'dropped', 'insuf.dat': '400',
  'unkscm.dat': '416', 'novelsc.dat': '416', 'multi01.dat': '400', 'mcl01.dat': '400',
};

describe.skipIf(!have)('RFC 4475 torture messages at the parser', () => {
  const cases = have ? tortureCases() : [];
  it('has all 49 messages', () => {
    expect(cases).toHaveLength(49);
  });
  for (const c of cases) {
    const expected = PARSER_OUTCOME[c.file] ?? 'accepted';
    it(`${c.file} (§${c.section}, ${c.kind}) → ${expected}`, () => {
      expect(outcome(c.data)).toBe(expected);
    });
  }

  it('keeps %00 and odd characters intact (escnull, intmeth)', () => {
    const escnull = parseMessage(cases.find((c) => c.file === 'escnull.dat')!.data) as SipRequest;
    expect(escnull.to.uri.toString()).toBe('sip:null-%00-null@example.com');
    const intmeth = parseMessage(cases.find((c) => c.file === 'intmeth.dat')!.data) as SipRequest;
    expect(intmeth.method).toBe("!interesting-Method0123456789_*+`.%indeed'~");
    expect(intmeth.via.branch).toBe("z9hG4bK-.!%66*_+`'~");
  });

  it('reads the whitespace-laden wsinv headers', () => {
    const m = parseMessage(cases.find((c) => c.file === 'wsinv.dat')!.data) as SipRequest;
    expect(m.to.tag).toBe('1918181833n');
    expect(m.from.tag).toBe('98asjd8');
    expect(m.from.name).toBe('J Rosenberg \\"');
    expect(m.maxForwards).toBe(68);
    expect(m.cseq.seq).toBe(9);
    expect(m.vias.map((v) => v.transport)).toEqual(['UDP', 'TCP', 'UDP']);
    expect(m.contact?.params.get('q')).toBe('0.33');
    expect(m.get('NewFangledHeader')).toBe('newfangled value continued newfangled value');
  });

  it('takes only the first message of a datagram (dblreq)', () => {
    const m = parseMessage(cases.find((c) => c.file === 'dblreq.dat')!.data, { datagram: true }) as SipRequest;
    expect(m.method).toBe('REGISTER');
    expect(m.body.length).toBe(0);
  });
});
