/**
 * Attack 8 of SECURITY.md: telling valid extensions from invalid ones by how fast the 403
 * comes. Runs alone (the "exclusive" project): it measures times. A few hundred digest answers
 * with a wrong password, for a real extension and for one that does not exist, interleaved,
 * each from one of many sources (so no source reaches a block); the medians must not differ
 * by more than 10 %. After the first few sources both users are locked (a distributed crack, as
 * the gateway sees it): the locked path answers after the same hashing, so it is timed too.
 */
import { answerChallenge } from '@psi-lab/sip';
import { CAROL, leaseLoopbackAddress, startLabUnderTest, type LabUnderTest } from '@psi-lab/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipSocket } from '../helpers/sip-socket.js';

const SOURCES = 50;
/** Attempts per source: half for the real user, half for the made-up one (under the 10 a source may fail). */
const PER_SOURCE = 8;

let lab: LabUnderTest;
beforeAll(async () => {
  lab = await startLabUnderTest();
}, 60_000);
afterAll(async () => {
  await lab?.close();
});

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

describe('attack 8: user enumeration by timing', () => {
  it(`a wrong password for a real extension and for an unknown one are answered alike, medians within 10 % over ${SOURCES * PER_SOURCE} tries`, async () => {
    const times: Record<'known' | 'unknown', number[]> = { known: [], unknown: [] };
    const statuses: number[] = [];
    for (let s = 0; s < SOURCES; s++) {
      const socket = await SipSocket.open({ host: lab.host, port: 5060 }, await leaseLoopbackAddress());
      try {
        for (let i = 0; i < PER_SOURCE; i++) {
          const kind = i % 2 === 0 ? 'known' : 'unknown';
          const user = kind === 'known' ? CAROL.user : '1999';
          // The challenge first (not timed), then the answer, timed from send to 403.
          const first = socket.build({ method: 'REGISTER', user });
          const challenge = (await socket.ask(first)).get('www-authenticate')!;
          const authorization = answerChallenge({ challenge, method: 'REGISTER', uri: first.text.split(' ')[1], username: user, password: `wrong-${s}-${i}` });
          const guess = socket.build({ method: 'REGISTER', user, callId: first.callId, cseq: first.cseq + 1, fromTag: first.fromTag, authorization });
          const { response, ms } = await socket.timed(guess);
          times[kind].push(ms);
          statuses.push(response.status);
        }
      } finally {
        socket.close();
      }
    }
    expect(statuses).toEqual(Array(SOURCES * PER_SOURCE).fill(403));
    const known = median(times.known);
    const unknown = median(times.unknown);
    console.log(`403 medians: known extension ${known.toFixed(3)} ms, unknown ${unknown.toFixed(3)} ms (${times.known.length} + ${times.unknown.length} tries)`);
    expect(Math.abs(known - unknown) / Math.max(known, unknown)).toBeLessThan(0.1);
    // Nobody was blocked: every try was a wrong password answered, not a dropped packet.
    const blocks = await lab.admin<Array<{ kind: string }>>('/api/blocks');
    expect(blocks.filter((b) => b.kind === 'source')).toEqual([]);
  }, 120_000);
});
