/**
 * The Python side of the model (model/: network, losses, data, training, export, pack) has its own pytest
 * suite; this runs it inside the README's one test command so CI checks the code that trains and exports
 * the model, not only the exported ONNX. It needs Debian's python3-torch, python3-onnx, python3-nibabel and
 * python3-pytest (`.ci/run` installs them); on a machine without them it is skipped, and says so.
 */
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

const PYTHON = "/usr/bin/python3";
const ROOT = resolve(import.meta.dirname, "../..");

const available =
  spawnSync(PYTHON, ["-c", "import torch, onnx, nibabel, pytest"], { encoding: "utf8" }).status === 0;

describe.skipIf(!available)(
  "model/ pytest suite (Debian python3-torch, python3-onnx, python3-nibabel, python3-pytest)",
  () => {
    it("passes", { timeout: 600_000 }, () => {
      const r = spawnSync(PYTHON, ["-m", "pytest", "-q", "model/tests"], {
        cwd: ROOT,
        encoding: "utf8",
        maxBuffer: 16 << 20,
        // One thread each: the suite runs beside the other test files on a 2-core machine.
        env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1", OMP_NUM_THREADS: "1" },
      });
      const tail = `${r.stdout}\n${r.stderr}`.trim().split("\n").slice(-30).join("\n");
      expect(r.status, tail).toBe(0);
      // pytest's summary line: at least the suite's current size passed (guards against collecting nothing).
      const passed = Number(/(\d+) passed/.exec(r.stdout)?.[1] ?? 0);
      expect(passed, tail).toBeGreaterThanOrEqual(50);
    });
  },
);
