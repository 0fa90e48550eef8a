import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ToneSource, WavRecorder, WavSource, decodeWav, detectTone, generateTone, readWav, writeWav } from '../src/audio/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'psi-media-wavstream-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe('WavRecorder', () => {
  it('collects frames and writes them as one file at close', async () => {
    const file = join(dir, 'call.wav');
    const recorder = new WavRecorder(file);
    const tone = new ToneSource({ frequency: 1000 });
    const frames = [tone.nextFrame(), tone.nextFrame(), tone.nextFrame()];
    for (const frame of frames) recorder.append(frame);
    // The recorder copies: reusing the caller's buffer does not change the recording.
    frames[0].fill(0);
    expect(recorder.sampleCount).toBe(480);
    expect(recorder.durationMs).toBe(60);

    await recorder.close();
    const wav = await readWav(file);
    expect(wav).toMatchObject({ sampleRate: 8000, channels: 1 });
    expect(wav.samples).toEqual(generateTone({ frequency: 1000, durationMs: 60 }));
    expect(decodeWav(recorder.toBuffer())).toEqual(wav);
  });

  it('refuses frames after close and closes only once', async () => {
    const recorder = new WavRecorder(join(dir, 'closed.wav'));
    await recorder.close();
    await recorder.close();
    expect(() => recorder.append(new Int16Array(160))).toThrow(/recorder is closed/);
    expect((await readWav(recorder.file)).samples).toHaveLength(0);
  });
});

describe('WavSource', () => {
  it('plays a 16 kHz stereo file as 8 kHz mono 20 ms frames, the last one padded, then ends', async () => {
    const file = join(dir, 'prompt.wav');
    const left = generateTone({ frequency: 1000, durationMs: 50, sampleRate: 16000 });
    const stereo = new Int16Array(left.length * 2);
    left.forEach((s, i) => stereo.set([s, s], i * 2));
    await writeWav(file, stereo, { sampleRate: 16000, channels: 2 });

    const source = await WavSource.open(file);
    expect(source.frameSamples).toBe(160);
    expect(source.durationMs).toBe(50);
    const frames: Int16Array[] = [];
    for (let frame = source.nextFrame(); frame; frame = source.nextFrame()) frames.push(frame);
    // 50 ms = 400 samples at 8 kHz: two whole frames and 80 samples padded with silence.
    expect(frames.map((f) => f.length)).toEqual([160, 160, 160]);
    expect(detectTone(frames[1], 1000)).toBe(true);
    expect(Array.from(frames[2].subarray(80)).every((s) => s === 0)).toBe(true);
    expect(frames[2].subarray(0, 80).some((s) => s !== 0)).toBe(true);
    expect(source.finished).toBe(true);
    expect(source.nextFrame()).toBeUndefined();
  });

  it('gives silence after the end when asked to', () => {
    const source = new WavSource({ sampleRate: 8000, channels: 1, samples: generateTone({ frequency: 500, durationMs: 20 }) }, { atEnd: 'silence' });
    expect(detectTone(source.nextFrame()!, 500)).toBe(true);
    expect(source.nextFrame()).toEqual(new Int16Array(160));
    expect(source.nextFrame()).toEqual(new Int16Array(160));
  });

  it('loops without a gap for music on hold', () => {
    const samples = Int16Array.from({ length: 100 }, (_, i) => i + 1);
    const source = new WavSource({ sampleRate: 8000, channels: 1, samples }, { loop: true });
    const first = source.nextFrame()!;
    const second = source.nextFrame()!;
    expect(Array.from(first.subarray(95, 105))).toEqual([96, 97, 98, 99, 100, 1, 2, 3, 4, 5]);
    // The second frame starts 160 samples in: index 160 % 100 = 60, whose value is 61.
    expect(second[0]).toBe(61);
    expect(source.finished).toBe(false);
  });
});
