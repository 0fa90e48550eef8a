/**
 * Attack 5 of SECURITY.md: going around the gateway.
 *   - a set (or a scanner) talks straight to the pbx: over UDP, then TCP;
 *   - a source the pbx does trust (its MBG's address: an attacker on that machine, or one that
 *     authenticated once) sends BYE and MESSAGE with made-up dialog ids, naming a host of its
 *     choice in the Request-URI and the Route, to make the pbx send traffic there.
 */
import dgram from 'node:dgram';
import { connect } from 'node:net';
import { ALICE, leaseLoopbackAddress, startLabUnderTest, waitFor, within, type LabUnderTest } from '@psi-lab/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SipSocket } from './helpers/sip-socket.js';

let lab: LabUnderTest;
const sockets: SipSocket[] = [];
beforeAll(async () => {
  lab = await startLabUnderTest();
}, 60_000);
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});
afterAll(async () => {
  await lab?.close();
});

const toPbx = async (from: string): Promise<SipSocket> => {
  const socket = await SipSocket.open({ host: lab.internal, port: 5070 }, from);
  sockets.push(socket);
  return socket;
};

describe('attack 5: the pbx hears only its MBG', () => {
  it('drops a REGISTER and an INVITE sent straight to it from the sets\' side, unanswered', async () => {
    const stranger = await toPbx(lab.host);
    stranger.send(stranger.build({ method: 'REGISTER', user: ALICE.user }).text);
    stranger.send(stranger.build({ method: 'INVITE', user: ALICE.user, to: '1002' }).text);
    // The fence: the pbx's one UDP socket takes datagrams in order. Once the MBG's OPTIONS sent
    // after them is answered, the stranger's were handled, and any answer to them already sent.
    const mbg = await toPbx(lab.internal);
    expect((await mbg.ask(mbg.build({ method: 'OPTIONS', user: 'mbg' }))).status).toBe(200);
    await new Promise((r) => setTimeout(r, 200));
    expect(stranger.answers).toEqual([]);
  });

  it('closes a TCP connection from the sets\' side at once, reading nothing', async () => {
    const socket = connect({ host: lab.internal, port: 5070, localAddress: lab.host });
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString()));
    socket.on('error', () => undefined);
    socket.on('connect', () => socket.write('OPTIONS sip:pbx SIP/2.0\r\n\r\n'));
    await within(new Promise((resolve) => socket.once('close', resolve)), 10_000, 'the pbx to close the connection');
    expect(received).toBe('');
  });

  it('routes in-dialog requests only along dialogs it made: made-up ids get 481, and nothing goes where they point', async () => {
    const baitAddress = await leaseLoopbackAddress();
    const bait = dgram.createSocket('udp4');
    const baited: string[] = [];
    bait.on('message', (m) => baited.push(m.toString().split('\r\n')[0]));
    await new Promise<void>((resolve) => bait.bind(5060, baitAddress, () => resolve()));
    try {
      const mbg = await toPbx(lab.internal);
      for (const method of ['BYE', 'MESSAGE', 'INFO']) {
        const forged = mbg.build({
          method, user: ALICE.user, uri: `sip:victim@${baitAddress}:5060`, fromTag: 'forged', toTag: 'guessed',
          headers: [`Route: <sip:${lab.internal}:5070;lr>, <sip:${baitAddress}:5060;lr>`],
        });
        expect((await mbg.ask(forged)).status, method).toBe(481);
      }
      // The 481s came once the pbx had decided: a request relayed would have been sent before them.
      await new Promise((r) => setTimeout(r, 200));
      expect(baited).toEqual([]);
      // The control: the bait does hear what is sent to it.
      bait.send('ping', 5060, baitAddress);
      await waitFor(() => baited.length > 0, 5_000, 'the bait to hear its own ping');
    } finally {
      bait.close();
    }
  });
});
