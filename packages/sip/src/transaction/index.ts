export * from './types.js';
export { TypedEmitter, type EventArgs, type EventHandlers } from './emitter.js';
export { type TransactionState, type TransactionEvents } from './transaction.js';
export { ClientTransaction, type ClientTransactionEvents, type ClientTransactionHandlers } from './client-transaction.js';
export { ClientInviteTransaction } from './client-invite.js';
export { ClientNonInviteTransaction } from './client-non-invite.js';
export { ServerTransaction, type ServerTransactionEvents } from './server-transaction.js';
export { ServerInviteTransaction, type AckDisposition } from './server-invite.js';
export { ServerNonInviteTransaction } from './server-non-invite.js';
export { hasUniqueBranch } from './matching.js';
export { buildAckForFailure, buildCancel } from './requests.js';
export {
  TransactionLayer, type TransactionCounts, type TransactionLayerEvents, type TransactionLayerOptions,
} from './transaction-layer.js';
