/**
 * The registration status exactly as the Phone tab (and the tenant's integrated-user list)
 * shows it: no credentials yet, credentials but not registered, registered, or the SIP error
 * code and reason of the last failed attempt.
 */
export type RegistrationStatus = typeof PENDING_CREDENTIALS | typeof IDLE | typeof REGISTERED | `${number} ${string}`;

export const PENDING_CREDENTIALS = 'Pending SIP credentials';
export const IDLE = 'Idle';
export const REGISTERED = 'Registered';

const REASONS: Record<number, string> = {
  401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 407: 'Proxy Authentication Required', 408: 'Request Timeout',
  423: 'Interval Too Brief', 480: 'Temporarily Unavailable', 500: 'Server Internal Error', 503: 'Service Unavailable', 504: 'Server Time-out',
};

/** `403 Forbidden`: the code and the reason the server gave (or the standard one). */
export function describeFailure(status: number, reason: string): RegistrationStatus {
  return `${status} ${reason.trim() || REASONS[status] || 'Error'}`;
}

export function isFailure(status: RegistrationStatus): boolean {
  return /^\d{3} /.test(status);
}
