import { StoreError } from '../store/types.js';

export type ApiErrorCode =
  | StoreError['code']
  | 'bad-json' | 'body-too-large' | 'bad-request' | 'unauthorized' | 'no-gateway' | 'not-the-gateway'
  | 'too-many-failures' | 'unsupported-media-type' | 'method-not-allowed' | 'not-implemented' | 'internal';

/** Every failure the API answers, as `{ "error": { "code", "field", "message" } }`. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    readonly field: string | null,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export interface ErrorBody {
  error: { code: ApiErrorCode; field: string | null; message: string };
}

// A Record over the whole union: a new StoreError code does not compile until it has a status.
const STATUS_OF_STORE_ERROR: Record<StoreError['code'], number> = {
  'bad-field': 400,
  'bad-cidr': 400,
  'weak-password': 400,
  'unknown-role': 400,
  'unknown-subscriber': 404,
  'not-found': 404,
  'duplicate-email': 409,
  'duplicate-extension': 409,
  'duplicate-cidr': 409,
  'role-in-use': 409,
};

/** The ApiError for anything a handler threw; unexpected errors become a 500 that leaks nothing. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof StoreError) return new ApiError(STATUS_OF_STORE_ERROR[error.code], error.code, error.field, error.message);
  return new ApiError(500, 'internal', null, 'internal error: see the pbx log');
}

export function errorBody(error: ApiError): ErrorBody {
  return { error: { code: error.code, field: error.field, message: error.message } };
}
