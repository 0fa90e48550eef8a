export {
  DTMF_DIGITS,
  digitToEvent,
  dtmfPackets,
  encodeTelephoneEvent,
  eventToDigit,
  parseTelephoneEvent,
  type DtmfDigit,
  type DtmfPacketOptions,
  type TelephoneEvent,
} from './rfc4733.js';
export { DtmfReceiver, type DtmfReceiverOptions, type ReceivedDtmf } from './dtmf-receiver.js';
