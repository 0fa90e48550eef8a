/**
 * What the RTP sender pulls audio from: one fixed-size frame of 16-bit PCM per packetization
 * interval (20 ms, 160 samples at 8 kHz, the G.711 default of RFC 3551).
 */

/** The narrowband telephony rate G.711 runs at. */
export const TELEPHONY_SAMPLE_RATE = 8000;

/** The usual RTP packetization interval for G.711 (a=ptime:20). */
export const AUDIO_FRAME_MS = 20;

/** Samples in one frame of `frameMs` at `sampleRate` (160 for 20 ms at 8 kHz). */
export function frameSampleCount(sampleRate = TELEPHONY_SAMPLE_RATE, frameMs = AUDIO_FRAME_MS): number {
  const count = (sampleRate * frameMs) / 1000;
  if (!Number.isInteger(count) || count <= 0) {
    throw new RangeError(`audio frame: ${frameMs} ms at ${sampleRate} Hz is not a whole, positive number of samples`);
  }
  return count;
}

/** Successive frames of mono 16-bit PCM; `undefined` once the source has nothing more to give. */
export interface AudioFrameSource {
  readonly sampleRate: number;
  /** Samples per frame. */
  readonly frameSamples: number;
  nextFrame(): Int16Array | undefined;
}

/** Endless digital silence, e.g. while a call is up but nothing is to be played. */
export class SilenceSource implements AudioFrameSource {
  readonly frameSamples: number;

  constructor(readonly sampleRate = TELEPHONY_SAMPLE_RATE, frameMs = AUDIO_FRAME_MS) {
    this.frameSamples = frameSampleCount(sampleRate, frameMs);
  }

  nextFrame(): Int16Array {
    // A new array each time: callers may encode or modify the frame in place.
    return new Int16Array(this.frameSamples);
  }
}
