import { describe, it, expect } from 'vitest';
import { createResponse, parseMessage, type SipRequest } from '../src/message/index.js';
import { ServerInviteTransaction, ServerNonInviteTransaction } from '../src/transaction/index.js';
import {
  destination, expectServerInvite, recordEvents, reparse, request, responseTo, sendInvite, setupLayer, udpFlow,
  type RequestFields,
} from './helpers/transaction-fixtures.js';

/** The transport stamps received/rport on the top Via of what it receives (RFC 3581). */
function stamped(req: SipRequest, received: string): SipRequest {
  const copy = reparse(req);
  const [top, ...rest] = copy.getAll('via');
  copy.set('Via', `${top};received=${received};rport=40000`);
  for (const via of rest) copy.append('Via', via);
  return copy;
}

describe('server transaction matching with the z9hG4bK cookie (RFC 3261 §17.2.3)', () => {
  it('matches by branch, sent-by and method', () => {
    const { layer } = setupLayer();
    const invite = request({ branch: 'z9hG4bKkdjuw' });
    expect(layer.receiveRequest(invite, udpFlow())).toBeInstanceOf(ServerInviteTransaction);
    expect(layer.receiveRequest(stamped(invite, '198.51.100.7'), udpFlow())).toBeUndefined();
    // sent-by compares host case-insensitively and with the default port filled in.
    expect(layer.receiveRequest(request({ branch: 'z9hG4bKkdjuw', sentBy: 'CLIENT.example.com' }), udpFlow())).toBeUndefined();
    // The same branch from another sender, or with another method, is another transaction.
    expect(layer.receiveRequest(request({ branch: 'z9hG4bKkdjuw', sentBy: 'other.example.com' }), udpFlow())).toBeInstanceOf(ServerInviteTransaction);
    expect(layer.receiveRequest(request({ branch: 'z9hG4bKkdjuw', method: 'CANCEL' }), udpFlow())).toBeInstanceOf(ServerNonInviteTransaction);
    expect(layer.size.server).toBe(3);
  });

  it('finds the INVITE a CANCEL names (§9.2), and nothing for a CANCEL of something else', () => {
    const { layer } = setupLayer();
    const invite = request({ branch: 'z9hG4bKinv1' });
    const inviteTx = expectServerInvite(layer.receiveRequest(invite, udpFlow()));
    const cancel = request({ method: 'CANCEL', branch: 'z9hG4bKinv1' });
    const cancelTx = layer.receiveRequest(cancel, udpFlow());
    expect(cancelTx).toBeInstanceOf(ServerNonInviteTransaction);
    expect(layer.findInviteTransaction(cancel)).toBe(inviteTx);
    expect(layer.findInviteTransaction(request({ method: 'CANCEL', branch: 'z9hG4bKnope' }))).toBeUndefined();

    // What the TU then does: 200 to the CANCEL, 487 to the INVITE; the CANCEL retransmission gets the 200 again.
    void cancelTx!.respond(createResponse(cancel, 200, { toTag: 't' }));
    void inviteTx.respond(createResponse(invite, 487, { toTag: 't' }));
    expect(layer.receiveRequest(reparse(cancel), udpFlow())).toBeUndefined();
    expect(inviteTx.state).toBe('completed');
  });
});

describe('RFC 2543 fallback matching (RFC 3261 §17.2.3)', () => {
  const legacy = (fields: RequestFields = {}) => request({ branch: '1234', ...fields });

  it('matches a retransmission without the cookie by Request-URI, tags, Call-ID, CSeq and top Via', () => {
    const { sender, layer } = setupLayer();
    const invite = legacy();
    const tx = expectServerInvite(layer.receiveRequest(invite, udpFlow()));
    void tx.respond(createResponse(invite, 180, { toTag: 'uas' }));
    // Equal URIs written differently (§19.1.4) and our own received/rport stamp still match.
    expect(layer.receiveRequest(legacy({ uri: 'sip:bob@EXAMPLE.COM' }), udpFlow())).toBeUndefined();
    expect(layer.receiveRequest(stamped(invite, '198.51.100.7'), udpFlow())).toBeUndefined();
    expect(sender.responses(180)).toHaveLength(3);

    for (const differing of [
      { uri: 'sip:carol@example.com' }, { from: '<sip:alice@example.com>;tag=other' }, { to: '<sip:bob@example.com>;tag=x' },
      { callId: 'another-call' }, { cseq: 2 }, { branch: '5678' }, { sentBy: 'other.example.com' },
    ]) {
      expect(layer.receiveRequest(legacy(differing), udpFlow()), JSON.stringify(differing)).toBeInstanceOf(ServerInviteTransaction);
    }
    expect(layer.size.server).toBe(8);
  });

  it('matches an ACK by the To tag of the response sent, absorbing the ACK of a failure', () => {
    const { layer } = setupLayer();
    const tuAcks: SipRequest[] = [];
    layer.on('ack', (ack) => tuAcks.push(ack));
    const invite = legacy();
    const tx = expectServerInvite(layer.receiveRequest(invite, udpFlow()));
    void tx.respond(createResponse(invite, 486, { toTag: 'uas' }));

    expect(layer.receiveRequest(legacy({ method: 'ACK', to: '<sip:bob@example.com>;tag=wrong' }), udpFlow())).toBeUndefined();
    expect(tx.state).toBe('completed');
    expect(tuAcks).toHaveLength(1);

    expect(layer.receiveRequest(legacy({ method: 'ACK', to: '<sip:bob@example.com>;tag=uas' }), udpFlow())).toBeUndefined();
    expect(tx.state).toBe('confirmed');
    expect(tuAcks).toHaveLength(1);
  });

  it('handles an RFC 2543 INVITE with no branch at all: retransmission, CANCEL, ACK', () => {
    const { clock, sender, layer } = setupLayer();
    const invite = request({ branch: null, uri: 'sip:bob@example.com;transport=udp' });
    const tx = expectServerInvite(layer.receiveRequest(invite, udpFlow()));
    clock.advance(200);
    expect(layer.receiveRequest(reparse(invite), udpFlow())).toBeUndefined();
    expect(sender.responses(100)).toHaveLength(2);

    const cancel = request({ method: 'CANCEL', branch: null, uri: 'sip:bob@example.com;transport=udp' });
    const cancelTx = layer.receiveRequest(cancel, udpFlow());
    expect(cancelTx).toBeInstanceOf(ServerNonInviteTransaction);
    expect(layer.findInviteTransaction(cancel)).toBe(tx);
    void cancelTx!.respond(createResponse(cancel, 200, { toTag: 'uas' }));
    void tx.respond(createResponse(invite, 487, { toTag: 'uas' }));

    layer.receiveRequest(request({ method: 'ACK', branch: null, uri: 'sip:bob@example.com;transport=udp', to: '<sip:bob@example.com>;tag=uas' }), udpFlow());
    expect(tx.state).toBe('confirmed');
    clock.advance(60_000);
    expect(layer.size.server).toBe(0);
  });

  it('treats a branch that is only the cookie (RFC 4475 badbranch) as RFC 2543', () => {
    const { layer } = setupLayer();
    const badbranch = (callId: string) => parseMessage(Buffer.from([
      'OPTIONS sip:user@example.com SIP/2.0',
      'To: sip:user@example.com',
      'From: sip:caller@example.org;tag=33242',
      'Max-Forwards: 3',
      'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK',
      'Accept: application/sdp',
      `Call-ID: ${callId}`,
      'CSeq: 8 OPTIONS',
      'l: 0',
      '', '',
    ].join('\r\n'))) as SipRequest;
    const first = layer.receiveRequest(badbranch('badbranch.sadonfo23i420jv0as0derf3j3n'), udpFlow());
    expect(first).toBeInstanceOf(ServerNonInviteTransaction);
    // Keyed by branch alone, these two unrelated requests would collide.
    expect(layer.receiveRequest(badbranch('another-call'), udpFlow())).toBeInstanceOf(ServerNonInviteTransaction);
    expect(layer.receiveRequest(badbranch('badbranch.sadonfo23i420jv0as0derf3j3n'), udpFlow())).toBeUndefined();
    expect(layer.size.server).toBe(2);
  });
});

describe('client transaction matching (RFC 3261 §17.1.3)', () => {
  it('matches a response by top Via branch and CSeq method; anything else is a stray', () => {
    const { layer } = setupLayer();
    const strays: number[] = [];
    layer.on('stray-response', (res) => strays.push(res.status));
    const invite = request();
    const tx = sendInvite(layer, invite, destination('udp'));
    const events = recordEvents(tx);

    const wrongMethod = responseTo(invite, 200);
    wrongMethod.set('CSeq', '1 CANCEL');
    expect(layer.receiveResponse(wrongMethod, udpFlow())).toBe(false);
    const wrongBranch = responseTo(request({ callId: invite.callId }), 180);
    expect(layer.receiveResponse(wrongBranch, udpFlow())).toBe(false);
    expect(strays).toEqual([200, 180]);
    expect(events).toEqual([]);

    expect(layer.receiveResponse(responseTo(invite, 180), udpFlow())).toBe(true);
    expect(events).toEqual(['state:proceeding', 'provisional:180']);
  });
});

describe('no leaks', () => {
  it('forgets every transaction once all have ended, leaving no timer behind', () => {
    const { clock, layer } = setupLayer();
    const endings: Array<() => void> = [];
    for (const [i, status] of [180, 200, 486, 202, 100].entries()) {
      for (const method of ['INVITE', 'OPTIONS', 'CANCEL']) {
        // Alternate RFC 3261 / RFC 2543 requests and UDP / TCP so that every index and timer is used.
        const server = request({ method, callId: `s-${i}`, branch: i % 2 === 0 ? undefined : null });
        const serverTx = layer.receiveRequest(server, udpFlow())!;
        void serverTx.respond(createResponse(server, status, { toTag: 't' }));
        const client = request({ method, callId: `c-${i}` });
        layer.sendRequest(client, destination(i % 2 === 0 ? 'udp' : 'tcp'));
        layer.receiveResponse(responseTo(client, status), udpFlow());
        if (status < 200) {
          endings.push(() => {
            void serverTx.respond(createResponse(server, 500, { toTag: 't' }));
            layer.receiveResponse(responseTo(client, 500), udpFlow());
          });
        }
      }
    }
    expect(layer.size.server).toBe(15);
    expect(layer.size.client).toBeGreaterThan(0);
    clock.advance(10_000);
    // Those left in Proceeding end once they get their final response.
    for (const end of endings) end();
    clock.advance(120_000);
    expect(layer.size).toEqual({ client: 0, server: 0 });
    expect(clock.pending()).toBe(0);
  });
});
