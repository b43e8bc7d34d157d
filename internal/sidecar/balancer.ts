// Choosing an instance of a domain: power of two choices over the least in-flight requests (as
// Linkerd and Envoy's least-request do): two random candidates, the less busy wins. It spreads
// load as well as a full scan at constant cost, and avoids the herd that "always the least
// loaded" causes when every sidecar picks at once.

export interface Instance {
  readonly id: string;
  readonly address: string;
}

export class Balancer {
  private readonly inFlight = new Map<string, number>();

  constructor(private readonly random: () => number = Math.random) {}

  /**
   * One of `instances` not in `exclude`; when all are excluded, one of them anyway (a retry to an
   * instance already tried beats no retry). Undefined only when there are none.
   */
  pick(instances: readonly Instance[], exclude?: ReadonlySet<string>): Instance | undefined {
    let candidates = instances;
    if (exclude && exclude.size > 0) {
      const allowed = instances.filter((instance) => !exclude.has(instance.id));
      if (allowed.length > 0) candidates = allowed;
    }
    const n = candidates.length;
    if (n === 0) return undefined;
    if (n === 1) return candidates[0];
    const a = Math.floor(this.random() * n);
    let b = Math.floor(this.random() * (n - 1));
    if (b >= a) b++;
    const first = candidates[a]!;
    const second = candidates[b]!;
    return (this.inFlight.get(second.id) ?? 0) < (this.inFlight.get(first.id) ?? 0) ? second : first;
  }

  /** Counts a request to `id` until the returned function is called. */
  begin(id: string): () => void {
    this.inFlight.set(id, (this.inFlight.get(id) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.inFlight.get(id) ?? 1) - 1;
      if (left <= 0) this.inFlight.delete(id);
      else this.inFlight.set(id, left);
    };
  }

  load(id: string): number {
    return this.inFlight.get(id) ?? 0;
  }
}
