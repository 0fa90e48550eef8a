export {
  DIGEST_ALGORITHMS,
  baseAlgorithm,
  computeDigestResponse,
  computeHa1,
  digestHash,
  isSessionAlgorithm,
  parseDigestAlgorithm,
  sessionHa1,
} from './algorithms.js';
export type { DigestAlgorithm, DigestQop, DigestResponseInput } from './algorithms.js';
export { checkNonce, createNonce } from './nonce.js';
export type { NonceCheck } from './nonce.js';
export { NonceCountTracker } from './nonce-counts.js';
export type { NonceCountResult } from './nonce-counts.js';
export { DigestServer } from './server.js';
export type {
  AsyncHa1Lookup,
  ChallengeOptions,
  DigestFailureReason,
  DigestRequest,
  DigestServerOptions,
  DigestVerdict,
  Ha1Lookup,
} from './server.js';
export { answerChallenge, pickChallenge } from './client.js';
export type { AnswerChallengeOptions } from './client.js';
