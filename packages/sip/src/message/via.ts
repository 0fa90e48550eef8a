import { SipParseError } from './errors.js';
import { TOKEN } from './grammar.js';
import { Params, parseHeaderParams } from './params.js';
import { parseHostPort } from './uri.js';

/** RFC 3261's magic cookie: a branch starting with it is globally unique (§8.1.1.7). */
export const BRANCH_MAGIC_COOKIE = 'z9hG4bK';

/** One Via entry: `SIP/2.0/UDP host:port;branch=...;rport;received=...`. */
export class Via {
  constructor(
    public transport: string,
    public host: string,
    public port: number | undefined = undefined,
    public params: Params = new Params(),
    public protocol = 'SIP',
    public version = '2.0',
  ) {}

  get branch(): string | undefined {
    return this.params.get('branch') ?? undefined;
  }

  /** True when the branch carries the RFC 3261 cookie, so it alone identifies the transaction. */
  get isRfc3261Branch(): boolean {
    return this.branch?.startsWith(BRANCH_MAGIC_COOKIE) ?? false;
  }

  get received(): string | undefined {
    return this.params.get('received') ?? undefined;
  }

  /** `undefined` without rport, `null` for a bare `;rport` request, the port when filled in. */
  get rport(): number | null | undefined {
    const v = this.params.get('rport');
    if (v === undefined) return undefined;
    return v === null ? null : Number(v);
  }

  get hostport(): string {
    return this.port === undefined ? this.host : `${this.host}:${this.port}`;
  }

  clone(): Via {
    return new Via(this.transport, this.host, this.port, this.params.clone(), this.protocol, this.version);
  }

  toString(): string {
    return `${this.protocol}/${this.version}/${this.transport} ${this.hostport}${this.params}`;
  }
}

/** Parse one Via value (one element of the comma-separated list). */
export function parseVia(value: string): Via {
  // sent-protocol = protocol-name SLASH protocol-version SLASH transport, with LWS allowed
  // around each slash (RFC 4475 §3.1.1.1 sends "SIP  /   2.0  / TCP").
  const m = /^\s*([^\s/]+)\s*\/\s*([^\s/]+)\s*\/\s*([^\s/]+)\s+([^;\s]+)\s*(;.*)?$/s.exec(value);
  if (!m) throw new SipParseError('header-value', `bad Via "${value.trim().slice(0, 60)}"`, 'Via');
  const [, protocol, version, transport, hostport, rest] = m;
  if (!TOKEN.test(protocol) || !TOKEN.test(version) || !TOKEN.test(transport)) {
    throw new SipParseError('header-value', 'bad sent-protocol', 'Via');
  }
  const { host, port } = parseHostPort(hostport, 'Via');
  const params = parseHeaderParams(rest ?? '', 'Via');
  const rport = params.get('rport');
  if (typeof rport === 'string' && !/^\d{1,5}$/.test(rport)) throw new SipParseError('header-value', 'bad rport', 'Via');
  return new Via(transport.toUpperCase(), host, port, params, protocol, version);
}
