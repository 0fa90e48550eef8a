/**
 * Sample-rate conversion and channel mixing for prompt files: a 16 kHz or 44.1 kHz WAV has to
 * become 8 kHz mono before it can be G.711-encoded.
 */

/** Zero crossings of the sinc kept on each side of the interpolation point. */
const ZERO_CROSSINGS = 8;
/** Cutoff as a fraction of the lower Nyquist frequency: leaves room for the window's transition band. */
const CUTOFF_FRACTION = 0.95;

/**
 * Converts mono 16-bit PCM from `fromRate` to `toRate` by windowed-sinc (band-limited)
 * interpolation. When going down it also low-passes below the new Nyquist frequency, so that
 * content the new rate cannot carry (e.g. 6 kHz in a 16 kHz file going to 8 kHz) is removed
 * instead of folding back into the speech band as plain linear interpolation would do.
 * Output length is floor(length × toRate / fromRate).
 */
export function resample(samples: Int16Array, fromRate: number, toRate: number): Int16Array {
  if (!(fromRate > 0) || !(toRate > 0)) throw new RangeError(`resample: rates must be positive, got ${fromRate} Hz → ${toRate} Hz`);
  if (fromRate === toRate) return samples.slice();
  const outLength = Math.floor((samples.length * toRate) / fromRate);
  const out = new Int16Array(outLength);
  if (samples.length === 0) return out;

  const step = fromRate / toRate;
  // In cycles per input sample.
  const cutoff = 0.5 * Math.min(1, toRate / fromRate) * CUTOFF_FRACTION;
  const halfWidth = ZERO_CROSSINGS / (2 * cutoff);
  const last = samples.length - 1;

  for (let i = 0; i < outLength; i++) {
    const position = i * step;
    const first = Math.max(0, Math.ceil(position - halfWidth));
    const end = Math.min(last, Math.floor(position + halfWidth));
    let sum = 0;
    let weightSum = 0;
    for (let j = first; j <= end; j++) {
      const weight = kernel(position - j, cutoff, halfWidth);
      sum += samples[j] * weight;
      weightSum += weight;
    }
    // Dividing by the weights' sum keeps DC gain at exactly 1, also near the ends of the block.
    out[i] = clamp16(Math.round(weightSum === 0 ? samples[Math.min(last, Math.round(position))] : sum / weightSum));
  }
  return out;
}

/** Averages interleaved channels into one (stereo → mono). */
export function mixToMono(samples: Int16Array, channels: number): Int16Array {
  if (!Number.isInteger(channels) || channels < 1) throw new RangeError(`mixToMono: ${channels} is not a channel count`);
  if (channels === 1) return samples.slice();
  if (samples.length % channels !== 0) {
    throw new RangeError(`mixToMono: ${samples.length} samples are not whole frames of ${channels} channels`);
  }
  const out = new Int16Array(samples.length / channels);
  for (let frame = 0; frame < out.length; frame++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += samples[frame * channels + c];
    out[frame] = Math.round(sum / channels);
  }
  return out;
}

/** A Hann-windowed sinc low-pass at `cutoff` cycles per sample, evaluated `t` samples from its centre. */
function kernel(t: number, cutoff: number, halfWidth: number): number {
  if (Math.abs(t) >= halfWidth) return 0;
  const x = 2 * Math.PI * cutoff * t;
  const sinc = x === 0 ? 1 : Math.sin(x) / x;
  const window = 0.5 * (1 + Math.cos((Math.PI * t) / halfWidth));
  return sinc * window;
}

function clamp16(value: number): number {
  return value > 32767 ? 32767 : value < -32768 ? -32768 : value;
}
