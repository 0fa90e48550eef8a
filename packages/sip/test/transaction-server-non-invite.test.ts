import { describe, it, expect } from 'vitest';
import { createResponse, type SipResponse } from '../src/message/index.js';
import { ServerNonInviteTransaction } from '../src/transaction/index.js';
import { FakeSender, recordEvents, reparse, request, setupLayer, tcpFlow, udpFlow } from './helpers/transaction-fixtures.js';

const register = () => request({ method: 'REGISTER', uri: 'sip:example.com', to: '<sip:alice@example.com>' });

describe('server non-INVITE transaction (RFC 3261 §17.2.2)', () => {
  it('answers retransmissions with the last response: none in Trying, the 1xx in Proceeding, the final in Completed', () => {
    const { clock, sender, layer } = setupLayer();
    const req = register();
    const tx = layer.receiveRequest(req, udpFlow());
    expect(tx).toBeInstanceOf(ServerNonInviteTransaction);
    expect(tx!.state).toBe('trying');
    const events = recordEvents(tx!);
    const statuses = () => sender.sent.map((s) => (s.message as SipResponse).status);

    clock.advance(500);
    expect(layer.receiveRequest(reparse(req), udpFlow())).toBeUndefined();
    expect(statuses()).toEqual([]);

    void tx!.respond(createResponse(req, 100));
    expect(layer.receiveRequest(reparse(req), udpFlow())).toBeUndefined();
    expect(statuses()).toEqual([100, 100]);

    void tx!.respond(createResponse(req, 200, { toTag: 'reg' }));
    clock.advance(1000);
    expect(layer.receiveRequest(reparse(req), udpFlow())).toBeUndefined();
    expect(statuses()).toEqual([100, 100, 200, 200]);
    // No timer-driven retransmission for non-INVITE responses.
    expect(FakeSender.times(sender.responses(200))).toEqual([500, 1500]);
    expect(events).toEqual(['state:proceeding', 'state:completed']);
  });

  it('keeps Completed for Timer J = 64*T1 over UDP, then a copy of the request is a new transaction', () => {
    const { clock, layer } = setupLayer();
    const req = register();
    const tx = layer.receiveRequest(req, udpFlow())!;
    void tx.respond(createResponse(req, 200, { toTag: 'reg' }));
    clock.advance(31_999);
    expect(tx.state).toBe('completed');
    clock.advance(1);
    expect(tx.state).toBe('terminated');
    expect(layer.size.server).toBe(0);
    expect(layer.receiveRequest(reparse(req), udpFlow())).toBeInstanceOf(ServerNonInviteTransaction);
  });

  it('terminates right after the final response over a reliable transport (Timer J = 0)', () => {
    const { clock, layer } = setupLayer();
    const req = request({ method: 'OPTIONS', transport: 'TCP' });
    const tx = layer.receiveRequest(req, tcpFlow())!;
    const events = recordEvents(tx);
    void tx.respond(createResponse(req, 200));
    expect(events).toEqual(['state:completed', 'state:terminated', 'terminated']);
    expect(layer.size.server).toBe(0);
    expect(clock.pending()).toBe(0);
  });

  it('refuses a response after the final one', async () => {
    const { layer } = setupLayer();
    const req = register();
    const tx = layer.receiveRequest(req, udpFlow())!;
    await tx.respond(createResponse(req, 200));
    await expect(tx.respond(createResponse(req, 500))).rejects.toThrow(/cannot send 500/);
  });

  it('sends later responses over the flow the latest retransmission came on', () => {
    const { sender, layer } = setupLayer();
    const req = register();
    const first = udpFlow();
    const second = udpFlow();
    const tx = layer.receiveRequest(req, first)!;
    void tx.respond(createResponse(req, 100));
    layer.receiveRequest(reparse(req), second);
    void tx.respond(createResponse(req, 200));
    expect(sender.sent.map((s) => s.requestFlow)).toEqual([first, second, second]);
  });
});
