import { describe, expect, it } from 'vitest';
import { SilenceSource, ToneOscillator, ToneSource, frameSampleCount, generateTone } from '../src/audio/index.js';

describe('generateTone', () => {
  it('produces the sine values worked out by hand for 1 kHz at 8 kHz, half scale', () => {
    // Peak 0.5 × 32767 = 16383.5; 1 kHz at 8 kHz is one period every 8 samples.
    // sin(π/4) × 16383.5 = 11584.8 → 11585; Math.round rounds -16383.5 up to -16383.
    const tone = generateTone({ frequency: 1000, durationMs: 2 });
    expect(Array.from(tone)).toEqual([0, 11585, 16384, 11585, 0, -11585, -16383, -11585, 0, 11585, 16384, 11585, 0, -11585, -16383, -11585]);
  });

  it('makes durationMs × sampleRate samples', () => {
    expect(generateTone({ frequency: 440, durationMs: 20 })).toHaveLength(160);
    expect(generateTone({ frequency: 440, durationMs: 100, sampleRate: 16000 })).toHaveLength(1600);
    expect(generateTone({ frequency: 440, durationMs: 0 })).toHaveLength(0);
  });

  it('sums several frequencies without exceeding the requested peak', () => {
    const pair = generateTone({ frequencies: [941, 1633], durationMs: 200, amplitude: 0.8 });
    const peak = Math.max(...Array.from(pair, Math.abs));
    expect(peak).toBeLessThanOrEqual(Math.round(0.8 * 32767));
    // The two components line up now and then, so the sum comes close to the peak.
    expect(peak).toBeGreaterThan(0.75 * 32767);
  });

  it('reaches full scale without wrapping around', () => {
    const tone = generateTone({ frequency: 2000, durationMs: 1, amplitude: 1 });
    expect(Array.from(tone)).toEqual([0, 32767, 0, -32767, 0, 32767, 0, -32767]);
  });

  it.each([
    [{ durationMs: 20 }, /give a frequency/],
    [{ frequency: 4000, durationMs: 20 }, /Nyquist/],
    [{ frequency: 1000, durationMs: 20, amplitude: 1.5 }, /amplitude 1.5/],
    [{ frequency: 1000, durationMs: -1 }, /duration -1/],
  ])('rejects %j', (options, message) => {
    expect(() => generateTone(options)).toThrow(message);
  });
});

describe('ToneSource', () => {
  it('gives 20 ms frames that join into exactly the same signal as one long tone', () => {
    const source = new ToneSource({ frequencies: [697, 1209], amplitude: 0.3 });
    expect(source.frameSamples).toBe(160);
    const frames = Array.from({ length: 10 }, () => source.nextFrame());
    const joined = Int16Array.from(frames.flatMap((f) => Array.from(f)));
    expect(joined).toEqual(generateTone({ frequencies: [697, 1209], amplitude: 0.3, durationMs: 200 }));
  });

  it('keeps the phase across frames of a frequency that does not divide the frame', () => {
    // 697 Hz: 13.94 periods per frame. Restarting the phase each frame would jump at the joins.
    const osc = new ToneOscillator({ frequency: 697 });
    const first = osc.render(160);
    const second = osc.render(160);
    const step = Math.abs(second[0] - first[159]);
    const maxStep = Math.ceil(16383.5 * 2 * Math.sin((Math.PI * 697) / 8000));
    expect(step).toBeLessThanOrEqual(maxStep);
    expect(second[0]).not.toBe(0);
  });

  it('supports other rates and frame lengths', () => {
    expect(new ToneSource({ frequency: 1000, sampleRate: 16000, frameMs: 10 }).nextFrame()).toHaveLength(160);
    expect(frameSampleCount(8000, 30)).toBe(240);
    expect(() => frameSampleCount(44100, 1.5)).toThrow(/whole, positive number of samples/);
  });
});

describe('SilenceSource', () => {
  it('gives endless zero frames, a new array each time', () => {
    const source = new SilenceSource();
    const a = source.nextFrame();
    const b = source.nextFrame();
    expect(a).toEqual(new Int16Array(160));
    expect(a).not.toBe(b);
  });
});
