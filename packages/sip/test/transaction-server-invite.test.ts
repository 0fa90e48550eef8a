import { describe, it, expect } from 'vitest';
import { createResponse, type SipRequest, type SipResponse } from '../src/message/index.js';
import {
  FakeSender, expectServerInvite, flush, recordEvents, reparse, request, setupLayer, tcpFlow, udpFlow,
} from './helpers/transaction-fixtures.js';

const answer = (req: SipRequest, status: number) => createResponse(req, status, { toTag: 'uas-tag' });

function ackFor(invite: SipRequest, response: SipResponse, branch?: string): SipRequest {
  // For a failure the ACK reuses the INVITE's branch; for a 2xx it is a new transaction (new branch).
  return request({
    method: 'ACK', branch: branch ?? invite.via.branch, callId: invite.callId, from: invite.get('from'), to: response.get('to'),
  });
}

describe('server INVITE transaction (RFC 3261 §17.2.1, RFC 6026)', () => {
  it('sends 100 Trying by itself when the TU is silent for 200 ms', () => {
    const { clock, sender, layer } = setupLayer();
    const invite = request({ extra: ['Timestamp: 54'] });
    const tx = expectServerInvite(layer.receiveRequest(invite, udpFlow()));
    expect(tx.state).toBe('proceeding');
    clock.advance(199);
    expect(sender.sent).toHaveLength(0);
    clock.advance(1);
    const [trying] = sender.responses(100);
    expect(trying.at).toBe(200);
    const res = trying.message as SipResponse;
    for (const name of ['via', 'from', 'to', 'call-id', 'cseq']) expect(res.get(name)).toBe(invite.get(name));
    expect(res.to.tag).toBeUndefined();
    expect(res.get('timestamp')).toBe('54');
    expect(trying.requestFlow).toBe(tx.flow);
  });

  it('sends no 100 Trying when the TU answers within 200 ms', () => {
    const { clock, sender, layer } = setupLayer();
    const invite = request();
    const tx = expectServerInvite(layer.receiveRequest(invite, udpFlow()));
    clock.advance(50);
    void tx.respond(answer(invite, 180));
    clock.advance(1000);
    expect(sender.sent.map((s) => (s.message as SipResponse).status)).toEqual([180]);
  });

  it('answers an INVITE retransmission in Proceeding with the latest provisional response', () => {
    const { sender, layer } = setupLayer();
    const invite = request();
    const tx = expectServerInvite(layer.receiveRequest(invite, udpFlow()));
    void tx.respond(answer(invite, 180));
    void tx.respond(answer(invite, 183));
    expect(layer.receiveRequest(reparse(invite), udpFlow())).toBeUndefined();
    expect(sender.sent.map((s) => (s.message as SipResponse).status)).toEqual([180, 183, 183]);
    expect(tx.state).toBe('proceeding');
  });

  it('retransmits a failure over UDP (Timer G: T1 doubling, capped at T2) and gives up at Timer H', () => {
    const { clock, sender, layer } = setupLayer();
    const invite = request();
    const tx = expectServerInvite(layer.receiveRequest(invite, udpFlow()));
    const events = recordEvents(tx);
    void tx.respond(answer(invite, 486));
    expect(tx.state).toBe('completed');
    clock.advance(31_999);
    expect(FakeSender.times(sender.responses(486))).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    clock.advance(1);
    expect(events).toEqual(['state:completed', 'timeout', 'state:terminated', 'terminated']);
    expect(layer.size.server).toBe(0);
    expect(clock.pending()).toBe(0);
  });

  it('never retransmits a failure over TCP, but still times out at Timer H', () => {
    const { clock, sender, layer } = setupLayer();
    const invite = request({ transport: 'TCP' });
    const tx = expectServerInvite(layer.receiveRequest(invite, tcpFlow()));
    const events = recordEvents(tx);
    void tx.respond(answer(invite, 404));
    clock.advance(32_000);
    expect(FakeSender.times(sender.responses())).toEqual([0]);
    expect(events).toEqual(['state:completed', 'timeout', 'state:terminated', 'terminated']);
  });

  it('re-sends the failure to a retransmitted INVITE in Completed', () => {
    const { clock, sender, layer } = setupLayer();
    const invite = request();
    const tx = expectServerInvite(layer.receiveRequest(invite, udpFlow()));
    void tx.respond(answer(invite, 486));
    clock.advance(100);
    expect(layer.receiveRequest(reparse(invite), udpFlow())).toBeUndefined();
    expect(FakeSender.times(sender.responses(486))).toEqual([0, 100]);
  });

  it('absorbs the ACK of a failure (→ Confirmed), stops Timer G/H, ends after Timer I = T4 on UDP', () => {
    const { clock, sender, layer } = setupLayer();
    const acks: SipRequest[] = [];
    layer.on('ack', (ack) => acks.push(ack));
    const invite = request();
    const tx = expectServerInvite(layer.receiveRequest(invite, udpFlow()));
    const events = recordEvents(tx);
    const busy = answer(invite, 486);
    void tx.respond(busy);
    clock.advanceTo(1000);
    const ack = ackFor(invite, busy);
    expect(layer.receiveRequest(ack, udpFlow())).toBeUndefined();
    expect(tx.state).toBe('confirmed');
    // ACK retransmissions are absorbed too.
    expect(layer.receiveRequest(reparse(ack), udpFlow())).toBeUndefined();
    expect(acks).toHaveLength(0);

    clock.advanceTo(5999);
    expect(FakeSender.times(sender.responses(486))).toEqual([0, 500]);
    expect(tx.state).toBe('confirmed');
    clock.advanceTo(6000);
    expect(events).toEqual(['state:completed', 'state:confirmed', 'state:terminated', 'terminated']);
    expect(layer.size.server).toBe(0);
    expect(clock.pending()).toBe(0);
  });

  it('terminates on the ACK at once over a reliable transport (Timer I = 0)', () => {
    const { clock, layer } = setupLayer();
    const invite = request({ transport: 'TLS' });
    const tx = expectServerInvite(layer.receiveRequest(invite, tcpFlow()));
    const busy = answer(invite, 603);
    void tx.respond(busy);
    layer.receiveRequest(ackFor(invite, busy), tcpFlow());
    expect(tx.state).toBe('terminated');
    expect(layer.size.server).toBe(0);
    expect(clock.pending()).toBe(0);
  });

  it('in Accepted absorbs INVITE retransmissions, passes ACKs to the TU, sends the TU\'s 2xx retransmissions, ends at Timer L', async () => {
    const { clock, sender, layer } = setupLayer();
    const acks: SipRequest[] = [];
    layer.on('ack', (ack) => acks.push(ack));
    const invite = request();
    const tx = expectServerInvite(layer.receiveRequest(invite, udpFlow()));
    const events = recordEvents(tx);
    const ok = answer(invite, 200);
    await tx.respond(ok);
    expect(tx.state).toBe('accepted');

    clock.advanceTo(500);
    expect(layer.receiveRequest(reparse(invite), udpFlow())).toBeUndefined();
    expect(sender.responses()).toHaveLength(1);
    // The 2xx retransmission is the TU's job (RFC 6026 §7.1): the transaction sends it when asked.
    await tx.respond(ok);
    expect(FakeSender.times(sender.responses(200))).toEqual([0, 500]);
    await expect(tx.respond(answer(invite, 486))).rejects.toThrow(/state accepted cannot send 486/);

    const endToEndAck = ackFor(invite, ok, 'z9hG4bKack2xx');
    expect(layer.receiveRequest(endToEndAck, udpFlow())).toBeUndefined();
    // Even an ACK reusing the INVITE's branch is the TU's while Accepted.
    expect(layer.receiveRequest(ackFor(invite, ok), udpFlow())).toBeUndefined();
    expect(acks).toHaveLength(2);

    clock.advanceTo(31_999);
    expect(tx.state).toBe('accepted');
    clock.advanceTo(32_000);
    expect(events).toEqual(['state:accepted', 'state:terminated', 'terminated']);
    expect(layer.size.server).toBe(0);
  });

  it('refuses a second final response in Completed', async () => {
    const { layer } = setupLayer();
    const invite = request();
    const tx = expectServerInvite(layer.receiveRequest(invite, udpFlow()));
    await tx.respond(answer(invite, 486));
    await expect(tx.respond(answer(invite, 500))).rejects.toThrow(/completed/);
  });

  it('reports a failed response send as transport-error, rejects respond() and terminates', async () => {
    const { clock, sender, layer } = setupLayer();
    const invite = request();
    const tx = expectServerInvite(layer.receiveRequest(invite, udpFlow()));
    const events = recordEvents(tx);
    sender.failing = true;
    await expect(tx.respond(answer(invite, 486))).rejects.toThrow('connection reset');
    expect(events).toEqual(['state:completed', 'transport-error:connection reset', 'state:terminated', 'terminated']);
    expect(layer.size.server).toBe(0);
    expect(clock.pending()).toBe(0);
  });

  it('terminates on a failed 100 Trying too', async () => {
    const { clock, sender, layer } = setupLayer();
    sender.failing = true;
    const tx = expectServerInvite(layer.receiveRequest(request(), udpFlow()));
    clock.advance(200);
    await flush();
    expect(tx.state).toBe('terminated');
    expect(layer.size.server).toBe(0);
  });
});
