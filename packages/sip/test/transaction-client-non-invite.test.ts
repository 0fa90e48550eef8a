import { describe, it, expect } from 'vitest';
import { ClientNonInviteTransaction } from '../src/transaction/index.js';
import {
  FakeSender, destination, flush, recordEvents, request, responseTo, setupLayer, udpFlow,
} from './helpers/transaction-fixtures.js';

const options = () => request({ method: 'OPTIONS' });

describe('client non-INVITE transaction (RFC 3261 §17.1.2)', () => {
  it('retransmits over UDP at T1 doubling up to T2 (Timer E) and times out at 64*T1 (Timer F)', async () => {
    const { clock, sender, layer } = setupLayer();
    const tx = layer.sendRequest(options(), destination('udp'));
    expect(tx).toBeInstanceOf(ClientNonInviteTransaction);
    expect(tx.state).toBe('trying');
    const events = recordEvents(tx);
    await flush();

    clock.advance(31_999);
    expect(FakeSender.times(sender.requests('OPTIONS'))).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    expect(events).toEqual([]);

    clock.advance(1);
    expect(events).toEqual(['timeout', 'state:terminated', 'terminated']);
    expect(sender.requests('OPTIONS')).toHaveLength(11);
    expect(layer.size).toEqual({ client: 0, server: 0 });
    expect(clock.pending()).toBe(0);
  });

  it('retransmits the identical request, over the flow the first send used', async () => {
    const { clock, sender, layer } = setupLayer();
    const req = options();
    layer.sendRequest(req, destination('udp'));
    await flush();
    clock.advance(500);
    const [first, second] = sender.requests('OPTIONS');
    expect(second.message).toBe(req);
    expect(first.destination?.flow).toBeUndefined();
    expect(second.destination?.flow?.protocol).toBe('udp');
  });

  it('never retransmits over TCP, and still times out at 64*T1', () => {
    const { clock, sender, layer } = setupLayer();
    const events = recordEvents(layer.sendRequest(options(), destination('tcp')));
    clock.advance(31_999);
    expect(FakeSender.times(sender.requests())).toEqual([0]);
    clock.advance(1);
    expect(events).toEqual(['timeout', 'state:terminated', 'terminated']);
    expect(layer.size.client).toBe(0);
  });

  it('scales every timer with a configured T1/T2', () => {
    const { clock, sender, layer } = setupLayer({ T1: 100, T2: 400 });
    const events = recordEvents(layer.sendRequest(options(), destination('udp')));
    clock.advance(6399);
    expect(FakeSender.times(sender.requests())).toEqual([0, 100, 300, 700, 1100, 1500, 1900, 2300, 2700, 3100, 3500, 3900, 4300, 4700, 5100, 5500, 5900, 6300]);
    clock.advance(1);
    expect(events).toContain('timeout');
  });

  it('in Proceeding retransmits every T2, then Completed absorbs retransmissions until Timer K (T4)', () => {
    const { clock, sender, layer } = setupLayer();
    const req = options();
    const tx = layer.sendRequest(req, destination('udp'));
    const events = recordEvents(tx);

    clock.advanceTo(1000);
    expect(layer.receiveResponse(responseTo(req, 100), udpFlow())).toBe(true);
    expect(tx.state).toBe('proceeding');
    clock.advanceTo(14_000);
    // The retransmission due at 1500 was already scheduled; from then on every T2 = 4000.
    expect(FakeSender.times(sender.requests())).toEqual([0, 500, 1500, 5500, 9500, 13500]);

    const ok = responseTo(req, 200);
    expect(layer.receiveResponse(ok, udpFlow())).toBe(true);
    expect(layer.receiveResponse(responseTo(req, 200), udpFlow())).toBe(true);
    expect(tx.state).toBe('completed');
    clock.advanceTo(18_999);
    expect(sender.requests()).toHaveLength(6);
    expect(tx.state).toBe('completed');
    clock.advanceTo(19_000);
    expect(events).toEqual(['state:proceeding', 'provisional:100', 'state:completed', 'final:200', 'state:terminated', 'terminated']);
    expect(layer.size.client).toBe(0);
    expect(clock.pending()).toBe(0);
  });

  it('passes each provisional response up while Proceeding', () => {
    const { layer } = setupLayer();
    const req = options();
    const events = recordEvents(layer.sendRequest(req, destination('udp')));
    layer.receiveResponse(responseTo(req, 100), udpFlow());
    layer.receiveResponse(responseTo(req, 183), udpFlow());
    expect(events).toEqual(['state:proceeding', 'provisional:100', 'provisional:183']);
  });

  it('terminates as soon as the final response arrives over a reliable transport (Timer K = 0)', () => {
    const { clock, layer } = setupLayer();
    const req = options();
    const tx = layer.sendRequest(req, destination('tls'));
    const events = recordEvents(tx);
    layer.receiveResponse(responseTo(req, 404), udpFlow());
    expect(events).toEqual(['state:completed', 'final:404', 'state:terminated', 'terminated']);
    expect(layer.size.client).toBe(0);
    expect(clock.pending()).toBe(0);
  });

  it('reports a failed send as transport-error and terminates (§17.1.4)', async () => {
    const { clock, sender, layer } = setupLayer();
    sender.failing = true;
    const errors: Error[] = [];
    const tx = layer.sendRequest(options(), destination('tcp'), { 'transport-error': (e) => errors.push(e) });
    const events = recordEvents(tx);
    expect(tx.state).toBe('trying');
    await flush();
    expect(errors.map((e) => e.message)).toEqual(['connection refused']);
    expect(events).toEqual(['transport-error:connection refused', 'state:terminated', 'terminated']);
    expect(layer.size.client).toBe(0);
    expect(clock.pending()).toBe(0);
  });

  it('treats a failed retransmission the same way', async () => {
    const { clock, sender, layer } = setupLayer();
    const events = recordEvents(layer.sendRequest(options(), destination('udp')));
    await flush();
    sender.failing = true;
    clock.advance(500);
    await flush();
    expect(events).toEqual(['transport-error:connection refused', 'state:terminated', 'terminated']);
    clock.advance(60_000);
    expect(sender.requests()).toHaveLength(2);
  });

  it('attaches handlers given to sendRequest before anything can happen', () => {
    const { layer } = setupLayer();
    const req = options();
    const finals: number[] = [];
    layer.sendRequest(req, destination('tcp'), { final: (res) => finals.push(res.status) });
    layer.receiveResponse(responseTo(req, 200), udpFlow());
    expect(finals).toEqual([200]);
  });
});
