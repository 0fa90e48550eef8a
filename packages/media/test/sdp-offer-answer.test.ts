import { describe, expect, it } from 'vitest';
import { SdpError, createAudioAnswer, createAudioOffer, negotiatedFromAnswer, parseAudioDescription } from '../src/sdp/index.js';

const crlf = (lines: string[]): string => `${lines.join('\r\n')}\r\n`;

// RFC 4317 §2.1/§2.2: Alice offers three audio codecs and two video codecs.
const RFC4317_OFFER = crlf([
  'v=0',
  'o=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com',
  's=',
  'c=IN IP4 host.atlanta.example.com',
  't=0 0',
  'm=audio 49170 RTP/AVP 0 8 97',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:97 iLBC/8000',
  'm=video 51372 RTP/AVP 31 32',
  'a=rtpmap:31 H261/90000',
  'a=rtpmap:32 MPV/90000',
]);

/** An audio-only offer from a phone at 198.51.100.7 with extra lines after the m= line. */
const offerWith = (mLine: string, ...extra: string[]) =>
  crlf(['v=0', 'o=phone 1 1 IN IP4 198.51.100.7', 's=-', 'c=IN IP4 198.51.100.7', 't=0 0', mLine, ...extra]);

const US = { address: '127.0.0.1', port: 40000, sessionId: 42, sessionVersion: 1 };

describe('createAudioOffer', () => {
  it('writes a complete plain-RTP audio offer', () => {
    const sdp = createAudioOffer({ ...US, telephoneEvent: { payloadType: 101 } });
    expect(sdp).toBe(
      crlf([
        'v=0',
        'o=- 42 1 IN IP4 127.0.0.1',
        's=-',
        'c=IN IP4 127.0.0.1',
        't=0 0',
        'm=audio 40000 RTP/AVP 0 8 101',
        'a=rtpmap:0 PCMU/8000',
        'a=rtpmap:8 PCMA/8000',
        'a=rtpmap:101 telephone-event/8000',
        'a=fmtp:101 0-16',
        'a=ptime:20',
        'a=sendrecv',
      ]),
    );
  });

  it('offers our codec order, hold, IPv6, no telephone-event and no ptime when told', () => {
    const sdp = createAudioOffer({ address: '::1', port: 5004, codecs: ['PCMA'], direction: 'sendonly', username: 'psi', sessionId: '7', ptime: 0 });
    expect(sdp).toBe(crlf(['v=0', 'o=psi 7 7 IN IP6 ::1', 's=-', 'c=IN IP6 ::1', 't=0 0', 'm=audio 5004 RTP/AVP 8', 'a=rtpmap:8 PCMA/8000', 'a=sendonly']));
  });

  it('makes up a numeric session id when none is given', () => {
    const origin = /^o=- (\d+) (\d+) IN IP4 127\.0\.0\.1$/m.exec(createAudioOffer({ address: '127.0.0.1', port: 4000 }));
    expect(origin?.[1]).toBe(origin?.[2]);
  });

  it.each([
    [{ ...US, port: 0 }, /RTP port 0/],
    [{ ...US, codecs: [] }, /no codec/],
    [{ ...US, telephoneEvent: { payloadType: 13 } }, /not a dynamic type/],
    [{ ...US, username: 'a b' }, /username/],
  ])('rejects %j', (options, message) => {
    expect(() => createAudioOffer(options)).toThrow(message);
  });
});

describe('parseAudioDescription', () => {
  it('reads the RFC 4317 offer: address, ports, formats by rtpmap and static type', () => {
    expect(parseAudioDescription(RFC4317_OFFER)).toEqual({
      mediaIndex: 0,
      proto: 'RTP/AVP',
      address: 'host.atlanta.example.com',
      port: 49170,
      rtcpPort: 49171,
      rtcpMux: false,
      payloadTypes: [0, 8, 97],
      codecs: [
        { payloadType: 0, name: 'PCMU', clockRate: 8000, channels: 1 },
        { payloadType: 8, name: 'PCMA', clockRate: 8000, channels: 1 },
        { payloadType: 97, name: 'iLBC', clockRate: 8000, channels: 1 },
      ],
      direction: 'sendrecv',
      hold: false,
    });
  });

  it('resolves static types without rtpmap, finds telephone-event at any type, reads a=rtcp and ptime', () => {
    const audio = parseAudioDescription(
      offerWith('m=audio 5000 RTP/AVP 18 0 96 98', 'a=rtpmap:96 telephone-event/48000', 'a=rtpmap:98 telephone-event/8000', 'a=fmtp:98 0-15', 'a=rtcp:6001', 'a=ptime:30', 'a=recvonly'),
    );
    expect(audio.codecs.map((c) => `${c.payloadType} ${c.name}/${c.clockRate}`)).toEqual(['18 G729/8000', '0 PCMU/8000', '96 telephone-event/48000', '98 telephone-event/8000']);
    expect(audio.codecs[3].fmtp).toBe('0-15');
    expect(audio).toMatchObject({ telephoneEventPayloadType: 98, rtcpPort: 6001, ptime: 30, direction: 'recvonly' });
  });

  it('skips a video line and an SRTP audio line to find plain RTP audio; sees old-style hold', () => {
    const audio = parseAudioDescription(
      crlf(['v=0', 'o=- 1 1 IN IP4 198.51.100.7', 's=-', 'c=IN IP4 0.0.0.0', 't=0 0', 'm=video 5000 RTP/AVP 96', 'm=audio 5002 RTP/SAVP 0', 'm=audio 5004 RTP/AVP 0', 'a=rtcp-mux']),
    );
    expect(audio).toMatchObject({ mediaIndex: 2, port: 5004, rtcpPort: 5004, rtcpMux: true, address: '0.0.0.0', hold: true });
  });

  it.each([
    ['no audio', crlf(['v=0', 'o=- 1 1 IN IP4 198.51.100.7', 's=-', 'c=IN IP4 198.51.100.7', 't=0 0', 'm=video 5000 RTP/AVP 96']), 'SDP: no m=audio line'],
    ['only SRTP audio', offerWith('m=audio 5000 RTP/SAVP 0'), 'SDP: m=audio uses RTP/SAVP; only plain RTP (RTP/AVP) is supported'],
  ])('throws an SdpError for %s', (_name, sdp, message) => {
    expect(() => parseAudioDescription(sdp)).toThrow(SdpError);
    expect(() => parseAudioDescription(sdp)).toThrow(message);
  });
});

describe('createAudioAnswer', () => {
  it('answers the RFC 4317 offer as Bob does in §2.2: PCMU and PCMA, video refused', () => {
    const answer = createAudioAnswer(RFC4317_OFFER, { address: 'host.biloxi.example.com', port: 49172, sessionId: 2808844564, ptime: 0, telephoneEvent: true });
    expect(answer.sdp).toBe(
      crlf([
        'v=0',
        'o=- 2808844564 2808844564 IN IP4 host.biloxi.example.com',
        's=-',
        'c=IN IP4 host.biloxi.example.com',
        't=0 0',
        'm=audio 49172 RTP/AVP 0 8',
        'a=rtpmap:0 PCMU/8000',
        'a=rtpmap:8 PCMA/8000',
        'a=sendrecv',
        'm=video 0 RTP/AVP 31 32',
      ]),
    );
    expect(answer).toMatchObject({ accepted: true, codec: 'PCMU', payloadType: 0, direction: 'sendrecv' });
    expect(answer.remote).toEqual({ address: 'host.atlanta.example.com', port: 49170, rtcpPort: 49171 });
    expect(answer).not.toHaveProperty('telephoneEventPayloadType');
  });

  it('lists the shared codecs in our preference order, with the offer’s payload type numbers', () => {
    const answer = createAudioAnswer(offerWith('m=audio 5000 RTP/AVP 0 96', 'a=rtpmap:96 pcma/8000'), { ...US, codecs: ['PCMA', 'PCMU'] });
    expect(answer.sdp).toContain('\r\nm=audio 40000 RTP/AVP 96 0\r\na=rtpmap:96 pcma/8000\r\na=rtpmap:0 PCMU/8000\r\n');
    expect(answer).toMatchObject({ accepted: true, codec: 'PCMA', payloadType: 96 });
  });

  it('accepts telephone-event at the offer’s dynamic payload type (not 101), unless told not to', () => {
    const offer = offerWith('m=audio 5000 RTP/AVP 8 0 96', 'a=rtpmap:96 telephone-event/8000', 'a=fmtp:96 0-15');
    const answer = createAudioAnswer(offer, US);
    expect(answer.sdp).toContain('\r\nm=audio 40000 RTP/AVP 0 8 96\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-16\r\na=ptime:20\r\na=sendrecv\r\n');
    expect(answer).toMatchObject({ accepted: true, codec: 'PCMU', telephoneEventPayloadType: 96 });
    const without = createAudioAnswer(offer, { ...US, telephoneEvent: false });
    expect(without.sdp).toContain('\r\nm=audio 40000 RTP/AVP 0 8\r\n');
    expect(without.sdp).not.toContain('telephone-event');
    expect(without).not.toHaveProperty('telephoneEventPayloadType');
  });

  it.each([
    ['sendonly (hold)', ['a=sendonly'], 'sendrecv', 'recvonly'],
    ['inactive', ['a=inactive'], 'sendrecv', 'inactive'],
    ['recvonly', ['a=recvonly'], 'sendrecv', 'sendonly'],
    ['sendrecv while we hold', [], 'sendonly', 'sendonly'],
    ['sendonly while we hold', ['a=sendonly'], 'sendonly', 'inactive'],
  ] as const)('mirrors an offer that is %s', (_name, attributes, ours, expected) => {
    const answer = createAudioAnswer(offerWith('m=audio 5000 RTP/AVP 0', ...attributes), { ...US, direction: ours });
    expect(answer.sdp).toMatch(new RegExp(`\\r\\na=${expected}\\r\\n$`));
    expect(answer).toMatchObject({ accepted: true, direction: expected });
  });

  it('does not send to an old-style hold address (c=0.0.0.0)', () => {
    const offer = crlf(['v=0', 'o=phone 1 2 IN IP4 198.51.100.7', 's=-', 'c=IN IP4 0.0.0.0', 't=0 0', 'm=audio 5000 RTP/AVP 0']);
    const answer = createAudioAnswer(offer, US);
    expect(answer).toMatchObject({ accepted: true, direction: 'recvonly', remote: { address: '0.0.0.0', port: 5000 } });
    expect(answer.sdp).toContain('\r\na=recvonly\r\n');
  });

  it('answers port 0 with the offer’s formats when there is no codec in common', () => {
    const answer = createAudioAnswer(offerWith('m=audio 5000 RTP/AVP 18 97', 'a=rtpmap:97 iLBC/8000'), US);
    expect(answer.accepted).toBe(false);
    expect(answer.sdp).toBe(crlf(['v=0', 'o=- 42 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 0 RTP/AVP 18 97']));
    expect(answer).toMatchObject({ reason: 'no codec in common: the offer has G729/8000, iLBC/8000, we take PCMU, PCMA' });
  });

  it('refuses an audio line the offer disabled, and PCMU at another clock rate', () => {
    expect(createAudioAnswer(offerWith('m=audio 0 RTP/AVP 0'), US)).toMatchObject({ accepted: false, reason: expect.stringMatching(/port 0/) });
    expect(createAudioAnswer(offerWith('m=audio 5000 RTP/AVP 96', 'a=rtpmap:96 PCMU/16000'), US)).toMatchObject({ accepted: false });
  });
});

describe('negotiatedFromAnswer', () => {
  const ourOffer = createAudioOffer({ ...US, telephoneEvent: { payloadType: 101 } });
  const answerWith = (mLine: string, ...extra: string[]) =>
    crlf(['v=0', 'o=pbx 9 9 IN IP4 198.51.100.50', 's=-', 'c=IN IP4 198.51.100.50', 't=0 0', mLine, ...extra]);

  it('takes the first format of the answer we support, and telephone-event when kept', () => {
    const result = negotiatedFromAnswer(ourOffer, answerWith('m=audio 30000 RTP/AVP 8 0 101', 'a=rtpmap:101 telephone-event/8000', 'a=ptime:30'));
    expect(result).toEqual({
      accepted: true,
      codec: 'PCMA',
      payloadType: 8,
      telephoneEventPayloadType: 101,
      direction: 'sendrecv',
      remote: { address: '198.51.100.50', port: 30000, rtcpPort: 30001 },
      remotePtime: 30,
    });
  });

  it('turns the answer’s direction into ours, and does not send to 0.0.0.0', () => {
    expect(negotiatedFromAnswer(ourOffer, answerWith('m=audio 30000 RTP/AVP 0', 'a=recvonly'))).toMatchObject({ direction: 'sendonly' });
    expect(negotiatedFromAnswer(ourOffer, answerWith('m=audio 30000 RTP/AVP 0', 'a=sendonly'))).toMatchObject({ direction: 'recvonly' });
    const held = answerWith('m=audio 30000 RTP/AVP 0').replace('c=IN IP4 198.51.100.50', 'c=IN IP4 0.0.0.0');
    expect(negotiatedFromAnswer(ourOffer, held)).toMatchObject({ direction: 'recvonly', remote: { address: '0.0.0.0' } });
    const holding = createAudioOffer({ ...US, direction: 'sendonly' });
    expect(negotiatedFromAnswer(holding, answerWith('m=audio 30000 RTP/AVP 0', 'a=recvonly'))).toMatchObject({ direction: 'sendonly' });
  });

  it('reports a rejected stream or an answer without any codec we offered', () => {
    expect(negotiatedFromAnswer(ourOffer, answerWith('m=audio 0 RTP/AVP 0'))).toMatchObject({ accepted: false, reason: expect.stringMatching(/port 0/) });
    expect(negotiatedFromAnswer(ourOffer, answerWith('m=audio 30000 RTP/AVP 18'))).toMatchObject({ accepted: false, reason: expect.stringMatching(/no codec we offered/) });
    expect(() => negotiatedFromAnswer(ourOffer, answerWith('m=video 30000 RTP/AVP 31'))).toThrow(/media section 0 is m=video, not m=audio/);
  });

  it('agrees with the answerer on a full round trip', () => {
    const offer = createAudioOffer({ ...US, codecs: ['PCMA', 'PCMU'], telephoneEvent: { payloadType: 110 } });
    const answer = createAudioAnswer(offer, { address: '127.0.0.2', port: 50000, sessionId: 5 });
    const offerer = negotiatedFromAnswer(offer, answer.sdp);
    expect(answer).toMatchObject({ accepted: true, codec: 'PCMU', payloadType: 0, telephoneEventPayloadType: 110, remote: { address: '127.0.0.1', port: 40000 } });
    expect(offerer).toMatchObject({ accepted: true, codec: 'PCMU', payloadType: 0, telephoneEventPayloadType: 110, remote: { address: '127.0.0.2', port: 50000 } });
  });
});
