export { AUDIO_FRAME_MS, SilenceSource, TELEPHONY_SAMPLE_RATE, frameSampleCount, type AudioFrameSource } from './frame-source.js';
export { ToneOscillator, ToneSource, generateTone, type GenerateToneOptions, type ToneOptions } from './tone.js';
export {
  DTMF_HIGH_FREQUENCIES,
  DTMF_LOW_FREQUENCIES,
  blockEnergy,
  detectDtmfDigit,
  detectTone,
  dominantFrequency,
  dtmfDigitFrequencies,
  goertzelPower,
  toneEnergyRatio,
  type DtmfDetectionOptions,
  type ToneDetectionOptions,
} from './goertzel.js';
export { mixToMono, resample } from './resample.js';
export {
  WavError,
  decodeWav,
  encodeWav,
  readWav,
  writeWav,
  type DecodeWavOptions,
  type DecodedWav,
  type WavFormatOptions,
} from './wav.js';
export { WavRecorder, WavSource, type WavSourceOptions } from './wav-stream.js';
export { audioFrames, framesWithTone } from './recording-analysis.js';
