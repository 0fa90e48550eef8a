import type { SipResponse } from '../message/index.js';
import type { Flow } from '../transport/flow.js';
import { ClientTransaction, type ClientTransactionInit } from './client-transaction.js';

type NonInviteClientTimer = 'E' | 'F' | 'K';

/**
 * Non-INVITE client transaction (RFC 3261 §17.1.2):
 *
 *   Trying ──1xx──▶ Proceeding
 *   Trying / Proceeding ──200–699──▶ Completed ──Timer K──▶ Terminated
 *   Trying / Proceeding ──Timer F──▶ Terminated ('timeout')
 */
export class ClientNonInviteTransaction extends ClientTransaction<NonInviteClientTimer> {
  constructor(init: ClientTransactionInit) {
    super(init, 'trying');
  }

  start(): void {
    this.transmit();
    if (!this.reliable) this.startTimerE(this.t.T1);
    this.timers.start('F', 64 * this.t.T1, () => this.timeOut());
  }

  receiveResponse(response: SipResponse, flow: Flow): void {
    // In Completed, retransmitted responses are absorbed.
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    if (response.status < 200) {
      this.setState('proceeding');
      this.emit('provisional', response, flow);
      return;
    }
    this.timers.stop('E', 'F');
    this.setState('completed');
    this.emit('final', response, flow);
    // Timer K absorbs response retransmissions, which only UDP produces.
    this.timers.start('K', this.reliable ? 0 : this.t.T4, () => this.terminate());
  }

  /**
   * Timer E: doubling from T1 up to T2 while Trying; once a provisional response shows the
   * request arrived, a slow steady T2 is enough (§17.1.2.2).
   */
  private startTimerE(interval: number): void {
    this.timers.start('E', interval, () => {
      this.transmit();
      this.startTimerE(this.state === 'proceeding' ? this.t.T2 : Math.min(2 * interval, this.t.T2));
    });
  }
}
