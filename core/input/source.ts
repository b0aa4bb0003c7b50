/**
 * An input, whatever its container (single file, folder, zip, object-store prefix), seen as a flat list of
 * entries that can be read by range. Readers and validation only ever talk to this interface, so the ingest
 * Lambda (range reads against S3) and the job (local files) share one implementation.
 */
export type ContainerKind = "file" | "folder" | "zip" | "object-store";

export interface InputEntry {
  /** Path relative to the input root with POSIX separators; for a single file, its base name. */
  readonly path: string;
  /** Uncompressed size in bytes (for zip entries, as declared by the central directory and enforced). */
  readonly size: number;
  /**
   * Bytes [start, end) of the entry's uncompressed content; end defaults to size and is clamped to it.
   * For deflated zip entries a prefix read inflates only as much as it needs.
   */
  read(start?: number, end?: number): Promise<Uint8Array>;
}

export interface InputSource {
  readonly container: ContainerKind;
  /** Display name of the input (base name, never an absolute local path). */
  readonly name: string;
  /** Sorted by path (UTF-16 code units): reports name a file by its position here (core/contracts/file-ref.ts). */
  readonly entries: readonly InputEntry[];
  /** Bytes fetched from the underlying storage so far (compressed bytes for zips). */
  bytesRead(): number;
  /** Stored size of the input (the zip's size, or the sum of the files' sizes). */
  readonly bytesTotal: number;
  close(): Promise<void>;
}

/** Limits enforced while opening inputs; defaults suit a chest CT series (a few hundred 512x512 slices). */
export interface InputLimits {
  /** Stored bytes of the whole input. */
  maxTotalBytes: number;
  /** Sum of the declared uncompressed sizes of a zip's entries. */
  maxUncompressedBytes: number;
  /** Largest uncompressed/compressed ratio accepted for one zip entry or the whole archive. */
  maxCompressionRatio: number;
  /** Files in a folder or entries in a zip. */
  maxEntries: number;
  /** Voxels in the assembled volume. */
  maxVoxels: number;
}

export const DEFAULT_LIMITS: InputLimits = {
  maxTotalBytes: 2 * 1024 ** 3,
  maxUncompressedBytes: 4 * 1024 ** 3,
  maxCompressionRatio: 100,
  maxEntries: 20_000,
  maxVoxels: 1024 * 1024 * 2000,
};
