/**
 * Attack 4 of SECURITY.md: replaying digest answers. The victim (this test, knowing Alice's
 * password) registers as a phone would; the attacker, who saw those messages go by, sends the
 * same Authorization again: without qop, from another address, from the same address, and
 * for another Request-URI. Same rules at the pbx, seen from its LAN.
 */
import { answerChallenge } from '@psi-lab/sip';
import { ALICE, leaseLoopbackAddress, startLabUnderTest, type LabUnderTest } from '@psi-lab/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SipSocket } from './helpers/sip-socket.js';

interface Registration { user: string; source: string }

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

const open = async (target: { host: string; port: number }, from?: string): Promise<SipSocket> => {
  const socket = await SipSocket.open(target, from ?? await leaseLoopbackAddress());
  sockets.push(socket);
  return socket;
};
const gateway = (): { host: string; port: number } => ({ host: lab.host, port: 5060 });
const registeredFrom = async (address: string): Promise<Registration[]> =>
  (await lab.admin<Registration[]>('/api/registrations')).filter((r) => r.source.startsWith(`${address}:`));

/** The right password answered the RFC 2069 way (no qop, no nc, no cnonce), for the nonce just offered. */
function rfc2069(uri: string): (header: string) => string {
  return (header) => {
    const nonce = /nonce="([^"]+)"/.exec(header)![1];
    const opaque = /opaque="([^"]+)"/.exec(header)?.[1];
    const challenge = `Digest realm="psi-lab", nonce="${nonce}", algorithm=MD5${opaque ? `, opaque="${opaque}"` : ''}`;
    const answer = answerChallenge({ challenge, method: 'REGISTER', uri, username: ALICE.user, password: ALICE.password });
    expect(answer).not.toMatch(/qop|nc=|cnonce/);
    return answer;
  };
}

describe('attack 4: digest replay at the gateway', () => {
  it('refuses an answer without qop, though it is right: it carries no nonce-count to tell a replay from it', async () => {
    const attacker = await open(gateway());
    const { response } = await attacker.withDigest({ method: 'REGISTER', user: ALICE.user }, ALICE.password, rfc2069(`sip:${lab.host}:5060`));
    expect(response.status).toBe(401);
    expect(await registeredFrom(attacker.address.address)).toEqual([]);
  });

  it('refuses an answer sent from another address than the one its nonce was given to, though never used', async () => {
    // The victim asks, the attacker (who saw the challenge) answers first, from elsewhere.
    const victim = await open(gateway());
    const first = victim.build({ method: 'REGISTER', user: ALICE.user });
    const challenge = (await victim.ask(first)).get('www-authenticate')!;
    const authorization = answerChallenge({ challenge, method: 'REGISTER', uri: `sip:${lab.host}:5060`, username: ALICE.user, password: ALICE.password });
    const elsewhere = await open(gateway());
    expect((await elsewhere.ask(elsewhere.build({ method: 'REGISTER', user: ALICE.user, authorization }))).status).toBe(401);
    // The control: the same, never-used answer from the victim's address is taken.
    expect((await victim.ask(victim.build({ method: 'REGISTER', user: ALICE.user, callId: first.callId, cseq: first.cseq + 1, fromTag: first.fromTag, authorization }))).status).toBe(200);
  });

  it('refuses a captured answer replayed from another address, and from the same address again', async () => {
    const victim = await open(gateway());
    const { response, authorization } = await victim.withDigest({ method: 'REGISTER', user: ALICE.user }, ALICE.password);
    expect(response.status).toBe(200);

    // Another address: the nonce was issued to the victim's.
    const elsewhere = await open(gateway());
    const replayed = await elsewhere.ask(elsewhere.build({ method: 'REGISTER', user: ALICE.user, authorization }));
    expect(replayed.status).toBe(401);
    // The victim's address, another port (an attacker on the same NAT): the nonce-count was used.
    const sameAddress = await open(gateway(), victim.address.address);
    expect((await sameAddress.ask(sameAddress.build({ method: 'REGISTER', user: ALICE.user, authorization }))).status).toBe(401);
    expect(await registeredFrom(elsewhere.address.address)).toEqual([]);
    expect((await registeredFrom(victim.address.address)).map((r) => r.source)).toEqual([`${victim.address.address}:${victim.address.port}`]);
  });

  it('refuses an answer made for another Request-URI', async () => {
    const attacker = await open(gateway());
    const first = attacker.build({ method: 'REGISTER', user: ALICE.user });
    const challenge = (await attacker.ask(first)).get('www-authenticate')!;
    const authorization = answerChallenge({ challenge, method: 'REGISTER', uri: `sip:elsewhere.example.com`, username: ALICE.user, password: ALICE.password });
    const response = await attacker.ask(attacker.build({ method: 'REGISTER', user: ALICE.user, callId: first.callId, cseq: first.cseq + 1, fromTag: first.fromTag, authorization }));
    expect(response.status).toBe(400);
    expect(response.reason).toContain('digest uri');
  });
});

describe('attack 4: the same rules at the pbx (seen from its LAN)', () => {
  // Only the MBG's address is heard by the pbx: the attacker is on the gateway's machine.
  const pbx = (): Promise<SipSocket> => open({ host: lab.internal, port: 5070 }, lab.internal);

  it('refuses an answer without qop', async () => {
    const { response } = await (await pbx()).withDigest({ method: 'REGISTER', user: ALICE.user }, ALICE.password, rfc2069(`sip:${lab.internal}:5070`));
    expect(response.status).toBe(401);
  });

  it('refuses a used answer again (another port of the same address), and one for another Request-URI', async () => {
    const first = await pbx();
    const { response, authorization } = await first.withDigest({ method: 'REGISTER', user: ALICE.user }, ALICE.password);
    expect(response.status).toBe(200);
    const again = await pbx();
    expect((await again.ask(again.build({ method: 'REGISTER', user: ALICE.user, authorization }))).status).toBe(401);
    const other = await pbx();
    const ask = other.build({ method: 'REGISTER', user: ALICE.user });
    const challenge = (await other.ask(ask)).get('www-authenticate')!;
    const wrongUri = answerChallenge({ challenge, method: 'REGISTER', uri: 'sip:elsewhere.example.com', username: ALICE.user, password: ALICE.password });
    expect((await other.ask(other.build({ method: 'REGISTER', user: ALICE.user, callId: ask.callId, cseq: ask.cseq + 1, fromTag: ask.fromTag, authorization: wrongUri }))).status).toBe(400);
  });
});
