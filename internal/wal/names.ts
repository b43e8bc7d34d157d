// File names under a WAL directory:
//   wal/<seq>-<firstIndex>.wal    a segment; 16 lower-case hex digits each, so names sort in order
//   snap/<index>-<term>.snap      a snapshot
//   *.tmp                         a file being prepared; renamed into place once complete and synced

const HEX16 = /^[0-9a-f]{16}$/;

export const TMP_SUFFIX = ".tmp";

function hex16(n: number): string {
  return n.toString(16).padStart(16, "0");
}

function parsePair(name: string, suffix: string): [number, number] | undefined {
  if (!name.endsWith(suffix)) return undefined;
  const parts = name.slice(0, -suffix.length).split("-");
  if (parts.length !== 2) return undefined;
  const [a, b] = parts as [string, string];
  if (!HEX16.test(a) || !HEX16.test(b)) return undefined;
  const x = Number.parseInt(a, 16);
  const y = Number.parseInt(b, 16);
  return Number.isSafeInteger(x) && Number.isSafeInteger(y) ? [x, y] : undefined;
}

export interface SegmentName {
  readonly name: string;
  readonly seq: number;
  /** The index of the first entry written after the segment was started (the last index then, plus one). */
  readonly firstIndex: number;
}

export function segmentName(seq: number, firstIndex: number): string {
  return `${hex16(seq)}-${hex16(firstIndex)}.wal`;
}

export function parseSegmentName(name: string): SegmentName | undefined {
  const pair = parsePair(name, ".wal");
  return pair === undefined ? undefined : { name, seq: pair[0], firstIndex: pair[1] };
}

export interface SnapshotName {
  readonly name: string;
  readonly index: number;
  readonly term: number;
}

export function snapshotName(index: number, term: number): string {
  return `${hex16(index)}-${hex16(term)}.snap`;
}

export function parseSnapshotName(name: string): SnapshotName | undefined {
  const pair = parsePair(name, ".snap");
  return pair === undefined ? undefined : { name, index: pair[0], term: pair[1] };
}
