/**
 * Tone detection with the Goertzel algorithm: the DFT of a block of samples evaluated at one
 * frequency by a second-order recursion, cheaper than an FFT when only a few frequencies matter
 * (a DTMF receiver needs eight). The frequency need not fall on a DFT bin: the recursion is run
 * with ω = 2πf/fs exactly, so a tone at f is measured at its full level.
 */
import type { DtmfDigit } from '../dtmf/index.js';
import { TELEPHONY_SAMPLE_RATE } from './frame-source.js';

/** DTMF row (low group) frequencies in Hz, ITU-T Q.23. */
export const DTMF_LOW_FREQUENCIES = [697, 770, 852, 941] as const;
/** DTMF column (high group) frequencies in Hz, ITU-T Q.23. */
export const DTMF_HIGH_FREQUENCIES = [1209, 1336, 1477, 1633] as const;

const KEYPAD: readonly (readonly DtmfDigit[])[] = [
  ['1', '2', '3', 'A'],
  ['4', '5', '6', 'B'],
  ['7', '8', '9', 'C'],
  ['*', '0', '#', 'D'],
];

/** The [row, column] frequencies in Hz of a DTMF digit, e.g. [770, 1336] for '5' (lower-case a–d accepted). */
export function dtmfDigitFrequencies(digit: string): [number, number] {
  const wanted = digit.toUpperCase();
  for (let row = 0; row < 4; row++) {
    const column = KEYPAD[row].indexOf(wanted as DtmfDigit);
    if (column >= 0) return [DTMF_LOW_FREQUENCIES[row], DTMF_HIGH_FREQUENCIES[column]];
  }
  throw new RangeError(`DTMF: "${digit}" is not a keypad digit (0-9, *, #, A-D)`);
}

/**
 * |X(f)|², the squared magnitude of the block's DFT at `frequency`, in squared sample units. A
 * sine of peak A over N samples gives about (A·N/2)².
 */
export function goertzelPower(samples: ArrayLike<number>, frequency: number, sampleRate = TELEPHONY_SAMPLE_RATE): number {
  const coefficient = 2 * Math.cos((2 * Math.PI * frequency) / sampleRate);
  let previous = 0;
  let beforePrevious = 0;
  for (let n = 0; n < samples.length; n++) {
    const current = samples[n] + coefficient * previous - beforePrevious;
    beforePrevious = previous;
    previous = current;
  }
  return previous * previous + beforePrevious * beforePrevious - coefficient * previous * beforePrevious;
}

/** Σx², the block's energy in squared sample units. */
export function blockEnergy(samples: ArrayLike<number>): number {
  let energy = 0;
  for (let n = 0; n < samples.length; n++) energy += samples[n] * samples[n];
  return energy;
}

/**
 * The fraction (0–1) of the block's energy that is a sine at `frequency`: about 1 for a pure
 * tone, 0.5 for each tone of an equal-level pair, about 2/N for white noise.
 */
export function toneEnergyRatio(samples: ArrayLike<number>, frequency: number, sampleRate = TELEPHONY_SAMPLE_RATE): number {
  const energy = blockEnergy(samples);
  if (energy === 0) return 0;
  return (2 * goertzelPower(samples, frequency, sampleRate)) / (samples.length * energy);
}

export interface ToneDetectionOptions {
  /** Samples per second; default 8000. */
  sampleRate?: number;
  /** Minimum share of the block's energy the tone must have (0–1); default 0.6. */
  thresholdRatio?: number;
  /** Blocks quieter than this RMS level (dB relative to full scale) hold no tone; default -50. */
  minLevelDbfs?: number;
}

/**
 * True when a sine at `frequency` dominates the block: it is loud enough, holds at least
 * `thresholdRatio` of the energy, and is stronger than the frequencies one DFT bin
 * (sampleRate / N) either side, so a tone must lie within roughly a quarter bin of `frequency`
 * (±12 Hz for a 20 ms block at 8 kHz).
 */
export function detectTone(samples: ArrayLike<number>, frequency: number, options: ToneDetectionOptions = {}): boolean {
  const sampleRate = options.sampleRate ?? TELEPHONY_SAMPLE_RATE;
  if (!loudEnough(samples, options.minLevelDbfs)) return false;
  if (toneEnergyRatio(samples, frequency, sampleRate) < (options.thresholdRatio ?? 0.6)) return false;
  const power = goertzelPower(samples, frequency, sampleRate);
  const binWidth = sampleRate / samples.length;
  for (const neighbour of [frequency - binWidth, frequency + binWidth]) {
    if (neighbour > 0 && neighbour < sampleRate / 2 && goertzelPower(samples, neighbour, sampleRate) >= power) return false;
  }
  return true;
}

/**
 * The candidate frequency holding the largest share of the block's energy, provided that share
 * reaches `thresholdRatio` (default 0.6) and the block is loud enough; otherwise undefined.
 */
export function dominantFrequency(
  samples: ArrayLike<number>,
  candidates: readonly number[],
  options: ToneDetectionOptions = {},
): number | undefined {
  const sampleRate = options.sampleRate ?? TELEPHONY_SAMPLE_RATE;
  if (candidates.length === 0 || !loudEnough(samples, options.minLevelDbfs)) return undefined;
  let best: number | undefined;
  let bestRatio = -1;
  for (const candidate of candidates) {
    const ratio = toneEnergyRatio(samples, candidate, sampleRate);
    if (ratio > bestRatio) [best, bestRatio] = [candidate, ratio];
  }
  return bestRatio >= (options.thresholdRatio ?? 0.6) ? best : undefined;
}

export interface DtmfDetectionOptions {
  /** Samples per second; default 8000. */
  sampleRate?: number;
  /** Blocks quieter than this RMS level (dBFS) hold no digit; default -50. */
  minLevelDbfs?: number;
  /** Share of the block's energy the two tones together must hold (0–1); default 0.7. */
  minPairRatio?: number;
  /** How much weaker the column tone may be than the row tone, in dB ("normal twist"); default 8. */
  maxNormalTwistDb?: number;
  /** How much weaker the row tone may be than the column tone, in dB ("reverse twist"); default 4. */
  maxReverseTwistDb?: number;
  /** How far the strongest tone of each group must stand above the others of its group, in dB; default 6. */
  minGroupMarginDb?: number;
}

/**
 * The DTMF digit sounding in the block, or undefined: exactly one row and one column tone must
 * stand out in their groups, together carry most of the energy (speech and noise do not), and
 * their levels may differ by no more than the allowed twist (8 dB normal, 4 dB reverse, as DTMF
 * receivers commonly accept). Blocks of 20 ms or more at 8 kHz separate the rows reliably.
 */
export function detectDtmfDigit(samples: ArrayLike<number>, options: DtmfDetectionOptions = {}): DtmfDigit | undefined {
  const sampleRate = options.sampleRate ?? TELEPHONY_SAMPLE_RATE;
  if (!loudEnough(samples, options.minLevelDbfs)) return undefined;
  const rows = strongestOf(samples, DTMF_LOW_FREQUENCIES, sampleRate, options.minGroupMarginDb ?? 6);
  const columns = strongestOf(samples, DTMF_HIGH_FREQUENCIES, sampleRate, options.minGroupMarginDb ?? 6);
  if (!rows || !columns) return undefined;

  const twistDb = 10 * Math.log10(rows.power / columns.power);
  if (twistDb > (options.maxNormalTwistDb ?? 8) || -twistDb > (options.maxReverseTwistDb ?? 4)) return undefined;

  const pairRatio = (2 * (rows.power + columns.power)) / (samples.length * blockEnergy(samples));
  if (pairRatio < (options.minPairRatio ?? 0.7)) return undefined;
  return KEYPAD[rows.index][columns.index];
}

/** The strongest frequency of a group when it beats every other one by `marginDb`. */
function strongestOf(
  samples: ArrayLike<number>,
  group: readonly number[],
  sampleRate: number,
  marginDb: number,
): { index: number; power: number } | undefined {
  const powers = group.map((f) => goertzelPower(samples, f, sampleRate));
  const index = powers.indexOf(Math.max(...powers));
  const margin = 10 ** (marginDb / 10);
  const clear = powers.every((p, i) => i === index || p * margin <= powers[index]);
  return clear && powers[index] > 0 ? { index, power: powers[index] } : undefined;
}

function loudEnough(samples: ArrayLike<number>, minLevelDbfs = -50): boolean {
  if (samples.length === 0) return false;
  const rms = Math.sqrt(blockEnergy(samples) / samples.length);
  return rms > 0 && 20 * Math.log10(rms / 32768) >= minLevelDbfs;
}
