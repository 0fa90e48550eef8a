import { describe, expect, it } from 'vitest';
import { parseMessage, type SipRequest } from '@psi-lab/sip';
import { DialogRoutes, peerAt } from '../src/index.js';

const invite = parseMessage(Buffer.from([
  'INVITE sip:1002@psi-lab SIP/2.0', 'Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-1', 'Max-Forwards: 70',
  'From: <sip:1001@psi-lab>;tag=caller', 'To: <sip:1002@psi-lab>', 'Call-ID: call-1', 'CSeq: 1 INVITE', 'Content-Length: 0', '', '',
].join('\r\n'))) as SipRequest;

function inDialog(fromTag: string, toTag: string, callId = 'call-1'): SipRequest {
  return parseMessage(Buffer.from([
    'BYE sip:x@127.0.0.1 SIP/2.0', 'Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-2', 'Max-Forwards: 70',
    `From: <sip:a@psi-lab>;tag=${fromTag}`, `To: <sip:b@psi-lab>;tag=${toTag}`, `Call-ID: ${callId}`, 'CSeq: 2 BYE', 'Content-Length: 0', '', '',
  ].join('\r\n'))) as SipRequest;
}

const caller = peerAt({ protocol: 'tcp', address: '127.0.0.10', port: 5062 });
const callee = peerAt({ protocol: 'udp', address: '127.0.0.20', port: 5060 });

describe('DialogRoutes: what the pbx routes in-dialog requests by', () => {
  it('finds a dialog from either end, and says which end sent', () => {
    const routes = new DialogRoutes(() => 0);
    routes.record(invite, 'callee', caller, callee, true);
    expect(routes.find(inDialog('caller', 'callee'))).toMatchObject({ from: caller, to: callee });
    expect(routes.find(inDialog('callee', 'caller'))).toMatchObject({ from: callee, to: caller });
    expect(routes.find(inDialog('caller', 'someone-else'))).toBeUndefined();
    expect(routes.find(inDialog('caller', 'callee', 'call-2'))).toBeUndefined();
  });

  it('forgets early dialogs when the call fails, keeps confirmed ones, and ends a dialog on request', () => {
    const routes = new DialogRoutes(() => 0);
    routes.record(invite, 'ringing-desk', caller, callee, false);
    routes.record(invite, 'answering-mobile', caller, callee, true);
    routes.dropEarly(invite);
    expect(routes.find(inDialog('caller', 'ringing-desk'))).toBeUndefined();
    const confirmed = routes.find(inDialog('caller', 'answering-mobile'));
    expect(confirmed).toBeDefined();
    routes.end(confirmed!.dialog);
    expect(routes.size).toBe(0);
  });

  it('expires early dialogs after minutes and idle ones after hours, and holds at most `max`', () => {
    let now = 0;
    const routes = new DialogRoutes(() => now, { earlyMs: 1_000, idleMs: 10_000, max: 2 });
    routes.record(invite, 'early', caller, callee, false);
    routes.record(invite, 'up', caller, callee, true);
    now = 2_000;
    expect(routes.find(inDialog('caller', 'early'))).toBeUndefined();
    expect(routes.sweep()).toBe(1);
    expect(routes.find(inDialog('caller', 'up'))).toBeDefined();
    now = 20_000;
    expect(routes.find(inDialog('caller', 'up'))).toBeUndefined();
    for (const tag of ['a', 'b', 'c']) routes.record(invite, tag, caller, callee, true);
    expect(routes.size).toBe(2);
    expect(routes.find(inDialog('caller', 'a'))).toBeUndefined();
  });

  it('when full, forgets a call still ringing before one that was answered', () => {
    const routes = new DialogRoutes(() => 0, { max: 2 });
    routes.record(invite, 'answered', caller, callee, true);
    routes.record(invite, 'ringing', caller, callee, false);
    routes.record(invite, 'newest', caller, callee, true);
    expect(routes.find(inDialog('caller', 'answered'))).toBeDefined();
    expect(routes.find(inDialog('caller', 'ringing'))).toBeUndefined();
    expect(routes.find(inDialog('caller', 'newest'))).toBeDefined();
  });
});
