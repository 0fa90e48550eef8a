import { describe, it, expect } from 'vitest';
import { createHash } from 'node:crypto';
import {
  DigestServer,
  NonceCountTracker,
  answerChallenge,
  checkNonce,
  computeDigestResponse,
  computeHa1,
  createNonce,
  parseDigestAlgorithm,
  pickChallenge,
} from '../src/digest/index.js';
import type { DigestAlgorithm, Ha1Lookup } from '../src/digest/index.js';
import { parseAuthHeader } from '../src/message/auth.js';

// Computed here with node:crypto directly, so the tests do not trust the code they check.
const md5 = (s: string | Buffer): string => createHash('md5').update(s).digest('hex');

const REALM = 'sip.example.com';
const URI = 'sip:registrar.example.com';
const PASSWORDS: Record<string, string> = { alice: 'wonderland', 'bob "the" builder': 'can\\we' };

const lookupFromPasswords: Ha1Lookup = (username, realm, algorithm) => {
  const password = PASSWORDS[username];
  return password === undefined ? undefined : computeHa1(algorithm, username, realm, password);
};

function serverAt(clock: { t: number }, extra: Partial<ConstructorParameters<typeof DigestServer>[0]> = {}): DigestServer {
  return new DigestServer({ realm: REALM, secret: 'lab-secret', now: () => clock.t, ...extra });
}

function login(challenge: string, username = 'alice', extra: { password?: string; nc?: number; method?: string } = {}): string {
  return answerChallenge({
    challenge,
    method: extra.method ?? 'REGISTER',
    uri: URI,
    username,
    password: extra.password ?? PASSWORDS[username],
    nc: extra.nc,
  });
}

function withParam(header: string, name: string, value: string): string {
  return header.replace(new RegExp(`${name}=("[^"]*"|[^,]*)`), `${name}=${value}`);
}

describe('RFC test vectors', () => {
  it('RFC 2617 §3.5: Mufasa / "Circle Of Life"', () => {
    const ha1 = computeHa1('MD5', 'Mufasa', 'testrealm@host.com', 'Circle Of Life');
    expect(ha1).toBe(md5('Mufasa:testrealm@host.com:Circle Of Life'));
    const response = computeDigestResponse({
      algorithm: 'MD5',
      ha1,
      nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
      method: 'GET',
      uri: '/dir/index.html',
      qop: 'auth',
      nc: '00000001',
      cnonce: '0a4f113b',
    });
    expect(response).toBe('6629fae49393a05397450978507c4ef1');

    const header = answerChallenge({
      challenge:
        'Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", ' +
        'opaque="5ccc069c403ebaf9f0171e9517f40e41"',
      method: 'GET',
      uri: '/dir/index.html',
      username: 'Mufasa',
      password: 'Circle Of Life',
      cnonce: '0a4f113b',
    });
    expect(header).toBe(
      'Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", ' +
        'uri="/dir/index.html", response="6629fae49393a05397450978507c4ef1", cnonce="0a4f113b", ' +
        'opaque="5ccc069c403ebaf9f0171e9517f40e41", qop=auth, nc=00000001',
    );
  });

  it.each([
    ['MD5', '8ca523f5e9506fed4657c9700eebdbec'],
    ['SHA-256', '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1'],
  ])('RFC 7616 §3.9.1 with %s', (algorithm, expected) => {
    const header = answerChallenge({
      challenge:
        `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=${algorithm}, ` +
        'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"',
      method: 'GET',
      uri: '/dir/index.html',
      username: 'Mufasa',
      password: 'Circle of Life',
      cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
    });
    expect(header).toBe(
      'Digest username="Mufasa", realm="http-auth@example.org", nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", ' +
        `uri="/dir/index.html", response="${expected}", algorithm=${algorithm}, ` +
        'cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS", ' +
        'qop=auth, nc=00000001',
    );
  });
});

describe('client side', () => {
  const challenge = 'Digest realm="r", nonce="n", algorithm=MD5';

  it('answers an RFC 2069 challenge (no qop) with the plain response and no cnonce/nc', () => {
    const header = answerChallenge({ challenge, method: 'INVITE', uri: 'sip:b@r', username: 'u', password: 'p' });
    const expected = md5(`${md5('u:r:p')}:n:${md5('INVITE:sip:b@r')}`);
    expect(header).toBe(`Digest username="u", realm="r", nonce="n", uri="sip:b@r", response="${expected}", algorithm=MD5`);
  });

  it('uses qop=auth-int with the body hash when that is all the server offers, and formats nc in hex', () => {
    const header = answerChallenge({
      challenge: 'Digest realm="r", nonce="n", qop="auth-int"',
      method: 'INVITE',
      uri: 'sip:b@r',
      username: 'u',
      ha1: md5('u:r:p'),
      cnonce: 'c',
      nc: 255,
      body: 'v=0\r\n',
    });
    const ha2 = md5(`INVITE:sip:b@r:${md5('v=0\r\n')}`);
    const expected = md5(`${md5('u:r:p')}:n:000000ff:c:auth-int:${ha2}`);
    expect(Object.fromEntries(parseAuthHeader(header).params)).toEqual({
      username: 'u',
      realm: 'r',
      nonce: 'n',
      uri: 'sip:b@r',
      response: expected,
      cnonce: 'c',
      qop: 'auth-int',
      nc: '000000ff',
    });
  });

  it('refuses what it cannot answer', () => {
    const base = { method: 'INVITE', uri: 'sip:b@r', username: 'u', password: 'p' };
    expect(() => answerChallenge({ ...base, challenge: 'Basic realm="r"' })).toThrow('only Digest');
    expect(() => answerChallenge({ ...base, challenge: 'Digest realm="r", nonce="n", algorithm=SHA-1' })).toThrow(
      'unsupported Digest algorithm SHA-1',
    );
    expect(() => answerChallenge({ ...base, challenge: 'Digest realm="r", nonce="n", qop="auth-conf"' })).toThrow(
      'no supported qop',
    );
    expect(() => answerChallenge({ ...base, password: undefined, challenge })).toThrow('needs a password or an ha1');
    expect(() => answerChallenge({ ...base, nc: 0, challenge })).toThrow(RangeError);
  });

  it('pickChallenge prefers SHA-256, skips what it cannot use, and honours a custom order', () => {
    const md5Challenge = 'Digest realm="r", nonce="a", algorithm=MD5, qop="auth"';
    const shaChallenge = 'Digest realm="r", nonce="b", algorithm=SHA-256, qop="auth"';
    const values = ['Basic realm="r"', 'Digest realm="r", nonce="c", algorithm=SHA-1', 'Digest realm="x', md5Challenge, shaChallenge];
    expect(pickChallenge(values)).toBe(shaChallenge);
    expect(pickChallenge(values, ['MD5'])).toBe(md5Challenge);
    expect(pickChallenge(['Digest realm="r", nonce="d"'])).toBe('Digest realm="r", nonce="d"');
    expect(pickChallenge(['Basic realm="r"', 'Digest realm="r", nonce="n", qop="auth-conf"'])).toBeUndefined();
  });
});

describe('DigestServer.challenge', () => {
  it('offers SHA-256 then MD5, each with its own nonce, opaque and qop="auth"', () => {
    const server = serverAt({ t: 1_700_000_000_000 });
    const values = server.challenge();
    expect(values).toHaveLength(2);
    const shape = (algorithm: string, tail = ''): RegExp =>
      new RegExp(`^Digest realm="sip\\.example\\.com", nonce="[A-Za-z0-9_-]{48}", opaque="[A-Za-z0-9_-]{22}", algorithm=${algorithm}, qop="auth"${tail}$`);
    expect(values[0]).toMatch(shape('SHA-256'));
    expect(values[1]).toMatch(shape('MD5'));
    expect(parseAuthHeader(values[0]).params.get('nonce')).not.toBe(parseAuthHeader(values[1]).params.get('nonce'));
    expect(server.challenge({ stale: true })[0]).toMatch(shape('SHA-256', ', stale=true'));
  });
});

describe('DigestServer.challenge for a stateless challenger', () => {
  it('gives a request\'s retransmissions the very same challenge, for 32 s, and another request its own', () => {
    const clock = { t: 1_000_000 };
    const server = serverAt(clock);
    const first = server.challenge({ boundTo: '192.0.2.1', request: 'call-1\u00001\u0000z9hG4bK-a' });
    clock.t += 31_000;
    expect(server.challenge({ boundTo: '192.0.2.1', request: 'call-1\u00001\u0000z9hG4bK-a' })).toEqual(first);
    expect(server.challenge({ boundTo: '192.0.2.1', request: 'call-2\u00001\u0000z9hG4bK-b' })).not.toEqual(first);
    expect(server.challenge({ boundTo: '192.0.2.9', request: 'call-1\u00001\u0000z9hG4bK-a' })).not.toEqual(first);
    clock.t += 2_000;
    expect(server.challenge({ boundTo: '192.0.2.1', request: 'call-1\u00001\u0000z9hG4bK-a' })).not.toEqual(first);
  });
});

describe('DigestServer.verify', () => {
  it.each(['SHA-256', 'MD5', 'SHA-256-sess', 'MD5-sess', 'SHA-512-256'] as DigestAlgorithm[])(
    'accepts a round trip with a password (%s)',
    (algorithm) => {
      const server = serverAt({ t: 1_000_000 }, { algorithms: [algorithm] });
      const header = login(server.challenge()[0]);
      expect(header).toContain(`algorithm=${algorithm},`);
      expect(server.verify({ method: 'REGISTER', header }, lookupFromPasswords)).toEqual({
        ok: true,
        username: 'alice',
        realm: REALM,
        algorithm,
      });
    },
  );

  it('accepts a round trip with a precomputed HA1 and asks the lookup for the right user', () => {
    const server = serverAt({ t: 1_000_000 });
    const ha1 = createHash('sha256').update(`bob "the" builder:${REALM}:can\\we`).digest('hex');
    const header = answerChallenge({ challenge: server.challenge()[0], method: 'INVITE', uri: URI, username: 'bob "the" builder', ha1 });
    const asked: string[][] = [];
    const verdict = server.verify({ method: 'INVITE', header }, (username, realm, algorithm) => {
      asked.push([username, realm, algorithm]);
      return ha1;
    });
    expect(verdict).toEqual({ ok: true, username: 'bob "the" builder', realm: REALM, algorithm: 'SHA-256' });
    expect(asked).toEqual([['bob "the" builder', REALM, 'SHA-256']]);
  });

  it('verifyAsync waits for a Promise lookup', async () => {
    const server = serverAt({ t: 1_000_000 });
    const header = login(server.challenge()[1]);
    const verdict = await server.verifyAsync({ method: 'REGISTER', header }, async (u, r, a) => lookupFromPasswords(u, r, a));
    expect(verdict).toEqual({ ok: true, username: 'alice', realm: REALM, algorithm: 'MD5' });
    const unknown = await server.verifyAsync({ method: 'REGISTER', header }, () => Promise.resolve(undefined));
    expect(unknown).toEqual({ ok: false, reason: 'unknown-user', stale: false, username: 'alice' });
  });

  it('reports a missing header and a non-Digest scheme (RFC 4475 regaut01) without throwing', () => {
    const server = serverAt({ t: 0 });
    expect(server.verify({ method: 'REGISTER', header: undefined }, lookupFromPasswords)).toEqual({ ok: false, reason: 'missing', stale: false });
    expect(server.verify({ method: 'REGISTER', header: '  ' }, lookupFromPasswords)).toEqual({ ok: false, reason: 'missing', stale: false });
    for (const header of ['NoOneKnowsThisScheme opaque-data=here', 'Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==']) {
      expect(server.verify({ method: 'REGISTER', header }, lookupFromPasswords)).toEqual({ ok: false, reason: 'not-digest', stale: false });
    }
  });

  it('reports malformed credentials', () => {
    const server = serverAt({ t: 0 });
    const good = login(server.challenge()[0]);
    const bad = [
      'Digest username="alice", realm="sip.example.com", nonce="unterminated',
      good.replace(/, response="[0-9a-f]+"/, ''),
      good.replace(/, nc=00000001/, ''),
      withParam(good, 'nc', '1'),
      withParam(good, 'qop', 'auth-int'),
    ];
    expect(bad.map((header) => server.verify({ method: 'REGISTER', header }, lookupFromPasswords))).toEqual([
      { ok: false, reason: 'malformed', stale: false },
      ...Array(4).fill({ ok: false, reason: 'malformed', stale: false, username: 'alice' }),
    ]);
  });

  it('rejects a wrong realm, an algorithm it did not offer, a wrong password and an unknown user', () => {
    const server = serverAt({ t: 0 }, { algorithms: ['SHA-256'] });
    const [challenge] = server.challenge();
    const verify = (header: string) => server.verify({ method: 'REGISTER', header }, lookupFromPasswords);

    expect(verify(login(challenge.replace(`realm="${REALM}"`, 'realm="evil.example.com"')))).toEqual({
      ok: false, reason: 'wrong-realm', stale: false, username: 'alice',
    });
    expect(verify(login(challenge.replace('algorithm=SHA-256', 'algorithm=MD5')))).toEqual({
      ok: false, reason: 'unsupported-algorithm', stale: false, username: 'alice',
    });
    expect(verify(login(challenge, 'alice', { password: 'guess' }))).toEqual({
      ok: false, reason: 'bad-response', stale: false, username: 'alice',
    });
    expect(verify(login(challenge, 'mallory', { password: 'x' }))).toEqual({
      ok: false, reason: 'unknown-user', stale: false, username: 'mallory',
    });
    // The response covers the method: a REGISTER answer does not authorize an INVITE.
    expect(server.verify({ method: 'INVITE', header: login(challenge) }, lookupFromPasswords)).toMatchObject({ reason: 'bad-response' });
  });

  it('rejects forged and tampered nonces and a foreign opaque', () => {
    const clock = { t: 5_000_000 };
    const server = serverAt(clock);
    const verify = (header: string) => server.verify({ method: 'REGISTER', header }, lookupFromPasswords);
    const forgedReason = { ok: false, reason: 'forged-nonce', stale: false, username: 'alice' };

    const stranger = new DigestServer({ realm: REALM, secret: 'other-secret', now: () => clock.t });
    expect(verify(login(stranger.challenge()[0]))).toEqual(forgedReason);

    const challenge = server.challenge()[0];
    const nonce = parseAuthHeader(challenge).params.get('nonce') ?? '';
    const flipped = (nonce[0] === 'A' ? 'B' : 'A') + nonce.slice(1);
    expect(verify(login(challenge.replace(nonce, flipped)))).toEqual(forgedReason);
    expect(verify(login(challenge.replace(nonce, 'dcd98b7102dd2f0e8b11d0f600bfb0c093')))).toEqual(forgedReason);
    expect(verify(withParam(login(challenge), 'opaque', '"not-ours"'))).toEqual(forgedReason);
    // Old phones drop opaque altogether: that alone is not a reason to refuse them.
    expect(verify(login(challenge).replace(/, opaque="[^"]*"/, ''))).toMatchObject({ ok: true });
  });

  it('flags an authentic expired nonce as stale only when the credentials are right', () => {
    const clock = { t: 10_000_000 };
    const server = serverAt(clock, { nonceTtlSeconds: 300 });
    const [challenge] = server.challenge();
    const verify = (header: string) => server.verify({ method: 'REGISTER', header }, lookupFromPasswords);

    clock.t += 299_000;
    expect(verify(login(challenge))).toMatchObject({ ok: true });
    clock.t += 2_000;
    expect(verify(login(challenge, 'alice', { nc: 2 }))).toEqual({ ok: false, reason: 'stale', stale: true, username: 'alice' });
    expect(verify(login(challenge, 'alice', { nc: 3, password: 'guess' }))).toEqual({
      ok: false, reason: 'bad-response', stale: false, username: 'alice',
    });
  });

  it('refuses a repeated or lower nonce-count, without letting a bad response burn counts', () => {
    const server = serverAt({ t: 0 });
    const [challenge] = server.challenge();
    const verify = (header: string) => server.verify({ method: 'REGISTER', header }, lookupFromPasswords);

    const first = login(challenge, 'alice', { nc: 1 });
    expect(verify(first)).toMatchObject({ ok: true });
    expect(verify(first)).toEqual({ ok: false, reason: 'replay', stale: false, username: 'alice' });
    expect(verify(login(challenge, 'alice', { nc: 9, password: 'guess' }))).toMatchObject({ reason: 'bad-response' });
    expect(verify(login(challenge, 'alice', { nc: 3 }))).toMatchObject({ ok: true });
    expect(verify(login(challenge, 'alice', { nc: 2 }))).toMatchObject({ reason: 'replay' });
    expect(verify(login(challenge, 'alice', { nc: 4 }))).toMatchObject({ ok: true });
  });

  it('refuses an answer without qop although qop=auth was offered: it could be replayed for ever', () => {
    const server = serverAt({ t: 0 }, { algorithms: ['MD5'] });
    const header = login(server.challenge()[0].replace(', qop="auth"', ''));
    expect(header).not.toContain('qop=');
    expect(server.verify({ method: 'REGISTER', header }, lookupFromPasswords)).toEqual({
      ok: false, reason: 'qop-missing', stale: false, username: 'alice',
    });
    expect(server.verify({ method: 'REGISTER', header }, lookupFromPasswords)).toMatchObject({ reason: 'qop-missing' });
  });

  it('accepts RFC 2069 credentials (no qop) only when told to, uppercase hex included', () => {
    const server = serverAt({ t: 0 }, { algorithms: ['MD5'], requireQop: false });
    const challenge = server.challenge()[0].replace(', qop="auth"', '');
    const header = login(challenge);
    const shouted = header.replace(/response="([0-9a-f]+)"/, (_m, hex: string) => `response="${hex.toUpperCase()}"`);
    expect(server.verify({ method: 'REGISTER', header: shouted }, lookupFromPasswords)).toEqual({
      ok: true, username: 'alice', realm: REALM, algorithm: 'MD5',
    });
  });

  it('refuses an answer whose uri is not the Request-URI, and compares them as URIs', () => {
    const server = serverAt({ t: 0 });
    const header = login(server.challenge()[0]);
    expect(server.verify({ method: 'REGISTER', header, requestUri: 'sip:elsewhere.example.com' }, lookupFromPasswords)).toEqual({
      ok: false, reason: 'uri-mismatch', stale: false, username: 'alice',
    });
    // Same URI, other spelling (host case): still the Request-URI.
    expect(server.verify({ method: 'REGISTER', header, requestUri: URI.replace('registrar.example.com', 'REGISTRAR.example.COM') }, lookupFromPasswords)).toMatchObject({ ok: true });
  });

  it('binds a nonce to what it was issued for: answered from elsewhere it is not ours', () => {
    const server = serverAt({ t: 0 });
    const [challenge] = server.challenge({ boundTo: '192.0.2.10' });
    expect(server.verify({ method: 'REGISTER', header: login(challenge), boundTo: '192.0.2.66' }, lookupFromPasswords)).toEqual({
      ok: false, reason: 'forged-nonce', stale: false, username: 'alice',
    });
    expect(server.verify({ method: 'REGISTER', header: login(challenge), boundTo: undefined }, lookupFromPasswords)).toMatchObject({ reason: 'forged-nonce' });
    expect(server.verify({ method: 'REGISTER', header: login(challenge), boundTo: '192.0.2.10' }, lookupFromPasswords)).toMatchObject({ ok: true });
  });

  it('hashes an unknown user\'s answer like a known one\'s before refusing it (no timing oracle)', () => {
    const server = serverAt({ t: 0 }, { algorithms: ['MD5'] });
    const header = login(server.challenge()[0], 'nobody', { password: 'x' });
    let looked = 0;
    expect(server.verify({ method: 'REGISTER', header }, () => { looked++; return undefined; })).toEqual({
      ok: false, reason: 'unknown-user', stale: false, username: 'nobody',
    });
    expect(looked).toBe(1);
  });

  it('keeps nonce-count memory bounded and answers stale, not ok, for a forgotten fresh nonce', () => {
    const server = serverAt({ t: 0 }, { maxNonces: 2 });
    const verify = (header: string) => server.verify({ method: 'REGISTER', header }, lookupFromPasswords);
    const challenges = [server.challenge()[0], server.challenge()[0], server.challenge()[0]];
    for (const challenge of challenges) expect(verify(login(challenge))).toMatchObject({ ok: true });

    // The first nonce was evicted: replaying it must not pass as a first use.
    expect(verify(login(challenges[0]))).toEqual({ ok: false, reason: 'stale', stale: true, username: 'alice' });
    expect(verify(login(challenges[2]))).toMatchObject({ reason: 'replay' });
  });
});

describe('building blocks', () => {
  it('self-validating nonces are valid, then stale, and bound to secret and realm', () => {
    const secret = Buffer.from('s');
    const nonce = createNonce(secret, 'r', 1_000);
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{48}$/);
    expect(checkNonce(nonce, secret, 'r', 1_000 + 60_000, 60_000)).toEqual({ status: 'valid', issuedAt: 1_000 });
    expect(checkNonce(nonce, secret, 'r', 1_001 + 60_000, 60_000)).toEqual({ status: 'stale', issuedAt: 1_000 });
    expect(checkNonce(nonce, Buffer.from('t'), 'r', 1_000, 60_000)).toEqual({ status: 'forged' });
    expect(checkNonce(nonce, secret, 'other', 1_000, 60_000)).toEqual({ status: 'forged' });
    expect(checkNonce(`${nonce}A`, secret, 'r', 1_000, 60_000)).toEqual({ status: 'forged' });
  });

  it('NonceCountTracker never holds more than its cap', () => {
    const tracker = new NonceCountTracker(3, 1_000);
    for (let i = 0; i < 10; i++) expect(tracker.record(`n${i}`, 1, i, i)).toBe('accepted');
    expect(tracker.size).toBe(3);
    expect(tracker.record('n0', 2, 0, 10)).toBe('forgotten');
    expect(tracker.record('n9', 1, 9, 10)).toBe('replay');
    expect(tracker.record('late', 1, 5_000, 5_000)).toBe('accepted');
    expect(tracker.size).toBe(1);
  });

  it('parses algorithm names case-insensitively, MD5 when absent', () => {
    expect(parseDigestAlgorithm(undefined)).toBe('MD5');
    expect(parseDigestAlgorithm('sha-256')).toBe('SHA-256');
    expect(parseDigestAlgorithm('md5-SESS')).toBe('MD5-sess');
    expect(parseDigestAlgorithm('SHA-1')).toBeUndefined();
  });
});
