/** How a call ended, as the Phone tab's history tells it. */
export type CallOutcome = 'answered' | 'missed' | 'rejected' | 'cancelled' | 'busy' | 'failed' | 'completed elsewhere';

export interface CallLogEntry {
  direction: 'outgoing' | 'incoming';
  /** The other party: an extension, or a SIP URI's user part. */
  peer: string;
  /** ISO time the call was placed or offered. */
  start: string;
  /** Seconds connected (0 when never answered). */
  durationSeconds: number;
  outcome: CallOutcome;
  /** For failed calls: the SIP status and reason, e.g. `404 Not Found`. */
  detail?: string;
}

/** The phone's own call history, newest first, bounded. */
export class CallLog {
  private readonly entries: CallLogEntry[] = [];

  constructor(private readonly max = 500) {}

  add(entry: CallLogEntry): void {
    this.entries.unshift(entry);
    if (this.entries.length > this.max) this.entries.length = this.max;
  }

  list(): CallLogEntry[] {
    return [...this.entries];
  }
}
