import { detectTone } from './goertzel.js';

/** 20 ms of 8 kHz audio: what an RTP stream hands on at a time, and what a recording is made of. */
const FRAME_SAMPLES = 160;

/**
 * A recording cut into its 20 ms frames, leaving out the all-zero ones: what the stream played
 * while no audio arrived (the jitter buffer priming, DTMF sent in place of audio, catching up
 * after a stall), which says nothing about what the other side played. Judged frame by frame,
 * a stall that loses a few frames breaks no tone's phase.
 */
export function audioFrames(samples: Int16Array): Int16Array[] {
  const frames: Int16Array[] = [];
  for (let at = 0; at + FRAME_SAMPLES <= samples.length; at += FRAME_SAMPLES) {
    const frame = samples.subarray(at, at + FRAME_SAMPLES);
    if (frame.some((s) => s !== 0)) frames.push(frame);
  }
  return frames;
}

/** How many of the frames hold a tone at `frequency`. */
export const framesWithTone = (frames: Int16Array[], frequency: number): number => frames.filter((f) => detectTone(f, frequency)).length;
