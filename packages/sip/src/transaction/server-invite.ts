import { createResponse, type SipRequest, type SipResponse } from '../message/index.js';
import type { Flow } from '../transport/flow.js';
import { ServerTransaction, type ServerTransactionInit } from './server-transaction.js';
import { TRYING_DELAY_MS } from './types.js';

type InviteServerTimer = 'trying' | 'G' | 'H' | 'I' | 'L';

/** What became of an ACK that matched an INVITE server transaction. */
export type AckDisposition = 'absorbed' | 'to-tu';

/**
 * INVITE server transaction (RFC 3261 §17.2.1, with RFC 6026's Accepted state):
 *
 *   Proceeding ──1xx──▶ Proceeding
 *   Proceeding ──2xx──▶ Accepted  ──Timer L──▶ Terminated
 *   Proceeding ──3xx–6xx──▶ Completed ──ACK──▶ Confirmed ──Timer I──▶ Terminated
 *                           Completed ──Timer H──▶ Terminated ('timeout')
 */
export class ServerInviteTransaction extends ServerTransaction<InviteServerTimer> {
  constructor(init: ServerTransactionInit) {
    super(init, 'proceeding');
    // Stops the caller's INVITE retransmissions when the TU is slow to answer (§17.2.1).
    this.timers.start('trying', TRYING_DELAY_MS, () => this.sendTrying());
  }

  respond(response: SipResponse): Promise<void> {
    const status = response.status;
    if (this.state === 'accepted' && status >= 200 && status < 300) {
      // RFC 6026 §7.1: the TU retransmits its 2xx itself, through the transaction.
      return this.transmit(response);
    }
    if (this.state !== 'proceeding') return this.refuse(response);
    this.timers.stop('trying');
    const sent = this.transmit(response);
    if (status < 200) return sent;
    if (status < 300) {
      this.setState('accepted');
      // Absorb INVITE retransmissions until the 2xx retransmissions (the TU's job) are surely over.
      this.timers.start('L', 64 * this.t.T1, () => this.terminate());
      return sent;
    }
    this.setState('completed');
    if (!this.reliable) this.startTimerG(this.t.T1);
    this.timers.start('H', 64 * this.t.T1, () => this.timeOut());
    return sent;
  }

  receiveRetransmission(_request: SipRequest, flow: Flow): void {
    this.noteFlow(flow);
    // In Accepted the 2xx is the TU's to retransmit; in Confirmed the exchange is over.
    if (this.state === 'proceeding' || this.state === 'completed') this.retransmitLast();
  }

  /** An ACK matched this transaction; the layer passes it to the TU when told 'to-tu'. */
  receiveAck(_ack: SipRequest, flow: Flow): AckDisposition {
    if (this.state === 'accepted') return 'to-tu';
    if (this.state !== 'completed') return 'absorbed';
    this.noteFlow(flow);
    this.timers.stop('G', 'H');
    this.setState('confirmed');
    // Timer I absorbs ACK retransmissions, which only UDP produces.
    this.timers.start('I', this.reliable ? 0 : this.t.T4, () => this.terminate());
    return 'absorbed';
  }

  private startTimerG(interval: number): void {
    this.timers.start('G', interval, () => {
      this.retransmitLast();
      this.startTimerG(Math.min(2 * interval, this.t.T2));
    });
  }

  private sendTrying(): void {
    const trying = createResponse(this.request, 100);
    // A Timestamp lets the client measure the round trip (§8.2.6.1).
    const timestamp = this.request.get('timestamp');
    if (timestamp !== undefined) trying.set('Timestamp', timestamp);
    this.transmit(trying).catch(() => undefined);
  }
}
