export * from './rtp-audio-stream.js';
