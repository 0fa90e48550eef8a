import type { DialogTable, SipApp } from '@psi-lab/sip';
import type { Logger } from 'pino';
import type { CredentialCache } from './credentials/credential-cache.js';
import type { MediaRelay } from './media/index.js';
import type { RegistrationTable } from './registrations/registration-table.js';
import type { B2bCall } from './relay/b2b-call.js';
import type { PbxLink } from './relay/pbx-link.js';
import type { GatewayCounters } from './status/types.js';

/** What the gateway's request handlers share: its two SIP elements, its tables and its counters. */
export interface GatewayContext {
  /** The set-side element (UDP, TCP, TLS, WSS toward remote sets). */
  setApp: SipApp;
  pbx: PbxLink;
  registrations: RegistrationTable;
  credentials: CredentialCache;
  media: MediaRelay;
  /** Dialogs by side: a request is only matched against the dialogs of the side it came from. */
  dialogs: { set: DialogTable; pbx: DialogTable };
  /** The calls (INVITE dialogs) in progress, for the status page. */
  calls: Set<B2bCall>;
  counters: GatewayCounters;
  logger: Logger;
  now: () => number;
  /** The address sets know the gateway by (Contact, From/To domains toward sets). */
  publicAddress: string;
  keepaliveMs: number;
}

/** What the set-side authentication leaves for the handlers that follow. */
export interface SetLocals {
  /** The authenticated set-side user. */
  user?: string;
}
