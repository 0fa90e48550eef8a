import { SipParseError } from './errors.js';
import { TOKEN } from './grammar.js';

/** CSeq numbers are 32-bit but must stay below 2^31 (RFC 3261 §8.1.1.5). */
export const MAX_CSEQ = 2 ** 31 - 1;

export class CSeq {
  constructor(public seq: number, public method: string) {}
  toString(): string {
    return `${this.seq} ${this.method}`;
  }
}

export function parseCSeq(value: string): CSeq {
  const m = /^\s*(\d+)\s+(\S+)\s*$/.exec(value);
  if (!m) throw new SipParseError('header-value', `bad CSeq "${value.trim().slice(0, 40)}"`, 'CSeq');
  if (m[1].length > 10 || Number(m[1]) > MAX_CSEQ) throw new SipParseError('header-value', 'sequence number too large', 'CSeq');
  if (!TOKEN.test(m[2])) throw new SipParseError('header-value', 'bad method', 'CSeq');
  return new CSeq(Number(m[1]), m[2]);
}
