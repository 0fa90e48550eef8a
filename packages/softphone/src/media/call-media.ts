/** What a call sends and what becomes of what it hears. */
export interface CallMediaOptions {
  /** What to send: `tone:HZ` (e.g. `tone:1000`), a WAV file's path, or `silence` (the default). */
  play?: string;
  /** Record what is heard into this file (16-bit PCM WAV, 8 kHz mono). */
  record?: string;
  /** Each DTMF digit the other party sends (RFC 4733). */
  onDtmf?: (digit: string) => void;
  /** Codecs offered or accepted, in order of preference (default PCMU, PCMA). */
  codecs?: Array<'PCMU' | 'PCMA'>;
}
