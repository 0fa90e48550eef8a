import { describe, expect, it } from 'vitest';
import {
  DTMF_HIGH_FREQUENCIES,
  DTMF_LOW_FREQUENCIES,
  detectDtmfDigit,
  detectTone,
  dominantFrequency,
  dtmfDigitFrequencies,
  generateTone,
  goertzelPower,
  toneEnergyRatio,
} from '../src/audio/index.js';
import { decodePcma, decodePcmu, encodePcma, encodePcmu } from '../src/codecs/index.js';

const DIGITS = '0123456789*#ABCD'.split('');

/** Deterministic white-ish noise (a 32-bit LCG), peak `amplitude` of full scale. */
function noise(count: number, amplitude = 0.5, seed = 12345): Int16Array {
  const out = new Int16Array(count);
  let state = seed;
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = Math.round((state / 2 ** 32 - 0.5) * 2 * amplitude * 32767);
  }
  return out;
}

/** |X[k]|² by the DFT's definition, as the reference for Goertzel. */
function dftPower(samples: Int16Array, k: number): number {
  let re = 0;
  let im = 0;
  for (let n = 0; n < samples.length; n++) {
    re += samples[n] * Math.cos((2 * Math.PI * k * n) / samples.length);
    im -= samples[n] * Math.sin((2 * Math.PI * k * n) / samples.length);
  }
  return re * re + im * im;
}

function dtmf(digit: string, durationMs = 40, amplitude = 0.5): Int16Array {
  return generateTone({ frequencies: dtmfDigitFrequencies(digit), durationMs, amplitude });
}

function scaled(samples: Int16Array, factor: number): Int16Array {
  return Int16Array.from(samples, (s) => Math.round(s * factor));
}

function sum(a: Int16Array, b: Int16Array): Int16Array {
  return Int16Array.from(a, (s, i) => s + b[i]);
}

describe('goertzelPower', () => {
  it('equals the DFT power on a bin centre, for any signal', () => {
    const signal = noise(205);
    for (const k of [0, 18, 35, 102]) {
      const frequency = (k * 8000) / 205;
      expect(goertzelPower(signal, frequency) / dftPower(signal, k)).toBeCloseTo(1, 9);
    }
  });

  it('gives (A·N/2)² for a sine of peak A, also off the bin centres', () => {
    for (const frequency of [1000, 697, 1477]) {
      const tone = generateTone({ frequency, durationMs: 20 });
      const expected = ((16383.5 * tone.length) / 2) ** 2;
      expect(goertzelPower(tone, frequency) / expected).toBeCloseTo(1, 1);
    }
  });
});

describe('detectTone', () => {
  const tone1k = generateTone({ frequency: 1000, durationMs: 20 });

  it('detects 1 kHz in a 1 kHz tone and not 1.5 kHz', () => {
    expect(detectTone(tone1k, 1000)).toBe(true);
    expect(detectTone(tone1k, 1500)).toBe(false);
    expect(toneEnergyRatio(tone1k, 1000)).toBeGreaterThan(0.99);
    expect(toneEnergyRatio(tone1k, 1500)).toBeLessThan(0.01);
  });

  it('accepts a tone within a quarter bin and refuses one nearly half a bin off (20 ms: 50 Hz bins)', () => {
    expect(detectTone(generateTone({ frequency: 1010, durationMs: 20 }), 1000)).toBe(true);
    expect(detectTone(generateTone({ frequency: 1020, durationMs: 20 }), 1000)).toBe(false);
  });

  it('finds nothing in silence, in noise or in a tone too quiet to count', () => {
    expect(detectTone(new Int16Array(160), 1000)).toBe(false);
    expect(detectTone(new Int16Array(0), 1000)).toBe(false);
    expect(detectTone(noise(160), 1000)).toBe(false);
    expect(detectTone(generateTone({ frequency: 1000, durationMs: 20, amplitude: 0.001 }), 1000)).toBe(false);
    expect(detectTone(generateTone({ frequency: 1000, durationMs: 20, amplitude: 0.001 }), 1000, { minLevelDbfs: -80 })).toBe(true);
  });

  it('still finds a tone under moderate noise, but not one buried in it', () => {
    expect(detectTone(sum(tone1k, noise(160, 0.1)), 1000)).toBe(true);
    expect(detectTone(sum(scaled(tone1k, 0.1), noise(160, 0.5)), 1000)).toBe(false);
  });

  it('takes the sample rate into account', () => {
    const tone = generateTone({ frequency: 1000, durationMs: 20, sampleRate: 16000 });
    expect(detectTone(tone, 1000, { sampleRate: 16000 })).toBe(true);
    expect(detectTone(tone, 1000)).toBe(false);
  });
});

describe('dominantFrequency', () => {
  const candidates = [...DTMF_LOW_FREQUENCIES, ...DTMF_HIGH_FREQUENCIES];

  it('names the candidate a tone is at', () => {
    expect(dominantFrequency(generateTone({ frequency: 1336, durationMs: 20 }), candidates)).toBe(1336);
    expect(dominantFrequency(generateTone({ frequency: 425, durationMs: 50 }), [350, 425, 440, 480])).toBe(425);
  });

  it('names none in noise, silence, or when no candidate holds enough of the energy', () => {
    expect(dominantFrequency(noise(160), candidates)).toBeUndefined();
    expect(dominantFrequency(new Int16Array(160), candidates)).toBeUndefined();
    expect(dominantFrequency(generateTone({ frequency: 1000, durationMs: 20 }), candidates)).toBeUndefined();
    expect(dominantFrequency(generateTone({ frequency: 1000, durationMs: 20 }), [])).toBeUndefined();
  });
});

describe('detectDtmfDigit', () => {
  it.each(DIGITS)('detects %s generated in 40 ms and in a single 20 ms frame', (digit) => {
    expect(detectDtmfDigit(dtmf(digit, 40))).toBe(digit);
    expect(detectDtmfDigit(dtmf(digit, 20))).toBe(digit);
  });

  it('knows the keypad frequencies (ITU-T Q.23)', () => {
    expect(dtmfDigitFrequencies('1')).toEqual([697, 1209]);
    expect(dtmfDigitFrequencies('5')).toEqual([770, 1336]);
    expect(dtmfDigitFrequencies('9')).toEqual([852, 1477]);
    expect(dtmfDigitFrequencies('#')).toEqual([941, 1477]);
    expect(dtmfDigitFrequencies('d')).toEqual([941, 1633]);
    expect(() => dtmfDigitFrequencies('x')).toThrow(/not a keypad digit/);
  });

  it('detects nothing in silence, noise, a single tone or a dial tone', () => {
    expect(detectDtmfDigit(new Int16Array(320))).toBeUndefined();
    expect(detectDtmfDigit(noise(320))).toBeUndefined();
    expect(detectDtmfDigit(generateTone({ frequency: 770, durationMs: 40 }))).toBeUndefined();
    expect(detectDtmfDigit(generateTone({ frequencies: [350, 440], durationMs: 40 }))).toBeUndefined();
  });

  it('refuses two columns at once, which no key makes, even when one is 4 dB weaker', () => {
    expect(detectDtmfDigit(generateTone({ frequencies: [770, 1209, 1477], durationMs: 40 }))).toBeUndefined();
    const third = generateTone({ frequency: 1477, durationMs: 40, amplitude: 0.25 * 10 ** (-4 / 20) });
    expect(detectDtmfDigit(sum(dtmf('4', 40), third))).toBeUndefined();
    expect(detectDtmfDigit(sum(dtmf('4', 40), scaled(third, 0.3)))).toBe('4');
  });

  it('accepts a column up to 8 dB weaker than the row (normal twist), a row only up to 4 dB weaker', () => {
    const [row, column] = dtmfDigitFrequencies('8');
    const pair = (rowDb: number, columnDb: number) =>
      sum(
        generateTone({ frequency: row, durationMs: 40, amplitude: 0.3 * 10 ** (rowDb / 20) }),
        generateTone({ frequency: column, durationMs: 40, amplitude: 0.3 * 10 ** (columnDb / 20) }),
      );
    expect(detectDtmfDigit(pair(0, -6))).toBe('8');
    expect(detectDtmfDigit(pair(0, -10))).toBeUndefined();
    expect(detectDtmfDigit(pair(-3, 0))).toBe('8');
    expect(detectDtmfDigit(pair(-6, 0))).toBeUndefined();
  });

  it('detects a digit under moderate noise', () => {
    expect(detectDtmfDigit(sum(dtmf('3', 40), noise(320, 0.05)))).toBe('3');
  });
});

describe('tones after G.711', () => {
  const laws = [
    ['µ-law (PCMU)', (s: Int16Array) => decodePcmu(encodePcmu(s))],
    ['A-law (PCMA)', (s: Int16Array) => decodePcma(encodePcma(s))],
  ] as const;

  it.each(laws)('a 1 kHz tone through %s is still detected, 1.5 kHz still is not', (_name, codec) => {
    for (const amplitude of [0.5, 0.01]) {
      const received = codec(generateTone({ frequency: 1000, durationMs: 20, amplitude }));
      expect(detectTone(received, 1000)).toBe(true);
      expect(detectTone(received, 1500)).toBe(false);
    }
  });

  it.each(laws)('every DTMF digit through %s is detected back', (_name, codec) => {
    for (const digit of DIGITS) expect(detectDtmfDigit(codec(dtmf(digit, 20, 0.3)))).toBe(digit);
  });
});
