import { RtpAudioStream, createAudioAnswer, type NegotiatedAudio } from '@psi-lab/media';
import { afterEach, describe, expect, it } from 'vitest';
import { RtpSessionDescriptionHandler } from '../src/index.js';

describe('RtpSessionDescriptionHandler (offer/answer as sip.js drives it)', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  it('answers every re-offer, a session refresh repeating the same SDP included, and mirrors a hold', async () => {
    const sdh = new RtpSessionDescriptionHandler('127.0.0.1', {});
    cleanups.push(() => sdh.close());
    const peer = await RtpAudioStream.open({ address: '127.0.0.1' });
    cleanups.push(() => peer.close());
    const offer = (await sdh.getDescription()).body;
    const answer = createAudioAnswer(offer, { address: '127.0.0.1', port: peer.localPort, codecs: ['PCMA'] });
    peer.configure(answer as NegotiatedAudio);
    await sdh.setDescription(answer.sdp);
    // The peer refreshes the session with the very same SDP: that is an offer, to be answered.
    await sdh.setDescription(answer.sdp);
    const refresh = (await sdh.getDescription()).body;
    expect(refresh).toMatch(/m=audio \d+ RTP\/AVP 8/);
    expect(refresh).toContain('a=sendrecv');
    // Then it puts us on hold: the answer says recvonly.
    await sdh.setDescription(answer.sdp.replace('a=sendrecv', 'a=sendonly'));
    expect((await sdh.getDescription()).body).toContain('a=recvonly');
  });

  it('takes the final answer when a 200 brings another SDP than the 183 did', async () => {
    const sdh = new RtpSessionDescriptionHandler('127.0.0.1', {});
    cleanups.push(() => sdh.close());
    const offer = (await sdh.getDescription()).body;
    const early = createAudioAnswer(offer, { address: '127.0.0.1', port: 40000, codecs: ['PCMU'] });
    await sdh.setDescription(early.sdp);
    const final = createAudioAnswer(offer, { address: '127.0.0.1', port: 40100, codecs: ['PCMA'] });
    sdh.applyFinalAnswer(final.sdp);
    const stream = sdh.rtp as unknown as { negotiated: NegotiatedAudio };
    expect(stream.negotiated.remote.port).toBe(40100);
    expect(stream.negotiated.codec).toBe('PCMA');
  });
});
