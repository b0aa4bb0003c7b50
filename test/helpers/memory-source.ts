/** An InputSource over in-memory files, for fuzzing and unit tests of the validation pipeline. */
import type { InputEntry, InputSource } from "../../core/input/source.js";

export function memorySource(
  files: Record<string, Uint8Array>,
  container: InputSource["container"] = "folder",
): InputSource {
  let bytesRead = 0;
  const entries: InputEntry[] = Object.entries(files).map(([path, bytes]) => ({
    path,
    size: bytes.length,
    async read(start = 0, end = bytes.length) {
      const out = bytes.subarray(Math.max(0, start), Math.min(end, bytes.length));
      bytesRead += out.length;
      return out;
    },
  }));
  return {
    container,
    name: "memory",
    entries,
    bytesRead: () => bytesRead,
    bytesTotal: entries.reduce((s, e) => s + e.size, 0),
    async close() {},
  };
}
