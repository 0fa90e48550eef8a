/**
 * The web softphones of the real deployment's kind: sip.js 0.21 and JsSIP 3, unmodified, in a
 * real headless Chromium (Debian's), register over WSS against the lab as `npm run lab` starts
 * it (default settings: MD5 digest, wss://HOST:8443/sip) with the demo users' passwords. The
 * gateway's own admin API must then list them over WSS, by the User-Agent their REGISTER carried
 * on the wire (JsSIP's +sip.instance beside it), and a wrong password must end in the browser as
 * a failure. What the page sent and got is read from DevTools' view of its WebSocket.
 */
import { X509Certificate } from 'node:crypto';
import { ALICE, BOB, CAROL, EVENT_LIMIT_MS, describeIfTool, startLabUnderTest, waitFor, within, type LabUnderTest } from '@psi-lab/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CHROMIUM, hasPlaywright, launchChromium, servePages, spkiHash, verifiedWssCertificate,
  type ClientPage, type LabBrowser, type PageServer, type SipFrame,
} from '../src/index.js';

type Library = 'sip.js' | 'JsSIP';

/** What the page's functions (browser-pages/clients.js) give back. */
interface RegisterResult {
  outcome: 'registered' | 'rejected' | 'error';
  status?: number | null;
  reason?: string;
  userAgent: string;
  version: string;
  instance?: string;
}

interface Registration { user: string; device: string; instance?: string; transport: string; source: string }
interface Counters { authFailures: number; registrations: number }

const WSS_PORT = 8443;
let lab: LabUnderTest;
let pages: PageServer;
let chromium: LabBrowser;
const opened: ClientPage[] = [];

/** The browser-side calls, each bounded: a library that never settles fails naming what it awaited. */
async function register(clients: ClientPage, library: Library, user: { user: string }, password: string): Promise<RegisterResult> {
  const options = { id: `${library}-${user.user}`, server: `wss://${lab.host}:${WSS_PORT}/sip`, aor: `sip:${user.user}@${lab.host}`, user: user.user, password };
  return within(
    clients.page.evaluate(([lib, o]) => (globalThis as unknown as PsiWindow).psiClients.register(lib, o), [library, options] as const),
    EVENT_LIMIT_MS, () => `${library} in Chromium to register ${user.user} or fail; the page:\n${clients.log()}`,
  );
}

async function unregister(clients: ClientPage, library: Library, user: { user: string }): Promise<void> {
  await within(
    clients.page.evaluate((id) => (globalThis as unknown as PsiWindow).psiClients.unregister(id), `${library}-${user.user}`),
    EVENT_LIMIT_MS, () => `${library} to unregister ${user.user}; the page:\n${clients.log()}`,
  );
}

interface PsiWindow {
  psiClients: { register(library: string, options: object): Promise<RegisterResult>; unregister(id: string): Promise<string> };
}

async function openClients(): Promise<ClientPage> {
  const clients = await chromium.openClients();
  opened.push(clients);
  return clients;
}

const registrationsOf = async (user: string): Promise<Registration[]> =>
  (await lab.admin<Registration[]>('/api/registrations')).filter((r) => r.user === user);

/** The SIP messages the page sent (or received) that start with `startLine`, from DevTools' view of its WebSocket. */
const framesStarting = (clients: ClientPage, dir: SipFrame['dir'], startLine: RegExp): string[] =>
  clients.frames().filter((f) => f.dir === dir && startLine.test(f.text)).map((f) => f.text);

/** Every value of header `name` in a SIP message (long form, as both libraries and the gateway write them). */
const headers = (message: string, name: string): string[] =>
  [...message.matchAll(new RegExp(`^${name}:[ \\t]*(.*?)\\r?$`, 'gim'))].map((m) => m[1]);
const header = (message: string, name: string): string | undefined => headers(message, name)[0];

function describeWithBrowser(name: string, fn: () => void): void {
  if (hasPlaywright()) return describeIfTool(CHROMIUM, 'chromium', name, fn);
  const bar = '*'.repeat(100);
  console.warn(`${bar}\n*** playwright-core is missing: "${name}" is SKIPPED, not passed. Install it: npm ci\n${bar}`);
  describe.skip(`${name} [SKIPPED: playwright-core not installed; npm ci]`, fn);
}

describeWithBrowser('sip.js and JsSIP in headless Chromium, over WSS with the lab\'s defaults', () => {
  beforeAll(async () => {
    lab = await startLabUnderTest();
    const certificate = await verifiedWssCertificate(lab.host, WSS_PORT, lab.process.ca(), lab.process.dataDir);
    pages = await servePages();
    chromium = await launchChromium(spkiHash(certificate), pages);
    console.info(`interop: Chromium ${chromium.version}, pages at ${pages.origin}, lab at ${lab.host}`);
  }, 120_000);
  afterEach(async () => {
    for (const c of opened.splice(0)) await c.close();
  });
  afterAll(async () => {
    await chromium?.close();
    await pages?.close();
    await lab?.close();
  }, 30_000);

  it.each([
    { library: 'sip.js' as const, who: ALICE, version: /^0\.21\./ },
    { library: 'JsSIP' as const, who: BOB, version: /^3\./ },
  ])('$library registers $who.user with its password (MD5), the gateway lists it over WSS, and it unregisters', async ({ library, who, version }) => {
    const clients = await openClients();
    const result = await register(clients, library, who, who.password);
    expect(result, clients.log()).toMatchObject({ outcome: 'registered' });
    expect(result.version).toMatch(version);
    expect(clients.socketErrors()).toEqual([]);

    // On the wire: a first REGISTER challenged with MD5, answered with MD5, then a 200.
    await waitFor(() => framesStarting(clients, 'received', /^SIP\/2\.0 200 /).length > 0, EVENT_LIMIT_MS, () => `the 200 among the page's frames:\n${clients.log()}`);
    const registers = framesStarting(clients, 'sent', /^REGISTER /);
    const challenges = framesStarting(clients, 'received', /^SIP\/2\.0 401 /);
    expect(registers.length, clients.log()).toBe(2);
    expect(challenges).toHaveLength(1);
    // The lab's default: MD5 alone, one challenge (auth.algorithms: [MD5]).
    const challenge = headers(challenges[0], 'WWW-Authenticate');
    expect(challenge).toHaveLength(1);
    expect(challenge[0]).toMatch(/^Digest .*realm="psi-lab"/);
    expect(challenge[0]).toMatch(/algorithm=MD5/i);
    expect(header(registers[1], 'Authorization')).toMatch(new RegExp(`^Digest .*username="${who.user}"`));
    expect(header(registers[1], 'Authorization')).toMatch(/algorithm=MD5/i);
    const wireUserAgent = header(registers[1], 'User-Agent');
    expect(wireUserAgent).toBe(result.userAgent);

    // On the gateway's side: its admin API lists the binding, by what that REGISTER named it.
    const listed = await registrationsOf(who.user);
    expect(listed, JSON.stringify(listed)).toHaveLength(1);
    expect(listed[0].transport).toBe('WSS');
    expect(listed[0].source).toMatch(/^127\.\d+\.\d+\.\d+:\d+$/);
    expect(listed[0].device).toBe(wireUserAgent);
    if (library === 'JsSIP') {
      // JsSIP always sends a +sip.instance (RFC 5626; sip.js only with a reg-id): listed beside the device.
      expect(header(registers[1], 'Contact')).toContain(`+sip.instance="<urn:uuid:${result.instance}>"`);
      expect(listed[0].instance).toBe(`urn:uuid:${result.instance}`);
    } else {
      expect(header(registers[1], 'Contact')).not.toContain('+sip.instance');
      expect(listed[0].instance).toBeUndefined();
    }

    await unregister(clients, library, who);
    expect(await registrationsOf(who.user)).toEqual([]);
  });

  it.each([
    { library: 'sip.js' as const },
    { library: 'JsSIP' as const },
  ])('$library with a wrong password fails in the browser on the gateway\'s 403, and nothing is registered', async ({ library }) => {
    const before = await lab.admin<Counters>('/api/counters');
    const clients = await openClients();
    const result = await register(clients, library, CAROL, 'not-carols-password');
    expect(result, clients.log()).toMatchObject({ outcome: 'rejected', status: 403 });
    await waitFor(() => framesStarting(clients, 'received', /^SIP\/2\.0 403 /).length > 0, EVENT_LIMIT_MS, () => `the 403 among the page's frames:\n${clients.log()}`);
    // The library gave up: one REGISTER unauthenticated, one with the wrong answer, no third.
    expect(framesStarting(clients, 'sent', /^REGISTER /), clients.log()).toHaveLength(2);
    expect(await registrationsOf(CAROL.user)).toEqual([]);
    expect((await lab.admin<Counters>('/api/counters')).authFailures - before.authFailures).toBe(1);
  });

  it('a Chromium that does not trust the lab\'s key cannot open the WSS connection (the trust above is what lets it in)', async () => {
    // The same launch, pinning another key (the CA's, which signs but never serves): the lab's
    // certificate chains to a CA this profile does not know, so the handshake must fail.
    const untrusting = await launchChromium(spkiHash(new X509Certificate(lab.process.ca())), pages);
    try {
      const clients = await untrusting.openClients();
      const result = await register(clients, 'sip.js', ALICE, ALICE.password);
      expect(result, clients.log()).toMatchObject({ outcome: 'error' });
      await waitFor(() => clients.socketErrors().length > 0, EVENT_LIMIT_MS, () => `Chromium's reason for the failed WebSocket:\n${clients.log()}`);
      expect(clients.socketErrors().join('\n')).toContain('net::ERR_CERT_AUTHORITY_INVALID');
      expect(framesStarting(clients, 'sent', /^REGISTER /)).toEqual([]);
      expect(await registrationsOf(ALICE.user)).toEqual([]);
    } finally {
      await untrusting.close();
    }
  }, 90_000);
});
