import dgram from 'node:dgram';
import { RtpAudioStream, RtpPacket, createAudioAnswer, type NegotiatedAudio } from '@psi-lab/media';
import { leaseLoopbackAddress, waitFor, within } from '@psi-lab/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { RtpSessionDescriptionHandler } from '../src/index.js';

/** This file's own address: the handler's RTP (and RTCP) goes only to sockets the test holds. */
const HOST = await leaseLoopbackAddress();

/** A far end that is only sockets: an even RTP port and the RTCP port above it, both held by the test. */
interface FarEnd {
  port: number;
  /** The next RTP packet that arrives on the RTP port. */
  nextPacket(): Promise<RtpPacket>;
  close(): void;
}

async function openFarEnd(): Promise<FarEnd> {
  const bind = (socket: dgram.Socket, port: number): Promise<boolean> => new Promise((resolve) => {
    socket.once('error', () => resolve(false));
    socket.bind(port, HOST, () => resolve(true));
  });
  for (let attempt = 0; attempt < 50; attempt++) {
    const rtp = dgram.createSocket('udp4');
    await bind(rtp, 0);
    const port = rtp.address().port;
    const rtcp = dgram.createSocket('udp4');
    if (port % 2 === 0 && port < 65535 && (await bind(rtcp, port + 1))) {
      return {
        port,
        nextPacket: () => new Promise((resolve) => rtp.once('message', (m) => resolve(RtpPacket.parse(m)))),
        close: () => {
          rtp.close();
          rtcp.close();
        },
      };
    }
    rtp.close();
    rtcp.close();
  }
  throw new Error(`no free even/odd port pair on ${HOST}`);
}

describe('RtpSessionDescriptionHandler (offer/answer as sip.js drives it)', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  it('answers every re-offer, a session refresh repeating the same SDP included, and mirrors a hold', async () => {
    const sdh = new RtpSessionDescriptionHandler(HOST, {});
    cleanups.push(() => sdh.close());
    const peer = await RtpAudioStream.open({ address: HOST });
    cleanups.push(() => peer.close());
    const offer = (await sdh.getDescription()).body;
    const answer = createAudioAnswer(offer, { address: HOST, port: peer.localPort, codecs: ['PCMA'] });
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
    const early = await openFarEnd();
    cleanups.push(() => early.close());
    const final = await openFarEnd();
    cleanups.push(() => final.close());
    const sdh = new RtpSessionDescriptionHandler(HOST, {});
    cleanups.push(() => sdh.close());
    const offer = (await sdh.getDescription()).body;
    await sdh.setDescription(createAudioAnswer(offer, { address: HOST, port: early.port, codecs: ['PCMU'] }).sdp);
    sdh.applyFinalAnswer(createAudioAnswer(offer, { address: HOST, port: final.port, codecs: ['PCMA'] }).sdp);
    const stream = sdh.rtp as unknown as { negotiated: NegotiatedAudio };
    expect(stream.negotiated.remote.port).toBe(final.port);
    expect(stream.negotiated.codec).toBe('PCMA');
    // And the audio goes there, in the final answer's codec.
    const packet = await within(final.nextPacket(), 10_000, 'RTP at the port of the final answer');
    expect(packet.payloadType).toBe(8);
  });

  it('put on hold (sendonly, then inactive) it sends nothing on the wire; taken off hold it sends again', async () => {
    const far = await openFarEnd();
    cleanups.push(() => far.close());
    let arrived = 0;
    const counting = (): void => {
      void far.nextPacket().then(() => {
        arrived++;
        counting();
      });
    };
    counting();
    const sdh = new RtpSessionDescriptionHandler(HOST, { play: 'tone:440' });
    cleanups.push(() => sdh.close());
    const offer = (await sdh.getDescription()).body;
    const answer = createAudioAnswer(offer, { address: HOST, port: far.port, codecs: ['PCMU'] }).sdp;
    await sdh.setDescription(answer);
    const atLeast = (count: number, what: string): Promise<void> => waitFor(() => arrived >= count, 10_000, () => `${what} (${arrived} packets arrived)`);
    await atLeast(10, 'audio before the hold');
    // The far end re-offers: first a hold (it only sends), then inactive, then sendrecv again.
    for (const direction of ['sendonly', 'inactive'] as const) {
      await sdh.setDescription(answer.replace('a=sendrecv', `a=${direction}`));
      expect((await sdh.getDescription()).body).toContain(direction === 'sendonly' ? 'a=recvonly' : 'a=inactive');
      // A packet already on its way when the answer was made may still land; none after that.
      await new Promise((r) => setTimeout(r, 100));
      const before = arrived;
      // Half a second of the hold: 25 packets, were it still sending.
      await new Promise((r) => setTimeout(r, 500));
      expect(arrived, `packets sent while ${direction}`).toBe(before);
    }
    await sdh.setDescription(answer);
    expect((await sdh.getDescription()).body).toContain('a=sendrecv');
    const held = arrived;
    await atLeast(held + 10, 'audio after the hold');
  });
});
