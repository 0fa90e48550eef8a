import type { CallState } from '../phone/call.js';
import type { RegistrationStatus } from '../phone/registration-status.js';
import { formatDuration } from './outcome.js';

/**
 * tty: one status line redrawn in place, events printed above it; lines: a plain line per event
 * (a log, a pipe); quiet: results and errors only; json: one JSON object a line.
 */
export type ViewMode = 'tty' | 'lines' | 'quiet' | 'json';

export interface ViewCall {
  peer: string;
  direction: 'outgoing' | 'incoming';
  state: CallState;
  /** Seconds connected so far. */
  seconds: number;
  packetsSent?: number;
  packetsHeard?: number;
}

/** What the status line shows: the phone's state now. */
export interface ViewSnapshot {
  user: string;
  /** The registration status, or what is being done about it (`registering at …`). */
  status: RegistrationStatus | string;
  /** `tls://HOST:PORT` while connected. */
  server?: string;
  calls: ViewCall[];
  /** Shown when there is no call, e.g. `waiting for a call`. */
  idle?: string;
}

/** One line of `--json` output. */
export interface JsonEvent {
  event: string;
  [field: string]: unknown;
}

export interface LiveViewOutput {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Terminal width: the status line is cut to fit, since a wrapped line cannot be redrawn. */
  columns?: number;
}

const CLEAR_LINE = '\r\x1b[2K';

/** psi-phone's output: the live view for a person at a terminal, and lines or JSON for scripts. */
export class LiveView {
  private drawn = false;
  private ticker: NodeJS.Timeout | undefined;

  constructor(readonly mode: ViewMode, private readonly out: LiveViewOutput, private readonly snapshot: () => ViewSnapshot) {}

  /** Something happened (registered, calling, connected, DTMF...). */
  event(text: string, json: JsonEvent): void {
    if (this.mode === 'json') this.out.stdout(`${JSON.stringify(json)}\n`);
    else if (this.mode === 'lines') this.out.stdout(`${text}\n`);
    else if (this.mode === 'tty') this.above(() => this.out.stdout(`${text}\n`));
  }

  /** The outcome a script or a person waits for: shown in every mode (text or JSON, when given). */
  result(text: string | undefined, json: JsonEvent | undefined): void {
    if (this.mode === 'json') {
      if (json) this.out.stdout(`${JSON.stringify(json)}\n`);
    } else if (text === undefined) {
      // nothing to say in words
    } else if (this.mode === 'tty') this.above(() => this.out.stdout(`${text}\n`));
    else this.out.stdout(`${text}\n`);
  }

  /** What went wrong and what to do: on stderr always, and as an `error` event for --json. */
  error(text: string): void {
    if (this.mode === 'json') this.out.stdout(`${JSON.stringify({ event: 'error', message: text })}\n`);
    if (this.mode === 'tty') this.above(() => this.out.stderr(`${text}\n`));
    else this.out.stderr(`${text}\n`);
  }

  /** Redraw the status line now (tty only). */
  refresh(): void {
    if (this.mode !== 'tty') return;
    let line = formatStatusLine(this.snapshot());
    const width = this.out.columns;
    if (width && line.length > width - 1) line = `${line.slice(0, Math.max(0, width - 2))}…`;
    this.out.stdout(`${CLEAR_LINE}${line}`);
    this.drawn = true;
  }

  /** Keep the connected time ticking (tty only). */
  start(): void {
    if (this.mode !== 'tty' || this.ticker) return;
    this.refresh();
    this.ticker = setInterval(() => this.refresh(), 1000);
    this.ticker.unref();
  }

  /** Stop redrawing and leave the terminal on a clean line. */
  stop(): void {
    clearInterval(this.ticker);
    this.ticker = undefined;
    if (this.drawn) this.out.stdout(CLEAR_LINE);
    this.drawn = false;
  }

  private above(write: () => void): void {
    if (this.drawn) this.out.stdout(CLEAR_LINE);
    write();
    if (this.ticker) this.refresh();
    else this.drawn = false;
  }
}

/** `1001 Registered (tls://127.0.0.1:5061) | call to 1002: connected 00:07, 350 packets sent, 348 heard` */
export function formatStatusLine(s: ViewSnapshot): string {
  const head = `${s.user} ${s.status}${s.server ? ` (${s.server})` : ''}`;
  const calls = s.calls.map(formatCall);
  const tail = calls.length > 0 ? calls.join(' | ') : s.idle;
  return tail ? `${head} | ${tail}` : head;
}

function formatCall(c: ViewCall): string {
  if (c.state === 'ringing') return c.direction === 'outgoing' ? `calling ${c.peer}…` : `ringing: ${c.peer}`;
  const who = c.direction === 'outgoing' ? `call to ${c.peer}` : `call from ${c.peer}`;
  if (c.state === 'ended') return `${who}: ended`;
  const packets = c.packetsSent !== undefined ? `, ${c.packetsSent} packets sent, ${c.packetsHeard ?? 0} heard` : '';
  return `${who}: connected ${formatDuration(c.seconds)}${packets}`;
}
