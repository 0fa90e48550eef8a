import { AUDIO_FRAME_MS, TELEPHONY_SAMPLE_RATE, frameSampleCount, type AudioFrameSource } from './frame-source.js';

const FULL_SCALE = 32767;
const TWO_PI = 2 * Math.PI;

/** One sine, or the sum of several (a DTMF pair is two), at a given level. */
export interface ToneOptions {
  /** A single frequency in Hz. */
  frequency?: number;
  /** Several frequencies in Hz, summed (e.g. [770, 1336] for DTMF '5'). */
  frequencies?: readonly number[];
  /** Samples per second; default 8000. */
  sampleRate?: number;
  /**
   * Peak level of the summed signal as a fraction of full scale (0–1); default 0.5. Each of n
   * frequencies gets amplitude / n, so the sum never clips.
   */
  amplitude?: number;
}

export interface GenerateToneOptions extends ToneOptions {
  durationMs: number;
}

/**
 * A bank of sine oscillators that remembers its phases, so that successive calls to
 * {@link ToneOscillator.render} join without a click.
 */
export class ToneOscillator {
  readonly frequencies: readonly number[];
  readonly sampleRate: number;
  private readonly steps: number[];
  private readonly phases: number[];
  private readonly componentPeak: number;

  constructor(options: ToneOptions) {
    const frequencies = options.frequencies ?? (options.frequency === undefined ? [] : [options.frequency]);
    const sampleRate = options.sampleRate ?? TELEPHONY_SAMPLE_RATE;
    const amplitude = options.amplitude ?? 0.5;
    if (frequencies.length === 0) throw new RangeError('tone: give a frequency or a non-empty frequencies list');
    if (!(sampleRate > 0)) throw new RangeError(`tone: sample rate ${sampleRate} is not positive`);
    for (const f of frequencies) {
      if (!(f >= 0 && f < sampleRate / 2)) throw new RangeError(`tone: ${f} Hz is not between 0 and the Nyquist frequency ${sampleRate / 2} Hz`);
    }
    if (!(amplitude >= 0 && amplitude <= 1)) throw new RangeError(`tone: amplitude ${amplitude} is not between 0 and 1 (fraction of full scale)`);
    this.frequencies = [...frequencies];
    this.sampleRate = sampleRate;
    this.steps = frequencies.map((f) => (TWO_PI * f) / sampleRate);
    this.phases = frequencies.map(() => 0);
    this.componentPeak = (amplitude * FULL_SCALE) / frequencies.length;
  }

  /** The next `count` samples, continuing where the previous call stopped. */
  render(count: number): Int16Array {
    const out = new Int16Array(count);
    for (let n = 0; n < count; n++) {
      let sum = 0;
      for (let i = 0; i < this.steps.length; i++) {
        sum += Math.sin(this.phases[i]);
        // Wrapped each step so that the phase keeps its precision over hours of audio.
        this.phases[i] = (this.phases[i] + this.steps[i]) % TWO_PI;
      }
      out[n] = clamp16(Math.round(sum * this.componentPeak));
    }
    return out;
  }
}

/** `durationMs` of a tone (or a sum of tones) as 16-bit PCM, starting at phase 0. */
export function generateTone(options: GenerateToneOptions): Int16Array {
  const oscillator = new ToneOscillator(options);
  if (!(options.durationMs >= 0)) throw new RangeError(`tone: duration ${options.durationMs} ms is not a non-negative number`);
  return oscillator.render(Math.round((options.durationMs * oscillator.sampleRate) / 1000));
}

/** An endless tone in frames (20 ms by default), phase-continuous from one frame to the next. */
export class ToneSource implements AudioFrameSource {
  readonly sampleRate: number;
  readonly frameSamples: number;
  private readonly oscillator: ToneOscillator;

  constructor(options: ToneOptions & { frameMs?: number }) {
    this.oscillator = new ToneOscillator(options);
    this.sampleRate = this.oscillator.sampleRate;
    this.frameSamples = frameSampleCount(this.sampleRate, options.frameMs ?? AUDIO_FRAME_MS);
  }

  nextFrame(): Int16Array {
    return this.oscillator.render(this.frameSamples);
  }
}

function clamp16(value: number): number {
  return value > FULL_SCALE ? FULL_SCALE : value < -32768 ? -32768 : value;
}
