import { afterEach, describe, expect, it } from 'vitest';
// The SDP model itself is tested in packages/media (test/sdp-model.test.ts); here: what the relay reads and rewrites.
import { SdpError, SessionDescription, hasRtcpMux } from '@psi-lab/media';
import { leaseLoopbackAddress } from '@psi-lab/testkit';
import { MediaRelay, endpointMedia } from '../src/media/index.js';

// SDP content only: nothing is ever sent to these documentation addresses (TEST-NET-2).
const SET_ADDRESS = '198.51.100.7';
/** The relay binds real sockets here: an address of this file's own, so the range below is free. */
const GATEWAY = await leaseLoopbackAddress();
const PORT_MIN = 41000;
const PORT_MAX = 41199;

const crlf = (lines: string[]): string => `${lines.join('\r\n')}\r\n`;

const OFFER = crlf([
  'v=0',
  `o=alice 2890844526 2890844526 IN IP4 ${SET_ADDRESS}`,
  's=-',
  `c=IN IP4 ${SET_ADDRESS}`,
  't=0 0',
  'a=ice-ufrag:F7gI',
  'a=ice-pwd:x9cml/YzichV2+XlhiMu8g',
  'a=ice-options:trickle',
  'm=audio 49170 RTP/AVP 0 8 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-15',
  `a=rtcp:49171 IN IP4 ${SET_ADDRESS}`,
  `a=candidate:1 1 UDP 2130706431 ${SET_ADDRESS} 49170 typ host`,
  `a=candidate:2 1 UDP 1694498815 198.51.100.99 50000 typ srflx raddr ${SET_ADDRESS} rport 49170`,
  'a=end-of-candidates',
  `a=remote-candidates:1 ${SET_ADDRESS} 5000`,
  'a=ptime:20',
  'a=sendrecv',
  'm=video 0 RTP/AVP 96',
  'a=rtpmap:96 H264/90000',
]);

describe('endpoint media read from the SDP', () => {
  it('reads each endpoint destination: a=rtcp, port + 1, rtcp-mux, hold, port 0', () => {
    const sdp = SessionDescription.parse(
      crlf(['v=0', 'o=- 1 1 IN IP4 198.51.100.1', 's=-', 'c=IN IP4 198.51.100.1', 't=0 0',
        'm=audio 5004 RTP/AVP 0', 'a=rtcp:6000',
        'm=audio 5010 RTP/AVP 0', 'a=rtcp-mux',
        'm=audio 5020 RTP/AVP 0', 'c=IN IP4 0.0.0.0',
        'm=audio 0 RTP/AVP 0']),
    );
    expect(endpointMedia(sdp)).toEqual([
      { enabled: true, hold: false, rtcpMux: false, rtp: { address: '198.51.100.1', port: 5004 }, rtcp: { address: '198.51.100.1', port: 6000 } },
      { enabled: true, hold: false, rtcpMux: true, rtp: { address: '198.51.100.1', port: 5010 }, rtcp: { address: '198.51.100.1', port: 5011 } },
      { enabled: true, hold: true, rtcpMux: false, rtp: { address: '0.0.0.0', port: 5020 }, rtcp: { address: '0.0.0.0', port: 5021 } },
      { enabled: false, hold: false, rtcpMux: false },
    ]);
  });
});

describe('SDP rewriting through a MediaSession', () => {
  let relay: MediaRelay;
  afterEach(async () => relay?.close());
  const newSession = () => {
    relay = new MediaRelay({ setSideAddress: GATEWAY, pbxSideAddress: GATEWAY, portMin: PORT_MIN, portMax: PORT_MAX });
    return relay.createSession('call-1');
  };

  it('points everything at the gateway, strips ICE and leaves the other lines alone', async () => {
    const session = newSession();
    const out = (await session.rewrite('set', OFFER)).toString();
    const [pbxPorts] = session.localPorts('pbx');
    expect(pbxPorts).toBeDefined();
    expect(pbxPorts!.rtcp).toBe(pbxPorts!.rtp + 1);
    expect(pbxPorts!.rtp % 2).toBe(0);
    expect(out).not.toContain(SET_ADDRESS);
    expect(out).not.toContain('198.51.100.99');
    expect(out).not.toMatch(/a=(candidate|ice-|end-of-candidates|remote-candidates)/);
    expect(out).toBe(
      crlf([
        'v=0',
        `o=alice 2890844526 2890844526 IN IP4 ${GATEWAY}`,
        's=-',
        `c=IN IP4 ${GATEWAY}`,
        't=0 0',
        `m=audio ${pbxPorts!.rtp} RTP/AVP 0 8 101`,
        'a=rtpmap:0 PCMU/8000',
        'a=rtpmap:101 telephone-event/8000',
        'a=fmtp:101 0-15',
        `a=rtcp:${pbxPorts!.rtcp} IN IP4 ${GATEWAY}`,
        'a=ptime:20',
        'a=sendrecv',
        'm=video 0 RTP/AVP 96',
        'a=rtpmap:96 H264/90000',
      ]),
    );
    // Port 0 stays 0 and gets no sockets on either side.
    expect(session.localPorts('set')[1]).toBeUndefined();
    expect(session.localPorts('pbx')[1]).toBeUndefined();
  });

  it('rewrites session and media c= of two live m= lines with their own ports', async () => {
    const session = newSession();
    const offer = crlf(['v=0', 'o=- 7 7 IN IP4 198.51.100.1', 's=-', 'c=IN IP4 198.51.100.1', 't=0 0',
      'm=audio 5004 RTP/AVP 0', 'c=IN IP4 198.51.100.2', 'a=rtcp-mux',
      'm=video 5006 RTP/AVP 96', 'a=rtcp:5006']);
    const out = SessionDescription.parse(await session.rewrite('set', offer));
    const ports = session.localPorts('pbx');
    expect(ports[0]!.rtp).not.toBe(ports[1]!.rtp);
    expect(out.media.map((m) => m.port)).toEqual([ports[0]!.rtp, ports[1]!.rtp]);
    expect(out.connection?.address).toBe(GATEWAY);
    expect(out.media[0].connection?.address).toBe(GATEWAY);
    expect(hasRtcpMux(out.media[0])).toBe(true);
    // a=rtcp naming the RTP port (muxed RTCP) keeps naming the RTP port.
    expect(out.media[1].attributes('rtcp')).toEqual([`${ports[1]!.rtp}`]);
    expect(out.toString()).not.toMatch(/198\.51\.100/);
  });

  it('keeps 0.0.0.0 (old-style hold) and gives the pbx answer the set-side ports', async () => {
    const session = newSession();
    await session.rewrite('set', OFFER);
    const answer = crlf(['v=0', 'o=pbx 1 2 IN IP4 198.51.100.50', 's=-', 'c=IN IP4 0.0.0.0', 't=0 0',
      'm=audio 30000 RTP/AVP 0', 'a=sendonly', 'm=video 0 RTP/AVP 96']);
    const out = (await session.rewrite('pbx', answer)).toString();
    const [setPorts] = session.localPorts('set');
    expect(out).toContain('\r\nc=IN IP4 0.0.0.0\r\n');
    expect(out).toContain(`\r\nm=audio ${setPorts!.rtp} RTP/AVP 0\r\n`);
    expect(out).toContain(`o=pbx 1 2 IN IP4 ${GATEWAY}\r\n`);
    expect(out).not.toContain('198.51.100.50');
  });

  it('gives a re-offer the same ports and passes the new version through', async () => {
    const session = newSession();
    const first = SessionDescription.parse(await session.rewrite('set', OFFER));
    const again = SessionDescription.parse(await session.rewrite('set', OFFER.replace('2890844526 IN', '2890844527 IN')));
    expect(again.media[0].port).toBe(first.media[0].port);
    expect(again.origin.sessionVersion).toBe('2890844527');
  });

  it('rejects malformed SDP with an SdpError and allocates nothing', async () => {
    const session = newSession();
    await expect(session.rewrite('set', 'v=0\r\ns=-\r\n')).rejects.toThrow(SdpError);
    expect(session.localPorts('set')).toEqual([]);
  });
});
