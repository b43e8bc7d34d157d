// Typed store errors. The HTTP edge maps them to statuses (412, 410, 400, 404, 503); the stores
// never know about HTTP.

/** A compare-and-set whose expected modRevision did not match. */
export class PreconditionFailedError extends Error {
  override readonly name = "PreconditionFailedError";
  constructor(
    readonly key: string,
    readonly expected: number,
    /** The key's modRevision now; 0 when it does not exist. */
    readonly actual: number,
  ) {
    super(`${key}: expected modRevision ${expected}, found ${actual === 0 ? "no key" : actual}`);
  }
}

/** The requested revision is older than the retained history. */
export class CompactedError extends Error {
  override readonly name = "CompactedError";
  constructor(
    readonly requested: number,
    /** The oldest revision still available. */
    readonly oldest: number,
  ) {
    super(`revision ${requested} has been compacted; the oldest available is ${oldest}`);
  }
}

/** The requested revision has not happened yet. */
export class FutureRevisionError extends Error {
  override readonly name = "FutureRevisionError";
  constructor(
    readonly requested: number,
    readonly current: number,
  ) {
    super(`revision ${requested} is in the future; the current revision is ${current}`);
  }
}

export class InvalidKeyError extends Error {
  override readonly name = "InvalidKeyError";
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super(`invalid key ${JSON.stringify(key.length > 80 ? `${key.slice(0, 77)}...` : key)}: ${reason}`);
  }
}

export class LeaseNotFoundError extends Error {
  override readonly name = "LeaseNotFoundError";
  constructor(readonly lease: string) {
    super(`lease ${lease} not found (expired or revoked)`);
  }
}

/** The backend cannot serve the request now (no quorum, no leader, unreachable); retrying later may work. */
export class StoreUnavailableError extends Error {
  override readonly name = "StoreUnavailableError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A member id that is already in the cluster. */
export class MemberExistsError extends Error {
  override readonly name = "MemberExistsError";
  constructor(readonly id: string) {
    super(`member ${id} is already in the cluster`);
  }
}

export class UnknownMemberError extends Error {
  override readonly name = "UnknownMemberError";
  constructor(readonly id: string) {
    super(`no member ${id} in the cluster`);
  }
}

/** A membership change that cannot be made now or at all (the last member, one already in progress). */
export class MembershipChangeError extends Error {
  override readonly name = "MembershipChangeError";
  constructor(message: string) {
    super(message);
  }
}

/** The backend has no run-time membership API (etcd: use etcdctl). */
export class NotSupportedError extends Error {
  override readonly name = "NotSupportedError";
  constructor(message: string) {
    super(message);
  }
}
