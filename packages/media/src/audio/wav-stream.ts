/**
 * WAV files as streams of frames: a recorder that collects what a call receives, and a source
 * that plays a prompt file into a call at the telephony rate.
 */
import { AUDIO_FRAME_MS, TELEPHONY_SAMPLE_RATE, frameSampleCount, type AudioFrameSource } from './frame-source.js';
import { mixToMono, resample } from './resample.js';
import { WavError, encodeWav, readWav, writeWav, type DecodedWav, type WavFormatOptions } from './wav.js';

/**
 * Collects frames in memory and writes them as one WAV file at {@link WavRecorder.close}: call
 * recordings in the lab are short, and a file written once is never left half-formed.
 */
export class WavRecorder {
  private readonly frames: Int16Array[] = [];
  private samples = 0;
  private closed = false;
  readonly sampleRate: number;
  readonly channels: number;

  constructor(readonly file: string, options: WavFormatOptions = {}) {
    this.sampleRate = options.sampleRate ?? TELEPHONY_SAMPLE_RATE;
    this.channels = options.channels ?? 1;
  }

  /** Appends a frame (copied, so the caller may reuse its buffer). */
  append(frame: Int16Array): void {
    if (this.closed) throw new WavError('recorder is closed; nothing more can be appended', this.file);
    this.frames.push(frame.slice());
    this.samples += frame.length;
  }

  /** Samples recorded so far (all channels). */
  get sampleCount(): number {
    return this.samples;
  }

  get durationMs(): number {
    return (this.samples / this.channels / this.sampleRate) * 1000;
  }

  /** Everything recorded so far, as WAV file bytes. */
  toBuffer(): Buffer {
    return encodeWav(this.concat(), { sampleRate: this.sampleRate, channels: this.channels });
  }

  /** Writes the file; later calls do nothing. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await writeWav(this.file, this.concat(), { sampleRate: this.sampleRate, channels: this.channels });
  }

  private concat(): Int16Array {
    const all = new Int16Array(this.samples);
    let offset = 0;
    for (const frame of this.frames) {
      all.set(frame, offset);
      offset += frame.length;
    }
    return all;
  }
}

export interface WavSourceOptions {
  /** Rate the frames are produced at; default 8000 (the file is resampled to it). */
  sampleRate?: number;
  /** Frame length; default 20 ms. */
  frameMs?: number;
  /** After the last sample: 'end' (nextFrame returns undefined, the default) or endless 'silence'. */
  atEnd?: 'end' | 'silence';
  /** Start again from the beginning instead of ending (music on hold). */
  loop?: boolean;
}

/**
 * Plays a WAV file as mono frames at the telephony rate: channels are mixed down and the rate
 * converted once, up front. The last partial frame is padded with silence.
 */
export class WavSource implements AudioFrameSource {
  readonly sampleRate: number;
  readonly frameSamples: number;
  private readonly audio: Int16Array;
  private readonly atEnd: 'end' | 'silence';
  private readonly loop: boolean;
  private position = 0;

  constructor(wav: DecodedWav, options: WavSourceOptions = {}) {
    this.sampleRate = options.sampleRate ?? TELEPHONY_SAMPLE_RATE;
    this.frameSamples = frameSampleCount(this.sampleRate, options.frameMs ?? AUDIO_FRAME_MS);
    this.atEnd = options.atEnd ?? 'end';
    this.loop = options.loop ?? false;
    const mono = wav.channels === 1 ? wav.samples : mixToMono(wav.samples, wav.channels);
    this.audio = wav.sampleRate === this.sampleRate ? mono : resample(mono, wav.sampleRate, this.sampleRate);
  }

  /** Reads `file` and makes a source of it. */
  static async open(file: string, options: WavSourceOptions = {}): Promise<WavSource> {
    return new WavSource(await readWav(file), options);
  }

  /** True once every sample of the file has been handed out (never when looping a non-empty file). */
  get finished(): boolean {
    return this.position >= this.audio.length && !(this.loop && this.audio.length > 0);
  }

  /** Duration of the audio at the output rate. */
  get durationMs(): number {
    return (this.audio.length / this.sampleRate) * 1000;
  }

  nextFrame(): Int16Array | undefined {
    if (this.position >= this.audio.length) {
      if (this.loop && this.audio.length > 0) this.position = 0;
      else return this.atEnd === 'silence' ? new Int16Array(this.frameSamples) : undefined;
    }
    const frame = new Int16Array(this.frameSamples);
    let filled = 0;
    while (filled < this.frameSamples && this.position < this.audio.length) {
      const take = Math.min(this.frameSamples - filled, this.audio.length - this.position);
      frame.set(this.audio.subarray(this.position, this.position + take), filled);
      filled += take;
      this.position += take;
      if (this.loop && this.position >= this.audio.length) this.position = 0;
    }
    return frame;
  }
}
