/**
 * The ONNX Runtime session and its execution provider. `auto` tries CUDA and falls back to the CPU (the
 * npm package carries no CUDA libraries unless installed with --onnxruntime-node-install=cuda12, as the
 * container does); `cuda` insists and fails with a message saying what is missing. The provider that
 * actually runs is recorded in every diagnosis.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { InferenceSession, Tensor } from "onnxruntime-node";
import type { LoadedModel } from "./model-manifest.js";

export type DeviceRequest = "auto" | "cpu" | "cuda";
export type ExecutionProvider = "cpu" | "cuda";

export interface ModelSession {
  provider: ExecutionProvider;
  /** Why the provider was chosen (e.g. CUDA unavailable), for the diagnosis and logs. */
  providerNote: string | null;
  /** CUDA was tried (installed, asked for by `auto`) and failed, so the CPU ran instead. */
  fellBack: boolean;
  run(
    feeds: Record<string, Float32Array>,
    shapes: Record<string, readonly number[]>,
  ): Promise<Record<string, Float32Array>>;
  release(): Promise<void>;
}

export interface SessionOptions {
  device?: DeviceRequest;
  /** Intra-op threads on the CPU provider; default: ONNX Runtime's choice (all physical cores). */
  threads?: number;
}

export class ExecutionProviderError extends Error {
  override readonly name = "ExecutionProviderError";
}

type Ort = typeof import("onnxruntime-node");
let ortModule: Ort | undefined;

/** onnxruntime-node loads a native binding: load it only when a model is really run. */
function ort(): Ort {
  ortModule ??= createRequire(import.meta.url)("onnxruntime-node") as Ort;
  return ortModule;
}

/**
 * Whether onnxruntime-node was installed with its CUDA provider library. Checked before asking for CUDA
 * in `auto` mode, because a failed attempt makes the native runtime print an error to stderr.
 */
export function cudaProviderInstalled(): boolean {
  const pkg = dirname(createRequire(import.meta.url).resolve("onnxruntime-node/package.json"));
  const dir = join(pkg, "bin", "napi-v6", process.platform, process.arch);
  return existsSync(join(dir, "libonnxruntime_providers_cuda.so"));
}

const cudaUnavailable = (why: string) =>
  `the CUDA execution provider is unavailable (${why}). Install onnxruntime-node with --onnxruntime-node-install=cuda12 on a machine with an NVIDIA GPU, driver >= 580 and CUDA 13 + cuDNN 9, or run with --device cpu.`;

export async function openModelSession(model: LoadedModel, opts: SessionOptions = {}): Promise<ModelSession> {
  const device = opts.device ?? "auto";
  // Not even asked of the runtime: its failed attempt prints a native error (in ANSI colours) above ours.
  if (device === "cuda" && !cudaProviderInstalled())
    throw new ExecutionProviderError(
      cudaUnavailable("the CUDA provider of onnxruntime-node is not installed"),
    );
  if (device === "auto" && !cudaProviderInstalled()) {
    const session = await ort().InferenceSession.create(model.onnxPath, {
      ...base(opts),
      executionProviders: ["cpu"],
    });
    return wrap(session, "cpu", "the CUDA provider of onnxruntime-node is not installed", false);
  }
  if (device !== "cpu") {
    try {
      const session = await ort().InferenceSession.create(model.onnxPath, {
        ...base(opts),
        executionProviders: [{ name: "cuda", deviceId: 0 }],
      });
      return wrap(session, "cuda", null, false);
    } catch (e) {
      const why = (e as Error).message.split("\n")[0] ?? String(e);
      if (device === "cuda") throw new ExecutionProviderError(cudaUnavailable(why), { cause: e });
      const session = await ort().InferenceSession.create(model.onnxPath, {
        ...base(opts),
        executionProviders: ["cpu"],
      });
      return wrap(session, "cpu", `CUDA unavailable, ran on the CPU: ${why}`, true);
    }
  }
  const session = await ort().InferenceSession.create(model.onnxPath, {
    ...base(opts),
    executionProviders: ["cpu"],
  });
  return wrap(session, "cpu", null, false);
}

function base(opts: SessionOptions): InferenceSession.SessionOptions {
  return {
    graphOptimizationLevel: "all",
    executionMode: "sequential",
    ...(opts.threads !== undefined ? { intraOpNumThreads: opts.threads, interOpNumThreads: 1 } : {}),
  };
}

function wrap(
  session: InferenceSession,
  provider: ExecutionProvider,
  providerNote: string | null,
  fellBack: boolean,
): ModelSession {
  const { Tensor: OrtTensor } = ort();
  return {
    provider,
    providerNote,
    fellBack,
    async run(feeds, shapes) {
      const inputs: Record<string, Tensor> = {};
      for (const [name, data] of Object.entries(feeds)) {
        const shape = shapes[name];
        if (!shape) throw new Error(`no shape given for input ${name}`);
        inputs[name] = new OrtTensor("float32", data, shape);
      }
      const out = await session.run(inputs);
      const result: Record<string, Float32Array> = {};
      for (const [name, t] of Object.entries(out)) {
        if (!(t.data instanceof Float32Array))
          throw new Error(`model output ${name} is ${t.type}, expected float32`);
        result[name] = t.data;
      }
      return result;
    },
    release: () => session.release(),
  };
}
