import { describe, expect, it } from 'vitest';
import { blockEnergy, detectTone, generateTone, mixToMono, resample } from '../src/audio/index.js';

const rms = (samples: Int16Array) => Math.sqrt(blockEnergy(samples) / samples.length);

describe('resample', () => {
  it('brings 16 kHz and 44.1 kHz tones to 8 kHz at the same frequency and level', () => {
    for (const rate of [16000, 44100, 48000]) {
      const input = generateTone({ frequency: 1000, durationMs: 100, sampleRate: rate });
      const output = resample(input, rate, 8000);
      expect(output).toHaveLength(800);
      // Away from the edges, where the filter lacks input on one side.
      const middle = output.subarray(320, 480);
      expect(detectTone(middle, 1000)).toBe(true);
      expect(rms(middle) / rms(input)).toBeCloseTo(1, 1);
    }
  });

  it('removes what 8 kHz cannot carry instead of folding it into the speech band', () => {
    // 6 kHz at 16 kHz would alias to 2 kHz with plain interpolation.
    const high = generateTone({ frequency: 6000, durationMs: 100, sampleRate: 16000 });
    const output = resample(high, 16000, 8000);
    expect(rms(output.subarray(40, 760)) / rms(high)).toBeLessThan(0.01);
  });

  it('keeps a constant level exactly, edges included', () => {
    const dc = new Int16Array(441).fill(-1234);
    expect(Array.from(new Set(resample(dc, 44100, 8000)))).toEqual([-1234]);
  });

  it('goes up as well: 8 kHz to 16 kHz', () => {
    const input = generateTone({ frequency: 1000, durationMs: 40 });
    const output = resample(input, 8000, 16000);
    expect(output).toHaveLength(640);
    expect(detectTone(output.subarray(160, 480), 1000, { sampleRate: 16000 })).toBe(true);
  });

  it('copies when the rates match and rejects non-positive rates', () => {
    const input = Int16Array.from([1, 2, 3]);
    const copy = resample(input, 8000, 8000);
    expect(copy).toEqual(input);
    expect(copy).not.toBe(input);
    expect(resample(new Int16Array(0), 16000, 8000)).toHaveLength(0);
    expect(() => resample(input, 0, 8000)).toThrow(/rates must be positive/);
  });
});

describe('mixToMono', () => {
  it('averages the channels of each frame', () => {
    expect(mixToMono(Int16Array.from([10, 20, 30, -30, 0, 1]), 2)).toEqual(Int16Array.from([15, 0, 1]));
    expect(mixToMono(Int16Array.from([3, 6, 9]), 3)).toEqual(Int16Array.from([6]));
    expect(() => mixToMono(Int16Array.from([1, 2, 3]), 2)).toThrow(/not whole frames/);
  });
});
