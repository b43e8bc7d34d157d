import {
  CompactedError,
  FutureRevisionError,
  InvalidKeyError,
  LeaseNotFoundError,
  MemberExistsError,
  MembershipChangeError,
  NotSupportedError,
  PreconditionFailedError,
  StoreUnavailableError,
  UnknownMemberError,
} from "../store/index.ts";
import { HttpError } from "../server/index.ts";

/**
 * The edge where store errors become HTTP answers; handlers wrap store calls in `orHttp` so the
 * mapping lives in one place.
 */
export function toHttpError(error: unknown): unknown {
  if (error instanceof PreconditionFailedError) {
    return new HttpError(412, "precondition_failed", error.message, { details: { modRevision: error.actual } });
  }
  if (error instanceof CompactedError) {
    return new HttpError(410, "compacted", error.message, { details: { oldestRevision: error.oldest } });
  }
  if (error instanceof FutureRevisionError) {
    return new HttpError(400, "future_revision", error.message, { details: { currentRevision: error.current } });
  }
  if (error instanceof InvalidKeyError) return new HttpError(400, "invalid_key", error.message);
  if (error instanceof LeaseNotFoundError) return new HttpError(404, "lease_not_found", error.message);
  if (error instanceof MemberExistsError) return new HttpError(409, "member_exists", error.message);
  if (error instanceof UnknownMemberError) return new HttpError(404, "member_not_found", error.message);
  if (error instanceof MembershipChangeError) return new HttpError(409, "membership_change_refused", error.message);
  if (error instanceof NotSupportedError) return new HttpError(501, "not_supported", error.message);
  if (error instanceof StoreUnavailableError) return new HttpError(503, "unavailable", error.message);
  return error;
}

/** Runs a store call, translating its typed errors. */
export async function orHttp<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw toHttpError(error);
  }
}
