import { IDLE, PENDING_CREDENTIALS, type RegistrationStatus } from '../phone/registration-status.js';

/** psi-phone's exit codes: what a script can rely on. */
export const EXIT = {
  OK: 0,
  NOT_REGISTERED: 1,
  USAGE: 2,
  NOT_CONNECTED: 3,
  ENDED_EARLY: 4,
  INTERRUPTED: 130,
} as const;

/**
 * How long before the planned end the other side may hang up and the call still count as having
 * run its course: both ends start their clocks a signalling hop apart, so when both hang up after
 * the same N seconds either may be first.
 */
export const HANG_UP_RACE_MS = 500;

export interface OutgoingCallFacts {
  connected: boolean;
  /** Ctrl-C (or SIGTERM) ended it. */
  interrupted: boolean;
  /** We sent the BYE (the --seconds timer), as opposed to the other side. */
  weHungUp: boolean;
  /** Milliseconds between connecting and the end (0 when never connected). */
  connectedMs: number;
  /** --seconds, in milliseconds. */
  plannedMs: number;
}

/** The exit code of `call`: 0 only when it connected and lasted its --seconds. */
export function outgoingCallExitCode(f: OutgoingCallFacts): number {
  if (f.interrupted) return EXIT.INTERRUPTED;
  if (!f.connected) return EXIT.NOT_CONNECTED;
  if (f.weHungUp || f.connectedMs >= f.plannedMs - HANG_UP_RACE_MS) return EXIT.OK;
  return EXIT.ENDED_EARLY;
}

/** What to do about a registration that did not succeed (appended to the error line). */
export function registrationHint(status: RegistrationStatus, detail: string | undefined, ca: { file?: string; isLabDefault: boolean }): string {
  if (status === PENDING_CREDENTIALS) return 'give --password or --ha1 (or set PSI_PHONE_PASSWORD)';
  if (status === IDLE) return 'try again; --verbose shows what the phone saw';
  const code = Number(status.slice(0, 3));
  if (code === 503 && detail && /certificate|self[- ]signed|unable to verify|altnames/i.test(detail)) {
    return ca.file
      ? `the gateway's certificate does not chain to ${ca.file}: give the CA of the lab that is running (--ca DIR/certs/ca.pem)`
      : `the gateway's certificate is not trusted: give its CA with --ca (the lab's is ${'.lab/certs/ca.pem'})`;
  }
  switch (code) {
    case 401:
    case 403:
    case 407:
      return 'check --user and --password (or --ha1); the demo users are 1001/alice-1001, 1002/bob-1002, 1003/carol-1003';
    case 404:
      return 'the pbx has no such user: check --user (npx psi-pbx subscriber list)';
    case 408:
    case 504:
      return 'the gateway did not answer in time: is --server right? (a gateway that has blocked this address answers nothing: see "blocks" on its status page)';
    case 423:
      return 'the registrar wants a longer lifetime: raise --expires';
    case 503:
      return 'is the lab running (npm run lab)? is --server right?';
    default:
      return '--verbose shows the phone\'s log';
  }
}

/** What a failed call's SIP status means to the person who placed it. */
export function callFailureHint(status: number, peer: string): string {
  switch (status) {
    case 404:
    case 484:
    case 604:
      return `no extension ${peer} at the pbx (npx psi-pbx subscriber list)`;
    case 480:
    case 408:
      return `${peer} is not reachable now: is a phone registered for it (psi-phone answer --user ${peer} ...)?`;
    case 486:
    case 600:
      return `${peer} is busy`;
    case 603:
      return `${peer} declined the call`;
    case 487:
      return 'the call was cancelled before it was answered';
    case 488:
    case 606:
      return 'no audio codec in common (PCMU or PCMA)';
    default:
      return '';
  }
}

/** `1:02` / `1:02:03`: a call's connected time as a phone shows it. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return hh > 0 ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${String(mm).padStart(2, '0')}:${ss}`;
}
