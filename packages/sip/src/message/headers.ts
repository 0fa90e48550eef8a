import { splitOutside } from './grammar.js';

/** RFC 3261 §7.3.3 compact forms, plus the ones later RFCs registered. */
const COMPACT_FORMS: Record<string, string> = {
  a: 'accept-contact', b: 'referred-by', c: 'content-type', d: 'request-disposition',
  e: 'content-encoding', f: 'from', i: 'call-id', j: 'reject-contact', k: 'supported',
  l: 'content-length', m: 'contact', n: 'identity-info', o: 'event', r: 'refer-to', s: 'subject',
  t: 'to', u: 'allow-events', v: 'via', x: 'session-expires', y: 'identity',
};

/** How a header's name is written when we create it (received names are kept as received). */
const DISPLAY_NAMES: Record<string, string> = {
  'call-id': 'Call-ID', cseq: 'CSeq', 'www-authenticate': 'WWW-Authenticate', 'mime-version': 'MIME-Version',
  'rack': 'RAck', 'rseq': 'RSeq', 'sip-etag': 'SIP-ETag', 'sip-if-match': 'SIP-If-Match',
};

/**
 * Headers whose values may be combined into one comma-separated line (RFC 3261 §7.3.1). Others,
 * like the auth headers and Date, have commas inside one value and are never split.
 */
const LIST_HEADERS = new Set([
  'via', 'contact', 'route', 'record-route', 'path', 'service-route', 'allow', 'supported', 'require',
  'proxy-require', 'unsupported', 'accept', 'accept-encoding', 'accept-language', 'content-encoding',
  'allow-events', 'in-reply-to', 'call-info', 'alert-info', 'error-info', 'warning', 'reason',
  'accept-contact', 'reject-contact', 'security-client', 'security-server', 'security-verify',
]);

/** The lower-case long form a header is looked up by: `v` and `VIA` both become `via`. */
export function headerKey(name: string): string {
  const lower = name.toLowerCase();
  if (lower.length === 1) return COMPACT_FORMS[lower] ?? lower;
  return lower;
}

export function displayName(key: string): string {
  return DISPLAY_NAMES[key] ?? key.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}

export function isListHeader(key: string): boolean {
  return LIST_HEADERS.has(key);
}

export interface HeaderField {
  /** The name as written on the wire (compact, odd case...), kept when re-serializing. */
  name: string;
  /** Lower-case long form. */
  key: string;
  /** Unfolded value, surrounding white space trimmed. */
  value: string;
}

/**
 * The header fields of a message in their received order, looked up case-insensitively and by
 * compact form. Parsed views (Via, CSeq...) are cached per key and dropped when that key changes.
 */
export class Headers implements Iterable<HeaderField> {
  private readonly fields: HeaderField[];
  private readonly parsed = new Map<string, unknown>();
  /** Bumped on every change so a message knows its raw bytes no longer describe it. */
  version = 0;

  constructor(fields: HeaderField[] = []) {
    this.fields = fields;
  }

  [Symbol.iterator](): Iterator<HeaderField> {
    return this.fields[Symbol.iterator]();
  }

  get length(): number {
    return this.fields.length;
  }

  has(name: string): boolean {
    const key = headerKey(name);
    return this.fields.some((f) => f.key === key);
  }

  /** The first field's value, as written (a list header may hold several values in it). */
  get(name: string): string | undefined {
    const key = headerKey(name);
    for (const f of this.fields) if (f.key === key) return f.value;
    return undefined;
  }

  /** Every field with this name, one entry per header line. */
  getLines(name: string): string[] {
    const key = headerKey(name);
    const out: string[] = [];
    for (const f of this.fields) if (f.key === key) out.push(f.value);
    return out;
  }

  /** Every value: header lines, and for list headers each comma-separated element. */
  getAll(name: string): string[] {
    const key = headerKey(name);
    const lines = this.getLines(key);
    if (!isListHeader(key)) return lines;
    const out: string[] = [];
    for (const line of lines) {
      for (const v of splitOutside(line, ',')) {
        const t = v.trim();
        if (t !== '') out.push(t);
      }
    }
    return out;
  }

  /** Replace every field of this name by one (or remove them all with `undefined`). */
  set(name: string, value: string | undefined): this {
    const key = headerKey(name);
    const i = this.fields.findIndex((f) => f.key === key);
    this.removeKey(key);
    if (value !== undefined) {
      const field = { name: this.outputName(name, key), key, value };
      if (i >= 0) this.fields.splice(i, 0, field);
      else this.fields.push(field);
    }
    return this.changed(key);
  }

  append(name: string, value: string): this {
    const key = headerKey(name);
    this.fields.push({ name: this.outputName(name, key), key, value });
    return this.changed(key);
  }

  /** Put a field before the first of its kind (a new top Via, Record-Route...). */
  prepend(name: string, value: string): this {
    const key = headerKey(name);
    const i = this.fields.findIndex((f) => f.key === key);
    const field = { name: this.outputName(name, key), key, value };
    if (i < 0) this.fields.push(field);
    else this.fields.splice(i, 0, field);
    return this.changed(key);
  }

  remove(name: string): this {
    const key = headerKey(name);
    this.removeKey(key);
    return this.changed(key);
  }

  /** Remove the first value of a list header (the top Via of a response being forwarded). */
  removeFirstValue(name: string): this {
    const key = headerKey(name);
    const i = this.fields.findIndex((f) => f.key === key);
    if (i < 0) return this;
    const values = isListHeader(key) ? splitOutside(this.fields[i].value, ',') : [this.fields[i].value];
    if (values.length <= 1) this.fields.splice(i, 1);
    else this.fields[i] = { ...this.fields[i], value: values.slice(1).join(',').trim() };
    return this.changed(key);
  }

  /** The parsed view of a header, computed once by `parse` and kept until the header changes. */
  parsedView<T>(key: string, parse: () => T): T {
    if (this.parsed.has(key)) return this.parsed.get(key) as T;
    const value = parse();
    this.parsed.set(key, value);
    return value;
  }

  clone(): Headers {
    return new Headers(this.fields.map((f) => ({ ...f })));
  }

  private removeKey(key: string): void {
    for (let i = this.fields.length - 1; i >= 0; i--) if (this.fields[i].key === key) this.fields.splice(i, 1);
  }

  private outputName(name: string, key: string): string {
    return name === key || name.length === 1 ? displayName(key) : name;
  }

  private changed(key: string): this {
    this.parsed.delete(key);
    this.version++;
    return this;
  }
}
