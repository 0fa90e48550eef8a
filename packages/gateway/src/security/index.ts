export { AccessList, type AccessRule, type AccessListName } from './access-list.js';
export {
  AbuseBlocker,
  DEFAULT_MAX_TRACKED_KEYS,
  type AbuseBlockerOptions,
  type AbusePolicy,
  type BlockKind,
  type BlockReason,
} from './abuse-blocker.js';
export { KnownDevices } from './known-devices.js';
export { LoadShedder } from './load-shedder.js';
export { isScannerUserAgent, scannerUserAgentMatcher } from './scanners.js';
