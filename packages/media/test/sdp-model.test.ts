import { describe, expect, it } from 'vitest';
import { SdpError, SessionDescription, directionOf, effectiveConnection, hasRtcpMux, rtcpAttribute } from '../src/sdp/index.js';

// SDP content only: nothing is ever sent to these documentation addresses (TEST-NET-2).
const SET_ADDRESS = '198.51.100.7';

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

describe('SDP model', () => {
  it('serializes back byte for byte', () => {
    expect(SessionDescription.parse(OFFER).toString()).toBe(OFFER);
    expect(SessionDescription.parse(Buffer.from(OFFER)).toBuffer().equals(Buffer.from(OFFER))).toBe(true);
  });

  it('keeps an m= line with odd spacing as it was while its fields do not change', () => {
    const text = crlf(['v=0', 'o=- 1 1 IN IP4 198.51.100.1', 's=-', 'c=IN IP4 198.51.100.1', 't=0 0', 'm=audio  5004 RTP/AVP 0  8']);
    const sdp = SessionDescription.parse(text);
    expect(sdp.toString()).toBe(text);
    sdp.media[0].port = 6000;
    expect(sdp.toString()).toContain('\r\nm=audio 6000 RTP/AVP 0 8\r\n');
  });

  it('accepts LF line endings and writes CRLF', () => {
    const sdp = SessionDescription.parse(OFFER.replaceAll('\r\n', '\n'));
    expect(sdp.toString()).toBe(OFFER);
  });

  it('parses m= lines, connections and attributes', () => {
    const sdp = SessionDescription.parse(OFFER);
    expect(sdp.media.map((m) => [m.media, m.port, m.proto, m.formats])).toEqual([
      ['audio', 49170, 'RTP/AVP', ['0', '8', '101']],
      ['video', 0, 'RTP/AVP', ['96']],
    ]);
    expect(sdp.origin).toMatchObject({ username: 'alice', sessionVersion: '2890844526', address: SET_ADDRESS });
    expect(effectiveConnection(sdp, 0)?.address).toBe(SET_ADDRESS);
    expect(rtcpAttribute(sdp.media[0])).toEqual({ port: 49171, connection: { netType: 'IN', addrType: 'IP4', address: SET_ADDRESS, suffix: '' } });
    expect(rtcpAttribute(sdp.media[1])).toBeUndefined();
    expect(hasRtcpMux(sdp.media[0])).toBe(false);
    expect(directionOf(sdp, 0)).toBe('sendrecv');
    expect(directionOf(sdp, 1)).toBe('sendrecv');
  });

  it('lets a media-level c= and direction override the session-level ones', () => {
    const sdp = SessionDescription.parse(
      crlf(['v=0', 'o=- 1 1 IN IP4 198.51.100.1', 's=-', 'c=IN IP4 198.51.100.1', 't=0 0', 'a=sendonly',
        'm=audio 5004 RTP/AVP 0', 'c=IN IP4 198.51.100.2', 'a=inactive', 'm=video 5006 RTP/AVP 96']),
    );
    expect(effectiveConnection(sdp, 0)?.address).toBe('198.51.100.2');
    expect(effectiveConnection(sdp, 1)?.address).toBe('198.51.100.1');
    expect(directionOf(sdp, 0)).toBe('inactive');
    expect(directionOf(sdp, 1)).toBe('sendonly');
  });

  it.each([
    ['an empty body', '', /no v= line/],
    ['no v= first', crlf(['o=- 1 1 IN IP4 198.51.100.1', 's=-', 'm=audio 5004 RTP/AVP 0']), /line 1: SDP must start with v=0/],
    ['no o=', crlf(['v=0', 's=-', 'c=IN IP4 198.51.100.1', 'm=audio 5004 RTP/AVP 0']), /no o= line/],
    ['a short o=', crlf(['v=0', 'o=- 1 1 IN IP4', 's=-', 'c=IN IP4 198.51.100.1', 'm=audio 5004 RTP/AVP 0']), /o= wants 6 fields/],
    ['no m=', crlf(['v=0', 'o=- 1 1 IN IP4 198.51.100.1', 's=-', 'c=IN IP4 198.51.100.1', 't=0 0']), /no m= line/],
    ['a bad port', crlf(['v=0', 'o=- 1 1 IN IP4 198.51.100.1', 's=-', 'c=IN IP4 198.51.100.1', 'm=audio 70000 RTP/AVP 0']), /line 5: m= port "70000"/],
    ['a port that is no number', crlf(['v=0', 'o=- 1 1 IN IP4 198.51.100.1', 's=-', 'c=IN IP4 198.51.100.1', 'm=audio x RTP/AVP 0']), /m= port "x"/],
    ['an m= without format', crlf(['v=0', 'o=- 1 1 IN IP4 198.51.100.1', 's=-', 'c=IN IP4 198.51.100.1', 'm=audio 5004 RTP/AVP']), /m= wants|lists no format/],
    ['a bad c=', crlf(['v=0', 'o=- 1 1 IN IP4 198.51.100.1', 's=-', 'c=IN IP4', 'm=audio 5004 RTP/AVP 0']), /line 4: c= wants/],
    ['no c= for a live stream', crlf(['v=0', 'o=- 1 1 IN IP4 198.51.100.1', 's=-', 'm=audio 5004 RTP/AVP 0']), /media section 0 \(audio\) has no c= line/],
    ['a garbage line', crlf(['v=0', 'o=- 1 1 IN IP4 198.51.100.1', 'hello', 'm=audio 5004 RTP/AVP 0']), /line 3: "hello" is not/],
    ['a bad a=rtcp', crlf(['v=0', 'o=- 1 1 IN IP4 198.51.100.1', 's=-', 'c=IN IP4 198.51.100.1', 'm=audio 5004 RTP/AVP 0', 'a=rtcp:abc']), /a=rtcp port "abc"/],
  ])('rejects %s with an SdpError', (_name, text, message) => {
    expect(() => SessionDescription.parse(text)).toThrow(SdpError);
    expect(() => SessionDescription.parse(text)).toThrow(message);
  });
});
