import { describe, it, expect } from 'vitest';
import type { SipRequest } from '../src/message/index.js';
import {
  FakeSender, destination, flush, recordEvents, request, responseTo, sendInvite, setupLayer, tcpFlow, udpFlow,
} from './helpers/transaction-fixtures.js';

const ROUTE = '<sip:proxy.example.com;lr>';
const invite = () => request({ method: 'INVITE', extra: [`Route: ${ROUTE}`, 'Contact: <sip:alice@192.0.2.5>'] });

describe('client INVITE transaction (RFC 3261 §17.1.1, RFC 6026)', () => {
  it('retransmits over UDP at T1 doubling without cap (Timer A) and times out at 64*T1 (Timer B)', () => {
    const { clock, sender, layer } = setupLayer();
    const tx = sendInvite(layer, invite(), destination('udp'));
    expect(tx.state).toBe('calling');
    const events = recordEvents(tx);
    clock.advance(31_999);
    expect(FakeSender.times(sender.requests('INVITE'))).toEqual([0, 500, 1500, 3500, 7500, 15500, 31500]);
    expect(events).toEqual([]);
    clock.advance(1);
    expect(events).toEqual(['timeout', 'state:terminated', 'terminated']);
    expect(layer.size.client).toBe(0);
    expect(clock.pending()).toBe(0);
  });

  it('never retransmits over TCP, and Timer B still fires', () => {
    const { clock, sender, layer } = setupLayer();
    const events = recordEvents(sendInvite(layer, invite(), destination('tcp')));
    clock.advance(32_000);
    expect(FakeSender.times(sender.requests())).toEqual([0]);
    expect(events).toEqual(['timeout', 'state:terminated', 'terminated']);
  });

  it('stops Timers A and B on a provisional response and waits in Proceeding', () => {
    const { clock, sender, layer } = setupLayer();
    const req = invite();
    const tx = sendInvite(layer, req, destination('udp'));
    const events = recordEvents(tx);
    clock.advanceTo(600);
    layer.receiveResponse(responseTo(req, 100), udpFlow());
    layer.receiveResponse(responseTo(req, 180), udpFlow());
    clock.advance(10 * 60_000);
    expect(FakeSender.times(sender.requests())).toEqual([0, 500]);
    expect(events).toEqual(['state:proceeding', 'provisional:100', 'provisional:180']);
    expect(tx.state).toBe('proceeding');
    expect(clock.pending()).toBe(0);
  });

  it('acknowledges a 3xx–6xx itself with the ACK of §17.1.1.3 and re-ACKs retransmissions until Timer D', async () => {
    const { clock, sender, layer } = setupLayer();
    const req = invite();
    const tx = sendInvite(layer, req, destination('udp'));
    const events = recordEvents(tx);
    await flush();
    clock.advanceTo(100);
    const busy = responseTo(req, 486, 'callee-tag');
    expect(layer.receiveResponse(busy, udpFlow())).toBe(true);
    expect(tx.state).toBe('completed');

    const acks = sender.requests('ACK');
    expect(acks).toHaveLength(1);
    const ack = acks[0].message as SipRequest;
    expect(ack.uri).toBe(req.uri);
    expect(ack.getAll('via')).toEqual([req.getAll('via')[0]]);
    expect(ack.via.branch).toBe(req.via.branch);
    expect(ack.callId).toBe(req.callId);
    expect(ack.get('from')).toBe(req.get('from'));
    expect(ack.to.tag).toBe('callee-tag');
    expect(ack.get('to')).toBe(busy.get('to'));
    expect(ack.get('cseq')).toBe('1 ACK');
    expect(ack.getAll('route')).toEqual([ROUTE]);
    expect(ack.has('contact')).toBe(false);
    // The ACK follows the INVITE's flow.
    expect(acks[0].destination?.flow?.protocol).toBe('udp');

    clock.advanceTo(5000);
    layer.receiveResponse(responseTo(req, 486, 'callee-tag'), udpFlow());
    expect(sender.requests('ACK')).toHaveLength(2);
    expect(sender.requests('INVITE')).toHaveLength(1);

    clock.advanceTo(32_099);
    expect(tx.state).toBe('completed');
    clock.advanceTo(32_100);
    expect(events).toEqual(['state:completed', 'final:486', 'state:terminated', 'terminated']);
    expect(layer.size.client).toBe(0);
  });

  it('terminates right after ACKing a failure over a reliable transport (Timer D = 0)', () => {
    const { clock, sender, layer } = setupLayer();
    const req = invite();
    const events = recordEvents(sendInvite(layer, req, destination('tcp')));
    layer.receiveResponse(responseTo(req, 603), tcpFlow());
    expect(sender.requests('ACK')).toHaveLength(1);
    expect(events).toEqual(['state:completed', 'final:603', 'state:terminated', 'terminated']);
    expect(layer.size.client).toBe(0);
    expect(clock.pending()).toBe(0);
  });

  it('in Accepted passes every 2xx up (retransmissions and forks), never ACKs, ends at Timer M', () => {
    const { clock, sender, layer } = setupLayer();
    const req = invite();
    const tx = sendInvite(layer, req, destination('udp'));
    const finals: string[] = [];
    tx.on('final', (res) => finals.push(`${res.status}/${res.to.tag}`));
    const events = recordEvents(tx);
    const strays: number[] = [];
    layer.on('stray-response', (res) => strays.push(res.status));

    clock.advanceTo(200);
    layer.receiveResponse(responseTo(req, 180, 'a'), udpFlow());
    layer.receiveResponse(responseTo(req, 200, 'a'), udpFlow());
    expect(tx.state).toBe('accepted');
    clock.advanceTo(700);
    layer.receiveResponse(responseTo(req, 200, 'a'), udpFlow());
    layer.receiveResponse(responseTo(req, 200, 'b'), udpFlow());
    layer.receiveResponse(responseTo(req, 180, 'c'), udpFlow());
    expect(finals).toEqual(['200/a', '200/a', '200/b']);
    expect(sender.requests('ACK')).toHaveLength(0);
    expect(sender.requests('INVITE')).toHaveLength(1);

    clock.advanceTo(200 + 31_999);
    expect(tx.state).toBe('accepted');
    clock.advanceTo(200 + 32_000);
    expect(events.filter((e) => e.startsWith('state'))).toEqual(['state:proceeding', 'state:accepted', 'state:terminated']);
    expect(layer.size.client).toBe(0);

    // A 2xx retransmitted after the transaction ended goes to whoever handles strays (the dialog layer).
    expect(layer.receiveResponse(responseTo(req, 200, 'a'), udpFlow())).toBe(false);
    expect(strays).toEqual([200]);
  });

  it('reports a failed INVITE send as transport-error and terminates', async () => {
    const { clock, sender, layer } = setupLayer();
    sender.failing = true;
    const events = recordEvents(sendInvite(layer, invite(), destination('tls')));
    await flush();
    expect(events).toEqual(['transport-error:connection refused', 'state:terminated', 'terminated']);
    expect(layer.size.client).toBe(0);
    expect(clock.pending()).toBe(0);
  });

  it('refuses requests it cannot run as a transaction, with a clear error', () => {
    const { layer } = setupLayer();
    const dest = destination('udp');
    expect(() => layer.sendRequest(request({ branch: null }), dest)).toThrow(/no branch/);
    expect(() => layer.sendRequest(request({ branch: '1234' }), dest)).toThrow(/magic cookie/);
    expect(() => layer.sendRequest(request({ method: 'ACK' }), dest)).toThrow(/ACK is never sent in a client transaction/);
    expect(() => layer.sendRequest(request({ method: 'BYE', cseqMethod: 'INVITE' }), dest)).toThrow(/CSeq method/);
    const noVia = request();
    noVia.remove('Via');
    expect(() => layer.sendRequest(noVia, dest)).toThrow(/has no Via/);
    const req = invite();
    layer.sendRequest(req, dest);
    expect(() => layer.sendRequest(req, dest)).toThrow(/already running/);
    expect(layer.size.client).toBe(1);
  });
});

describe('client INVITE cancel (RFC 3261 §9.1)', () => {
  it('sends the CANCEL of §9.1 as its own transaction over the INVITE\'s flow once Proceeding', async () => {
    const { clock, sender, layer } = setupLayer();
    const req = invite();
    const tx = sendInvite(layer, req, destination('udp'));
    await flush();
    layer.receiveResponse(responseTo(req, 180, 'callee'), udpFlow());

    const cancelTx = await tx.cancel('SIP;cause=480;text="Temporarily Unavailable"');
    expect(cancelTx?.method).toBe('CANCEL');
    expect(layer.size.client).toBe(2);
    const [sent] = sender.requests('CANCEL');
    const cancel = sent.message as SipRequest;
    expect(cancel.uri).toBe(req.uri);
    expect(cancel.getAll('via')).toEqual([req.getAll('via')[0]]);
    expect(cancel.callId).toBe(req.callId);
    expect(cancel.get('from')).toBe(req.get('from'));
    expect(cancel.get('to')).toBe(req.get('to'));
    expect(cancel.to.tag).toBeUndefined();
    expect(cancel.get('cseq')).toBe('1 CANCEL');
    expect(cancel.getAll('route')).toEqual([ROUTE]);
    expect(cancel.get('reason')).toBe('SIP;cause=480;text="Temporarily Unavailable"');
    // Same destination, pinned to the flow the INVITE went out on.
    expect(sent.destination?.flow).toBe(tx.destination.flow);
    expect(sent.destination?.flow?.protocol).toBe('udp');

    // The 200 for the CANCEL goes to the CANCEL transaction, the 487 to the INVITE one.
    const cancelEvents = recordEvents(cancelTx!);
    const inviteEvents = recordEvents(tx);
    layer.receiveResponse(responseTo(cancel, 200, 'callee'), udpFlow());
    layer.receiveResponse(responseTo(req, 487, 'callee'), udpFlow());
    expect(cancelEvents).toEqual(['state:completed', 'final:200']);
    expect(inviteEvents).toEqual(['state:completed', 'final:487']);
    expect(sender.requests('ACK')).toHaveLength(1);

    clock.advance(32_000);
    expect(layer.size).toEqual({ client: 0, server: 0 });
    expect(clock.pending()).toBe(0);
  });

  it('waits for a provisional response before sending the CANCEL', async () => {
    const { clock, sender, layer } = setupLayer();
    const req = invite();
    const tx = sendInvite(layer, req, destination('udp'));
    let settled = false;
    const pending = tx.cancel().then((c) => {
      settled = true;
      return c;
    });
    clock.advance(1000);
    await flush();
    expect(sender.requests('CANCEL')).toHaveLength(0);
    expect(settled).toBe(false);

    layer.receiveResponse(responseTo(req, 100), udpFlow());
    const cancelTx = await pending;
    expect(cancelTx?.method).toBe('CANCEL');
    expect(sender.requests('CANCEL')).toHaveLength(1);
    expect(FakeSender.times(sender.requests('CANCEL'))).toEqual([1000]);
    // A second call does not send a second CANCEL.
    expect(await tx.cancel()).toBe(cancelTx);
    expect(sender.requests('CANCEL')).toHaveLength(1);
  });

  it('gives up, sending nothing, when the INVITE gets its final response before any provisional', async () => {
    const { layer, sender } = setupLayer();
    const req = invite();
    const tx = sendInvite(layer, req, destination('udp'));
    const pending = tx.cancel();
    layer.receiveResponse(responseTo(req, 200), udpFlow());
    expect(await pending).toBeUndefined();
    expect(sender.requests('CANCEL')).toHaveLength(0);
  });

  it('gives up when the INVITE times out without a provisional', async () => {
    const { clock, layer, sender } = setupLayer();
    const tx = sendInvite(layer, invite(), destination('tcp'));
    const pending = tx.cancel();
    clock.advance(32_000);
    expect(await pending).toBeUndefined();
    expect(sender.requests('CANCEL')).toHaveLength(0);
    expect(layer.size.client).toBe(0);
  });

  it('sends nothing when the INVITE is already completed', async () => {
    const { layer, sender } = setupLayer();
    const req = invite();
    const tx = sendInvite(layer, req, destination('tcp'));
    layer.receiveResponse(responseTo(req, 180), tcpFlow());
    layer.receiveResponse(responseTo(req, 486), tcpFlow());
    expect(await tx.cancel()).toBeUndefined();
    expect(sender.requests('CANCEL')).toHaveLength(0);
  });
});
