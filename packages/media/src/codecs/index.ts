export {
  ALAW_DECODE_TABLE,
  ULAW_DECODE_TABLE,
  alawToLinear,
  decodePcma,
  decodePcmu,
  encodePcma,
  encodePcmu,
  linearToAlaw,
  linearToUlaw,
  ulawToLinear,
} from './g711.js';
export { CODECS, PCMA, PCMU, codecByName, codecByPayloadType, type AudioCodec } from './codec.js';
