/**
 * A small SDP model (RFC 4566 / RFC 8866) for plain RTP audio and video: enough to find where an
 * endpoint wants its media and to rewrite addresses and ports (the gateway's relay), or to build
 * and read plain audio offers and answers (offer-answer.ts), while every line nobody changes is
 * serialized back exactly as it came.
 */

/** Malformed SDP: the message says what is wrong and, when known, on which line. */
export class SdpError extends Error {
  override readonly name = 'SdpError';

  /** @param line 1-based line number of the offending line, when there is one. */
  constructor(message: string, readonly line?: number) {
    super(line === undefined ? `SDP: ${message}` : `SDP line ${line}: ${message}`);
  }
}

/** One `<type>=<value>` line; `type` is the single letter before `=`. */
export interface SdpLine {
  type: string;
  value: string;
}

/** A parsed `c=` value (or the address part of `a=rtcp:`). */
export interface SdpConnection {
  netType: string;
  addrType: string;
  address: string;
  /** `/ttl` and `/count` of multicast addresses, kept verbatim (starts with `/`), else ''. */
  suffix: string;
}

/** A parsed `o=` value. */
export interface SdpOrigin {
  username: string;
  sessionId: string;
  sessionVersion: string;
  netType: string;
  addrType: string;
  address: string;
}

export type SdpDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

const DIRECTIONS: readonly string[] = ['sendrecv', 'sendonly', 'recvonly', 'inactive'];
const LINE_PATTERN = /^([a-z])=(.*)$/;
const M_LINE_PATTERN = /^(\S+) +(\S+) +(\S+)((?: +\S+)*)\s*$/;

/** The attribute name of an `a=` line (`rtcp` for `a=rtcp:5001`), or undefined for other lines. */
export function attributeName(line: SdpLine): string | undefined {
  if (line.type !== 'a') return undefined;
  const colon = line.value.indexOf(':');
  return colon < 0 ? line.value : line.value.slice(0, colon);
}

/** The value after `name:` of an `a=` line ('' for a flag such as `a=rtcp-mux`). */
export function attributeValue(line: SdpLine): string {
  const colon = line.value.indexOf(':');
  return colon < 0 ? '' : line.value.slice(colon + 1);
}

/** Parses a `c=` value such as `IN IP4 192.0.2.1` or `IN IP4 224.2.1.1/127/3`. */
export function parseConnection(value: string, lineNumber?: number): SdpConnection {
  const fields = value.trim().split(/\s+/);
  if (fields.length !== 3 || fields.some((f) => f === '')) {
    throw new SdpError(`c= wants "<nettype> <addrtype> <address>", got "${value}"`, lineNumber);
  }
  const [netType, addrType, full] = fields;
  const slash = full.indexOf('/');
  const address = slash < 0 ? full : full.slice(0, slash);
  if (address === '') throw new SdpError(`c= has an empty address: "${value}"`, lineNumber);
  return { netType, addrType, address, suffix: slash < 0 ? '' : full.slice(slash) };
}

export function formatConnection(c: SdpConnection): string {
  return `${c.netType} ${c.addrType} ${c.address}${c.suffix}`;
}

/** `IP6` for an address containing a colon, `IP4` otherwise. */
export function addressType(address: string): 'IP4' | 'IP6' {
  return address.includes(':') ? 'IP6' : 'IP4';
}

/** True for 0.0.0.0 and ::, the "do not send to me" addresses (RFC 3264 old-style hold). */
export function isUnspecifiedAddress(address: string): boolean {
  return address === '0.0.0.0' || (address.includes(':') && /^[0:]+$/.test(address));
}

function parsePort(text: string, what: string, lineNumber: number | undefined, min: number): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= min && port <= 65535)) throw new SdpError(`${what} "${text}" is not a number ${min}–65535`, lineNumber);
  return port;
}

/** One media section: its `m=` line (parsed) and the lines after it up to the next `m=`. */
export class SdpMediaSection {
  private readonly originalMLine: string;
  /** The original fields formatted canonically, to tell whether any field has changed since. */
  private readonly originalFields: string;

  constructor(
    public media: string,
    public port: number,
    public portCount: number | undefined,
    public proto: string,
    public formats: string[],
    readonly lines: SdpLine[],
    mLineText?: string,
  ) {
    this.originalFields = this.formatMLine();
    this.originalMLine = mLineText ?? this.originalFields;
  }

  /** Parses an `m=` value; `lineNumber` is for error messages. */
  static parseMLine(value: string, lineNumber: number): SdpMediaSection {
    const match = M_LINE_PATTERN.exec(value);
    if (!match) throw new SdpError(`m= wants "<media> <port> <proto> <fmt> ...", got "${value}"`, lineNumber);
    const [, media, portText, proto, formatText] = match;
    const formats = formatText.trim() === '' ? [] : formatText.trim().split(/ +/);
    if (formats.length === 0) throw new SdpError(`m= line "${value}" lists no format`, lineNumber);
    const [portPart, countPart] = portText.split('/', 2);
    const port = parsePort(portPart, 'm= port', lineNumber, 0);
    const portCount = countPart === undefined ? undefined : parsePort(countPart, 'm= port count', lineNumber, 1);
    return new SdpMediaSection(media, port, portCount, proto, formats, [], value);
  }

  /** The `m=` value as it will be serialized: the original text unless a field changed. */
  get mLineValue(): string {
    const current = this.formatMLine();
    return current === this.originalFields ? this.originalMLine : current;
  }

  /** The media-level `c=`, if the section has one. */
  get connection(): SdpConnection | undefined {
    const line = this.lines.find((l) => l.type === 'c');
    return line ? parseConnection(line.value) : undefined;
  }

  /** Values of every `a=<name>` / `a=<name>:<value>` line of this section, in order. */
  attributes(name: string): string[] {
    return this.lines.filter((l) => attributeName(l) === name).map(attributeValue);
  }

  hasAttribute(name: string): boolean {
    return this.lines.some((l) => attributeName(l) === name);
  }

  /** Removes every `a=` line whose name is in `names`. */
  removeAttributes(names: ReadonlySet<string>): void {
    removeLines(this.lines, (l) => names.has(attributeName(l) ?? ''));
  }

  private formatMLine(): string {
    const port = this.portCount === undefined ? `${this.port}` : `${this.port}/${this.portCount}`;
    return [this.media, port, this.proto, ...this.formats].join(' ');
  }
}

function removeLines(lines: SdpLine[], predicate: (line: SdpLine) => boolean): void {
  for (let i = lines.length - 1; i >= 0; i--) if (predicate(lines[i])) lines.splice(i, 1);
}

/** A whole session description: session-level lines (from `v=` on) and the media sections. */
export class SessionDescription {
  constructor(readonly sessionLines: SdpLine[], readonly media: SdpMediaSection[]) {}

  /** Parses SDP text; LF or CRLF line endings, blank lines ignored. Throws SdpError when malformed. */
  static parse(input: string | Buffer): SessionDescription {
    const text = typeof input === 'string' ? input : input.toString('utf8');
    const sessionLines: SdpLine[] = [];
    const media: SdpMediaSection[] = [];
    let lineNumber = 0;
    for (const raw of text.split(/\r?\n/)) {
      lineNumber++;
      if (raw.trim() === '') continue;
      const match = LINE_PATTERN.exec(raw);
      if (!match) throw new SdpError(`"${raw}" is not a "<type>=<value>" line`, lineNumber);
      const line = { type: match[1], value: match[2] };
      if (sessionLines.length === 0) {
        if (line.type !== 'v') throw new SdpError(`SDP must start with v=0, got "${raw}"`, lineNumber);
        if (line.value !== '0') throw new SdpError(`unsupported version "v=${line.value}" (only v=0)`, lineNumber);
      }
      if (line.type === 'm') media.push(SdpMediaSection.parseMLine(line.value, lineNumber));
      else if (line.type === 'c') {
        parseConnection(line.value, lineNumber);
        (media.at(-1)?.lines ?? sessionLines).push(line);
      } else (media.at(-1)?.lines ?? sessionLines).push(line);
    }
    if (sessionLines.length === 0) throw new SdpError('empty body (no v= line)');
    const sdp = new SessionDescription(sessionLines, media);
    sdp.validate();
    return sdp;
  }

  /** The session-level `c=`, if there is one. */
  get connection(): SdpConnection | undefined {
    const line = this.sessionLines.find((l) => l.type === 'c');
    return line ? parseConnection(line.value) : undefined;
  }

  get origin(): SdpOrigin {
    const line = this.sessionLines.find((l) => l.type === 'o');
    if (!line) throw new SdpError('no o= line');
    const [username, sessionId, sessionVersion, netType, addrType, address] = line.value.split(' ');
    return { username, sessionId, sessionVersion, netType, addrType, address };
  }

  set origin(o: SdpOrigin) {
    const line = this.sessionLines.find((l) => l.type === 'o');
    if (!line) throw new SdpError('no o= line');
    line.value = [o.username, o.sessionId, o.sessionVersion, o.netType, o.addrType, o.address].join(' ');
  }

  /** Values of the session-level `a=<name>` lines. */
  attributes(name: string): string[] {
    return this.sessionLines.filter((l) => attributeName(l) === name).map(attributeValue);
  }

  /** Removes every session-level `a=` line whose name is in `names`. */
  removeAttributes(names: ReadonlySet<string>): void {
    removeLines(this.sessionLines, (l) => names.has(attributeName(l) ?? ''));
  }

  /** The SDP text with CRLF line endings (and a final CRLF). */
  toString(): string {
    const lines = this.sessionLines.map((l) => `${l.type}=${l.value}`);
    for (const section of this.media) {
      lines.push(`m=${section.mLineValue}`, ...section.lines.map((l) => `${l.type}=${l.value}`));
    }
    return `${lines.join('\r\n')}\r\n`;
  }

  toBuffer(): Buffer {
    return Buffer.from(this.toString(), 'utf8');
  }

  private validate(): void {
    const origin = this.sessionLines.find((l) => l.type === 'o');
    if (!origin) throw new SdpError('no o= line');
    const fields = origin.value.split(' ');
    if (fields.length !== 6 || fields.some((f) => f === '')) {
      throw new SdpError(`o= wants 6 fields "<username> <sess-id> <sess-version> <nettype> <addrtype> <address>", got "${origin.value}"`);
    }
    if (this.media.length === 0) throw new SdpError('no m= line');
    this.media.forEach((section, index) => {
      if (section.port !== 0 && !effectiveConnection(this, index)) {
        throw new SdpError(`media section ${index} (${section.media}) has no c= line and there is no session-level c=`);
      }
      rtcpAttribute(section);
    });
  }
}

/** The connection of media section `index`: its own `c=` or else the session-level one. */
export function effectiveConnection(sdp: SessionDescription, index: number): SdpConnection | undefined {
  return sdp.media[index]?.connection ?? sdp.connection;
}

/** The RFC 3605 `a=rtcp:<port> [<nettype> <addrtype> <address>]` of a section, if present. */
export function rtcpAttribute(section: SdpMediaSection): { port: number; connection?: SdpConnection } | undefined {
  const value = section.attributes('rtcp')[0];
  if (value === undefined) return undefined;
  const [portText, ...rest] = value.trim().split(/\s+/);
  const port = parsePort(portText, 'a=rtcp port', undefined, 1);
  return rest.length === 0 ? { port } : { port, connection: parseConnection(rest.join(' ')) };
}

/** True when the section carries `a=rtcp-mux` (RFC 5761). */
export function hasRtcpMux(section: SdpMediaSection): boolean {
  return section.hasAttribute('rtcp-mux');
}

/** The direction of media section `index`: its own attribute, else the session-level one, else sendrecv. */
export function directionOf(sdp: SessionDescription, index: number): SdpDirection {
  const section = sdp.media[index];
  const own = section?.lines.map(attributeName).find((n) => n !== undefined && DIRECTIONS.includes(n));
  const session = sdp.sessionLines.map(attributeName).find((n) => n !== undefined && DIRECTIONS.includes(n));
  return (own ?? session ?? 'sendrecv') as SdpDirection;
}
