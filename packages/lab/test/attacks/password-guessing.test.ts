/**
 * Attacks 2 and 3 of SECURITY.md: guessing passwords.
 *   - svcrack (SIPVicious) at one guess a second, its User-Agent left out (-c) so the scanner
 *     list does not stop it first: what counting over seconds let through;
 *   - a crack of one user spread over 60 sources, each staying under the per-source limit;
 *   - wrong passwords sent with the softphone's User-Agent, to lock out every phone of that model.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SipApp } from '@psi-lab/sip';
import { ALICE, BOB, CAROL, describeIfTool, freePort, leaseLoopbackAddress, psiPhone, runTool, startLabUnderTest, type LabUnderTest } from '@psi-lab/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SipSocket } from './helpers/sip-socket.js';

interface Block { kind: string; value: string; reason: string; count: number; since: string; until: string }

let lab: LabUnderTest;
const sockets: SipSocket[] = [];
beforeAll(async () => {
  lab = await startLabUnderTest();
}, 60_000);
afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  // The operator lifts what a test blocked, through the admin API, before the next test.
  for (const block of await lab.admin<Block[]>('/api/blocks')) {
    const lifted = await lab.https(`https://${lab.internal}:9080/api/blocks/${block.kind}/${encodeURIComponent(block.value)}`, { method: 'DELETE', token: lab.process.adminToken() });
    expect(lifted.status).toBe(200);
  }
});
afterAll(async () => {
  await lab?.close();
});

const attacker = async (from?: string): Promise<SipSocket> => {
  const socket = await SipSocket.open({ host: lab.host, port: 5060 }, from ?? await leaseLoopbackAddress());
  sockets.push(socket);
  return socket;
};

describeIfTool('svcrack', 'sipvicious', 'attack 2: slow password guessing', () => {
  it('svcrack at one guess a second is blocked within a minute and never reaches the password at guess 30', async () => {
    const dictionary = join(lab.process.dataDir, 'guesses.txt');
    const guesses = [...Array.from({ length: 29 }, (_, i) => `guess${i}`), ALICE.password];
    writeFileSync(dictionary, `${guesses.join('\n')}\n`);
    const started = Date.now();
    const run = await runTool('svcrack', ['-c', '-u', ALICE.user, '-d', dictionary, '-t', '0.5', '--maximumtime', '5', '-P', String(await freePort()), `udp://${lab.host}:5060`], 120_000);
    expect(run.stdout + run.stderr).not.toContain(ALICE.password);
    const blocks = await lab.admin<Block[]>('/api/blocks');
    const source = blocks.find((b) => b.kind === 'source' && b.reason === 'authentication-failures');
    expect(source, JSON.stringify(blocks)).toBeDefined();
    expect(Date.parse(source!.since) - started).toBeLessThan(60_000);
    // Blocked for an hour at least, not seconds.
    expect(Date.parse(source!.until) - Date.parse(source!.since)).toBeGreaterThanOrEqual(3_600_000);
    const counters = await lab.admin<{ authFailures: number }>('/api/counters');
    expect(counters.authFailures).toBeLessThanOrEqual(10);
  }, 150_000);
});

describe('attack 2: a crack of one user spread over many sources', () => {
  it('locks the user after 10 failures from 60 sources, even for its right password from a new one; its own device keeps working', async () => {
    // Carol's desk phone registered from its address last week: a known device.
    const desk = new SipApp();
    await desk.listen({ protocol: 'udp', host: await leaseLoopbackAddress(), port: 0 });
    const registerDesk = () => desk.request({
      method: 'REGISTER', uri: `sip:${lab.host}:5060`, destination: { protocol: 'udp', address: lab.host, port: 5060 },
      to: `<sip:${CAROL.user}@${lab.host}>`, from: `<sip:${CAROL.user}@${lab.host}>`, headers: { Contact: `<sip:${CAROL.user}@${lab.host}>;expires=60` },
      auth: { username: CAROL.user, password: CAROL.password },
    });
    try {
      expect((await registerDesk()).response.status).toBe(200);
      const statuses: number[] = [];
      for (let i = 0; i < 60; i++) {
        const s = await attacker();
        statuses.push((await s.withDigest({ method: 'REGISTER', user: CAROL.user }, `guess-${i}`)).response.status);
      }
      expect(statuses).toEqual(Array(60).fill(403));
      // The password found at last, from yet another source: refused all the same.
      const lucky = await attacker();
      expect((await lucky.withDigest({ method: 'REGISTER', user: CAROL.user }, CAROL.password)).response.status).toBe(403);
      const blocks = await lab.admin<Block[]>('/api/blocks');
      expect(blocks).toEqual([expect.objectContaining({ kind: 'user', value: CAROL.user, reason: 'authentication-failures' })]);
      // The desk phone, from its known address, with its right password: still registers.
      expect((await registerDesk()).response.status).toBe(200);
    } finally {
      await desk.close();
    }
  }, 60_000);
});

describe('attack 2: a slow crack from a few sources', () => {
  it('9 sources guessing 9 times each, every one under its own limit, still lock the user', async () => {
    for (let i = 0; i < 9; i++) {
      const s = await attacker();
      for (let guess = 0; guess < 9; guess++) {
        expect((await s.withDigest({ method: 'REGISTER', user: ALICE.user }, `guess-${i}-${guess}`)).response.status).toBe(403);
      }
    }
    const blocks = await lab.admin<Block[]>('/api/blocks');
    expect(blocks).toEqual([expect.objectContaining({ kind: 'user', value: ALICE.user })]);
    // Locked: the right password from a new source is refused too.
    expect((await (await attacker()).withDigest({ method: 'REGISTER', user: ALICE.user }, ALICE.password)).response.status).toBe(403);
  }, 60_000);
});

describe('attack 3: locking out a phone model by its User-Agent', () => {
  it('ten wrong passwords sent as psi-phone block that source only: a real psi-phone elsewhere still registers', async () => {
    const s = await attacker();
    for (let i = 0; i < 10; i++) {
      const { response } = await s.withDigest({ method: 'REGISTER', user: BOB.user, userAgent: 'psi-phone (psi-lab softphone)' }, `guess-${i}`);
      expect(response.status).toBe(403);
    }
    const blocks = await lab.admin<Block[]>('/api/blocks');
    expect(blocks.map((b) => b.kind)).toEqual(['source']);
    expect(blocks[0].value).toBe(s.address.address);
    const phone = await psiPhone(['status', '--user', BOB.user, '--password', BOB.password, '--server', `tls://${lab.host}:5061`, '--ca', join(lab.process.dataDir, 'certs', 'ca.pem')]);
    expect(phone.stdout, phone.stderr).toContain('Registered');
    expect(phone.code).toBe(0);
  }, 60_000);
});
