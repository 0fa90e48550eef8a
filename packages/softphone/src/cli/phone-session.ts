import { readFileSync } from 'node:fs';
import pino from 'pino';
import type { Call } from '../phone/call.js';
import type { CallLogEntry } from '../phone/call-log.js';
import { Phone, type PhoneOptions } from '../phone/phone.js';
import { REGISTERED } from '../phone/registration-status.js';
import { RtpSessionDescriptionHandler } from '../media/rtp-session-description-handler.js';
import { formatServerAddress } from '../transport/server-address.js';
import { CliUsageError, type AccountOptions, type OutputOptions } from './args.js';
import { LiveView, type ViewCall, type ViewMode, type ViewSnapshot } from './live-view.js';
import { registrationHint } from './outcome.js';
import { timeout } from './waits.js';

/** Unregistering (and hanging up) waits this long at most: a command must end even when the gateway is gone. */
const CLOSE_LIMIT_SECONDS = 6;

/** Where psi-phone writes, and how it learns of Ctrl-C. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** stdout is a terminal: the live view redraws one status line. */
  isTTY?: boolean;
  /** The terminal's width, when it is one. */
  columns?: number;
  env?: Record<string, string | undefined>;
  /** Hand over the clean-shutdown handler for SIGINT/SIGTERM; returns how to take it back. */
  onSignal?: (handler: () => void) => () => void;
}

export interface CliDeps {
  /** Make the phone (tests give other timings); default `new Phone(options)`. */
  createPhone?: (options: PhoneOptions) => Phone;
  /** Milliseconds clock, for how long a call was connected; default Date.now. */
  now?: () => number;
}

/** One call as psi-phone follows it. */
export interface WatchedCall {
  call: Call;
  connectedAt?: number;
  endedAt?: number;
  /** The last RTP counters seen (the media is gone once the call ends). */
  packets?: { sent: number; heard: number };
  entry?: CallLogEntry;
  ended: Promise<CallLogEntry>;
}

/**
 * A Phone driven from the command line: it reads the CA, reports registration and calls to the
 * live view, explains failures, and turns Ctrl-C into a promise the commands race against.
 */
export class CliPhoneSession {
  readonly phone: Phone;
  readonly view: LiveView;
  readonly now: () => number;
  /** Resolves on Ctrl-C (or SIGTERM). */
  readonly interrupted: Promise<'interrupted'>;
  wasInterrupted = false;
  /** Off once the command has its result: unregistering at the end is no news. */
  reportStatus = true;
  /** Shown when there is no call (`waiting for a call`). */
  idleText: string | undefined;
  private readonly watched = new Set<WatchedCall>();
  private registering = false;
  private lastError: string | undefined;
  private readonly releaseSignal: (() => void) | undefined;

  constructor(readonly account: AccountOptions, output: OutputOptions, io: CliIo, deps: CliDeps = {}) {
    this.now = deps.now ?? Date.now;
    const ca = readCa(account);
    const mode: ViewMode = output.json ? 'json' : output.quiet ? 'quiet' : io.isTTY ? 'tty' : 'lines';
    this.view = new LiveView(mode, { stdout: io.stdout, stderr: io.stderr, columns: io.columns }, () => this.snapshot());
    // The phone's log says why a connection failed; keep the last reason for the error message.
    const logger = pino({ level: output.verbose ? 'debug' : 'info' }, {
      write: (line: string) => {
        if (output.verbose) io.stderr(line);
        try {
          const record = JSON.parse(line) as { err?: unknown };
          if (typeof record.err === 'string') this.lastError = record.err;
        } catch {
          // not JSON: nothing to keep
        }
      },
    });
    const options: PhoneOptions = {
      user: account.user, password: account.password, ha1: account.ha1, servers: account.servers, ca,
      displayName: account.displayName, expires: account.expires, logger,
    };
    this.phone = (deps.createPhone ?? ((o) => new Phone(o)))(options);
    this.phone.on('status', (status) => {
      if (!this.reportStatus) return;
      const where = this.serverText();
      const text = status === REGISTERED ? `registered as ${account.user}${where ? ` via ${where}` : ''}` : `registration: ${status}`;
      this.view.event(text, { event: 'status', status, ...(where ? { server: where } : {}) });
      this.view.refresh();
    });
    let first = true;
    this.phone.on('server', (server) => {
      const text = formatServerAddress(server);
      if (!first) this.view.event(`now connected to ${server === this.phone.servers[0] ? 'the primary' : 'a backup'} gateway, ${text}`, { event: 'server', server: text });
      first = false;
    });
    let interrupt!: () => void;
    this.interrupted = new Promise((resolve) => (interrupt = () => resolve('interrupted')));
    this.releaseSignal = io.onSignal?.(() => {
      this.wasInterrupted = true;
      interrupt();
    });
  }

  /** The gateway in use, or the primary. */
  serverText(): string {
    return formatServerAddress(this.phone.server ?? this.phone.servers[0]);
  }

  /** Register; on failure say what and what to do, and resolve false. */
  async register(): Promise<boolean> {
    this.registering = true;
    this.view.start();
    const status = await Promise.race([this.phone.register(), this.interrupted]);
    this.registering = false;
    if (status === 'interrupted') return false;
    if (status === REGISTERED) return true;
    const servers = this.account.servers.map(formatServerAddress);
    const detail = this.lastError && status.startsWith('503') ? ` (${connectionDetail(this.lastError, servers)})` : '';
    const hint = registrationHint(status, this.lastError, { file: this.account.ca, isLabDefault: this.account.caIsLabDefault });
    this.view.error(`cannot register ${this.account.user} at ${servers.join(', ')}: ${status}${detail} — ${hint}`);
    return false;
  }

  /** Follow a call: its state and DTMF in the live view, its connected time, its end. */
  watch(call: Call): WatchedCall {
    let resolveEnded!: (entry: CallLogEntry) => void;
    const w: WatchedCall = { call, ended: new Promise((r) => (resolveEnded = r)) };
    this.watched.add(w);
    const who = call.direction === 'outgoing' ? `call to ${call.peer}` : `call from ${call.peer}`;
    call.on('state', (state) => {
      if (state !== 'connected') return;
      w.connectedAt = this.now();
      this.view.event(`${who}: connected`, { event: 'call', state: 'connected', direction: call.direction, peer: call.peer });
      this.view.refresh();
    });
    call.on('ended', (entry) => {
      this.sample(w);
      w.endedAt = this.now();
      w.entry = entry;
      this.watched.delete(w);
      this.view.event(`${who}: ended, ${entry.outcome}${entry.detail ? ` (${entry.detail})` : ''}, ${entry.durationSeconds} s`, {
        event: 'call', state: 'ended', direction: call.direction, peer: call.peer, outcome: entry.outcome,
        seconds: entry.durationSeconds, ...(entry.detail ? { detail: entry.detail } : {}),
      });
      this.view.refresh();
      resolveEnded(entry);
    });
    return w;
  }

  /**
   * Offered calls go to `take`; those it does not want are refused with 486 Busy Here, saying why
   * (`reason(call)`).
   */
  takeIncoming(take: (call: Call) => boolean, reason: (call: Call) => string): void {
    this.phone.on('incoming', (call) => {
      if (take(call)) return;
      this.view.event(`refused a call from ${call.peer} (486 Busy Here): ${reason(call)}`, { event: 'call', state: 'refused', direction: 'incoming', peer: call.peer });
      void call.reject(486).catch(() => undefined);
    });
  }

  /** A DTMF handler for a call's media: each digit heard, in the view. */
  dtmfReporter(peer: string): (digit: string) => void {
    return (digit) => this.view.event(`heard DTMF ${digit} from ${peer}`, { event: 'dtmf', direction: 'heard', digit, peer });
  }

  /** Send --dtmf on a connected call. */
  sendDtmf(call: Call, digits: string): void {
    if (call.sendDtmf(digits)) this.view.event(`sent DTMF ${digits}`, { event: 'dtmf', direction: 'sent', digits, peer: call.peer });
    else this.view.error(`could not send DTMF ${digits} to ${call.peer}: the other side takes no telephone-events (RFC 4733)`);
  }

  /** Milliseconds a call was connected (so far). */
  connectedMs(w: WatchedCall): number {
    return w.connectedAt === undefined ? 0 : (w.endedAt ?? this.now()) - w.connectedAt;
  }

  /** Hang up what is still up, unregister, stop. */
  async close(): Promise<void> {
    this.reportStatus = false;
    this.releaseSignal?.();
    const wasRegistered = this.phone.status === REGISTERED;
    const limit = timeout(CLOSE_LIMIT_SECONDS);
    const closed = await Promise.race([this.phone.close().then(() => 'closed' as const), limit.promise]);
    limit.cancel();
    this.view.stop();
    if (closed === 'timeout' && wasRegistered) {
      this.view.error(`${this.account.user} was not unregistered: the gateway did not answer within ${CLOSE_LIMIT_SECONDS} s (the registration expires by itself)`);
    }
  }

  snapshot(): ViewSnapshot {
    const calls: ViewCall[] = [...this.watched].map((w) => {
      this.sample(w);
      return {
        peer: w.call.peer, direction: w.call.direction, state: w.call.state, seconds: Math.floor(this.connectedMs(w) / 1000),
        packetsSent: w.packets?.sent, packetsHeard: w.packets?.heard,
      };
    });
    const status = this.registering && this.phone.status !== REGISTERED ? `registering at ${this.serverText()}…` : this.phone.status;
    return { user: this.account.user, status, server: this.phone.server && formatServerAddress(this.phone.server), calls, idle: this.idleText };
  }

  private sample(w: WatchedCall): void {
    const sdh = w.call.session.sessionDescriptionHandler;
    const stats = sdh instanceof RtpSessionDescriptionHandler ? sdh.rtp?.statistics : undefined;
    if (stats) w.packets = { sent: stats.packetsSent, heard: stats.packetsReceived };
  }
}

/** Why no gateway answered, without repeating the address when there is only one. */
function connectionDetail(error: string, servers: string[]): string {
  const reasons = /^no gateway answered \((.*)\)$/.exec(error)?.[1] ?? error;
  return servers.length === 1 ? reasons.replace(`${servers[0]}: `, '') : reasons;
}

function readCa(account: AccountOptions): string | undefined {
  if (!account.ca) return undefined;
  try {
    return readFileSync(account.ca, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const what = code === 'ENOENT' ? 'no such file' : (e as Error).message;
    const fix = account.caIsLabDefault ? 'start the lab once (npm run lab) or give --ca' : 'give the CA the gateway\'s certificate chains to (the lab writes .lab/certs/ca.pem)';
    throw new CliUsageError(`--ca ${account.ca}: ${what} — ${fix}`);
  }
}
