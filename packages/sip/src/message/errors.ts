/**
 * Why a message could not be parsed. Each code maps to one kind of defect so that a server can
 * pick the right answer (400, 505, 416...) and a log line can say what was wrong and where.
 */
export type SipParseErrorCode =
  | 'start-line'
  | 'version'
  | 'method'
  | 'request-uri'
  | 'status-code'
  | 'header-syntax'
  | 'header-value'
  | 'missing-header'
  | 'duplicate-header'
  | 'cseq-mismatch'
  | 'content-length'
  | 'truncated'
  | 'too-large'
  | 'uri'
  | 'unsupported-scheme';

export class SipParseError extends Error {
  override readonly name = 'SipParseError';
  constructor(
    readonly code: SipParseErrorCode,
    message: string,
    /** Where: a header name, "start-line", "body"... */
    readonly where?: string,
    /**
     * The header fields read before the error, when the start line or a header was bad but the
     * rest could be read: enough, sometimes, to address a 400 to the sender.
     */
    readonly partial?: PartialMessage,
  ) {
    super(where ? `${where}: ${message}` : message);
  }
}

export function isSipParseError(e: unknown): e is SipParseError {
  return e instanceof SipParseError;
}

export interface PartialMessage {
  isRequest: boolean;
  method?: string;
  fields: Array<{ name: string; key: string; value: string }>;
  /** As SipMessage.headerEncoding: how the field text maps back to octets. */
  encoding?: 'utf8' | 'latin1';
}
