/**
 * psi-lab's media layer, shared by the softphone and the gateway: packets (rtp/), codecs
 * (codecs/), telephone-events (dtmf/), reordering (jitter/), audio in and out (audio/: tones,
 * Goertzel detection, WAV) and plain-RTP SDP (sdp/).
 */
export * from './rtp/index.js';
export * from './codecs/index.js';
export * from './dtmf/index.js';
export * from './jitter/index.js';
export * from './audio/index.js';
export * from './sdp/index.js';
export * from './stream/index.js';
