import { SipParseError } from './errors.js';

export const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024;

export type FramedItem =
  | { kind: 'message'; data: Buffer }
  /** RFC 5626 §3.5.1 keepalive: a double CRLF, to be answered with a single CRLF. */
  | { kind: 'ping' }
  /** The single CRLF answering our ping. */
  | { kind: 'pong' };

const CONTENT_LENGTH = /^(?:content-length|l)[ \t]*:[ \t]*(\S*)[ \t]*$/im;

/**
 * Cuts a byte stream (TCP, TLS) into SIP messages by Content-Length (RFC 3261 §18.3) and
 * recognises CRLF keepalives between them. After it throws, the stream is out of step and the
 * connection must be closed: `pending()` then holds what arrived, for a best-effort 400.
 */
export class StreamFramer {
  private buffer: Buffer = Buffer.alloc(0);

  constructor(private readonly maxMessageSize = DEFAULT_MAX_MESSAGE_SIZE) {}

  push(chunk: Buffer): FramedItem[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const items: FramedItem[] = [];
    for (;;) {
      const item = this.next();
      if (!item) break;
      items.push(item);
    }
    return items;
  }

  pending(): Buffer {
    return this.buffer;
  }

  private next(): FramedItem | undefined {
    const buf = this.buffer;
    if (buf.length === 0) return undefined;
    if (buf[0] === 0x0d || buf[0] === 0x0a) return this.keepalive();
    const headEnd = buf.indexOf('\r\n\r\n');
    if (headEnd < 0) {
      if (buf.length > this.maxMessageSize) {
        throw new SipParseError('too-large', `no end of headers within ${this.maxMessageSize} octets`, 'stream');
      }
      return undefined;
    }
    const head = buf.toString('latin1', 0, headEnd);
    const m = CONTENT_LENGTH.exec(head);
    if (!m) throw new SipParseError('content-length', 'Content-Length is required on a stream transport', 'Content-Length');
    if (!/^\d{1,10}$/.test(m[1])) throw new SipParseError('content-length', `bad Content-Length "${m[1].slice(0, 20)}"`, 'Content-Length');
    const total = headEnd + 4 + Number(m[1]);
    if (total > this.maxMessageSize) {
      throw new SipParseError('too-large', `message of ${total} octets exceeds ${this.maxMessageSize}`, 'stream');
    }
    if (buf.length < total) return undefined;
    const data = buf.subarray(0, total);
    this.buffer = buf.subarray(total);
    return { kind: 'message', data };
  }

  private keepalive(): FramedItem | undefined {
    const buf = this.buffer;
    if (buf.length >= 4 && buf[0] === 0x0d && buf[1] === 0x0a && buf[2] === 0x0d && buf[3] === 0x0a) {
      this.buffer = buf.subarray(4);
      return { kind: 'ping' };
    }
    if (buf.length >= 2 && buf[0] === 0x0d && buf[1] === 0x0a) {
      // A CRLF alone at the end may be the first half of a ping: wait for what follows.
      if (buf.length === 2 || (buf.length === 3 && buf[2] === 0x0d)) return undefined;
      this.buffer = buf.subarray(2);
      return { kind: 'pong' };
    }
    if (buf.length === 1 && buf[0] === 0x0d) return undefined;
    // A stray LF: skip it, as RFC 3261 §7.5 lets us ignore blank lines before a start line.
    this.buffer = buf.subarray(1);
    return this.next();
  }
}
