import { EventEmitter } from 'node:events';
import { Invitation, Inviter, SessionState, type Session } from 'sip.js';
import type { RtpAudioStreamStats } from '@psi-lab/media';
import type { CallLogEntry, CallOutcome } from './call-log.js';

export type CallState = 'ringing' | 'connected' | 'ended';

export interface CallEvents {
  state: [state: CallState];
  /** A DTMF digit heard from the other party (RFC 4733). */
  dtmf: [digit: string];
  ended: [entry: CallLogEntry];
}

/**
 * One call of the phone, in or out, over a sip.js Session: what the user can do with it (answer,
 * reject, cancel, hang up, send DTMF) and what the call log keeps of it.
 */
export class Call extends EventEmitter<CallEvents> {
  state: CallState = 'ringing';
  readonly start = new Date();
  connectedAt: Date | undefined;
  private outcome: CallOutcome | undefined;
  private detail: string | undefined;

  constructor(readonly session: Session, readonly direction: 'outgoing' | 'incoming', readonly peer: string) {
    super();
    session.stateChange.addListener((s) => {
      if (s === SessionState.Established && this.state === 'ringing') {
        this.connectedAt = new Date();
        this.setState('connected');
      } else if (s === SessionState.Terminated) {
        // sip.js ends the session before it hands over the final response, and the recording is
        // written after the media stops: let both land before the call says it ended.
        const sdh = session.sessionDescriptionHandler as { closed?: Promise<void> } | undefined;
        const media = sdh?.closed ? Promise.race([sdh.closed, new Promise((r) => setTimeout(r, 3000).unref())]) : Promise.resolve();
        void media.then(() => setImmediate(() => this.finish()));
      }
    });
  }

  get id(): string {
    return this.session.id;
  }

  /** Seconds connected so far (or in all, once ended). */
  get durationSeconds(): number {
    if (!this.connectedAt) return 0;
    const end = this.state === 'ended' ? this.endedAt ?? new Date() : new Date();
    return Math.max(0, Math.round((end.getTime() - this.connectedAt.getTime()) / 1000));
  }

  private endedAt: Date | undefined;

  /** The call's RTP so far: packets sent and heard (undefined before media was negotiated). */
  get mediaStatistics(): RtpAudioStreamStats | undefined {
    const sdh = this.session.sessionDescriptionHandler as { rtp?: { statistics: RtpAudioStreamStats } } | undefined;
    return sdh?.rtp?.statistics;
  }

  /** Answer an incoming call. */
  async answer(): Promise<void> {
    if (!(this.session instanceof Invitation)) throw new Error('only an incoming call can be answered');
    await this.session.accept();
  }

  /** Refuse an incoming call (486 Busy Here by default, 603 Decline to say no for good). */
  async reject(status: 486 | 603 | 480 = 486): Promise<void> {
    if (!(this.session instanceof Invitation)) throw new Error('only an incoming call can be rejected');
    this.outcome = 'rejected';
    await this.session.reject({ statusCode: status });
  }

  /** Stop ringing the other party (an outgoing call not answered yet). */
  async cancel(): Promise<void> {
    if (!(this.session instanceof Inviter)) throw new Error('only an outgoing call can be cancelled');
    this.outcome = 'cancelled';
    await this.session.cancel();
  }

  /** End the call, whatever its state: cancel, reject or BYE. */
  async hangUp(): Promise<void> {
    switch (this.session.state) {
      case SessionState.Initial:
      case SessionState.Establishing:
        if (this.session instanceof Inviter) return this.cancel();
        return this.reject(603);
      case SessionState.Established:
        await this.session.bye();
        return;
      default:
        return;
    }
  }

  /** Send DTMF digits (RFC 4733 telephone-events in the RTP stream). */
  sendDtmf(digits: string): boolean {
    const sdh = this.session.sessionDescriptionHandler;
    if (!sdh || this.state !== 'connected') return false;
    return sdh.sendDtmf(digits);
  }

  /** The outcome as the caller saw a final response (set before the session terminates). */
  noteFailure(status: number, reason: string): void {
    if (this.outcome) return;
    this.detail = `${status} ${reason}`;
    this.outcome = status === 486 || status === 600 ? 'busy' : status === 487 ? 'cancelled' : status === 603 ? 'rejected' : 'failed';
  }

  noteCompletedElsewhere(): void {
    this.outcome ??= 'completed elsewhere';
  }

  private finish(): void {
    if (this.state === 'ended') return;
    this.endedAt = new Date();
    const outcome: CallOutcome = this.outcome ?? (this.connectedAt ? 'answered' : this.direction === 'incoming' ? 'missed' : 'failed');
    this.setState('ended');
    this.emit('ended', {
      direction: this.direction, peer: this.peer, start: this.start.toISOString(), durationSeconds: this.durationSeconds,
      outcome, ...(this.detail ? { detail: this.detail } : {}),
    });
  }

  private setState(state: CallState): void {
    this.state = state;
    this.emit('state', state);
  }
}
