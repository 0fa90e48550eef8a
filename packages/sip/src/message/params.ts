import { SipParseError } from './errors.js';
import { TOKEN, splitOutside, UnbalancedQuoteError } from './grammar.js';

/**
 * An ordered list of `;name=value` parameters, looked up case-insensitively, serialized in the
 * order received so that a forwarded header keeps its shape. A value of `null` is a flag (`;lr`).
 */
export class Params {
  private readonly entries: Array<[string, string | null]>;

  constructor(entries: Iterable<[string, string | null]> = []) {
    this.entries = [...entries];
  }

  get size(): number {
    return this.entries.length;
  }

  has(name: string): boolean {
    return this.indexOf(name) >= 0;
  }

  /** The raw value (quotes kept); `null` for a flag; `undefined` when absent. */
  get(name: string): string | null | undefined {
    const i = this.indexOf(name);
    return i < 0 ? undefined : this.entries[i][1];
  }

  set(name: string, value: string | null = null): this {
    const i = this.indexOf(name);
    if (i < 0) this.entries.push([name, value]);
    else this.entries[i] = [this.entries[i][0], value];
    return this;
  }

  delete(name: string): boolean {
    const i = this.indexOf(name);
    if (i < 0) return false;
    this.entries.splice(i, 1);
    return true;
  }

  [Symbol.iterator](): IterableIterator<[string, string | null]> {
    return this.entries[Symbol.iterator]();
  }

  clone(): Params {
    return new Params(this.entries.map(([k, v]) => [k, v] as [string, string | null]));
  }

  /** `;a=1;b` — empty string when there are none. */
  toString(): string {
    let s = '';
    for (const [k, v] of this.entries) s += v === null ? `;${k}` : `;${k}=${v}`;
    return s;
  }

  private indexOf(name: string): number {
    const wanted = name.toLowerCase();
    for (let i = 0; i < this.entries.length; i++) {
      const k = this.entries[i][0];
      if (k === name || k.toLowerCase() === wanted) return i;
    }
    return -1;
  }
}

/**
 * Parse the header parameters that follow a header value: `; name = value` with linear white
 * space allowed around the separators (RFC 3261 §7.3.1), values being tokens, hosts or quoted
 * strings. `text` starts right after the value, at the first `;` (or is empty).
 */
export function parseHeaderParams(text: string, where: string): Params {
  const params = new Params();
  const trimmed = text.trim();
  if (trimmed === '') return params;
  if (trimmed.charCodeAt(0) !== 0x3b /* ; */) {
    throw new SipParseError('header-value', `unexpected "${trimmed.slice(0, 20)}" before parameters`, where);
  }
  let pieces: string[];
  try {
    pieces = splitOutside(trimmed.slice(1), ';');
  } catch (e) {
    if (e instanceof UnbalancedQuoteError) throw new SipParseError('header-value', e.message, where);
    throw e;
  }
  for (const piece of pieces) {
    const eq = piece.indexOf('=');
    const name = (eq < 0 ? piece : piece.slice(0, eq)).trim();
    if (!TOKEN.test(name)) throw new SipParseError('header-value', `bad parameter name "${name}"`, where);
    if (eq < 0) {
      params.set(name, null);
      continue;
    }
    const value = piece.slice(eq + 1).trim();
    if (!isParamValue(value)) throw new SipParseError('header-value', `bad value for parameter "${name}"`, where);
    params.set(name, value);
  }
  return params;
}

/** gen-value = token / host / quoted-string */
function isParamValue(value: string): boolean {
  if (value.length === 0) return false;
  if (value.charCodeAt(0) === 0x22) return value.length >= 2 && value.charCodeAt(value.length - 1) === 0x22;
  return TOKEN.test(value) || /^\[[0-9A-Fa-f:.]+\]$/.test(value);
}
