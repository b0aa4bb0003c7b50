/**
 * A model kept in S3 (`DEEPSC_MODEL_URI=s3://bucket/path/model.json`): model.json and the ONNX files it
 * names are copied next to each other in scratch, and every file is checked against the sha256 model.json
 * declares BEFORE the pipeline sees it. Weights that do not match their manifest never run: the diagnosis
 * would name a model that did not produce it. A mismatch is permanent (exit 78), not retried.
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { relativeKeyProblem } from "../../core/contracts/upload-manifest.js";
import { ObjectNotFoundError } from "../../core/ports/object-store.js";
import { type ModelManifest, ModelManifestSchema } from "../pipeline/model/model-manifest.js";
import { downloadToFile } from "./download.js";
import { JobFailure } from "./failure.js";
import type { JobStore } from "./store.js";

/** model.json is a few kB (tensor specs, preprocessing, training record); anything far larger is not one. */
const MAX_MODEL_JSON_BYTES = 4 * 1024 * 1024;

export interface StagedModel {
  /** Local model.json, with its ONNX files beside it. */
  manifestPath: string;
  manifest: ModelManifest;
}

function invalid(message: string, cause?: unknown): JobFailure {
  return new JobFailure(
    "CONFIGURATION",
    "MODEL_INVALID",
    message,
    cause === undefined ? undefined : { cause },
  );
}

/** The weight files model.json names (the main file and every variant), with their declared sha256. */
function weightFiles(m: ModelManifest): { file: string; sha256: string }[] {
  const files = [{ file: m.file, sha256: m.sha256 }];
  for (const v of Object.values(m.variants ?? {}))
    files.push({ file: v.file, sha256: v.sha256.toLowerCase() });
  return files;
}

export async function stageModel(store: JobStore, modelJsonKey: string, dir: string): Promise<StagedModel> {
  let text: string;
  try {
    const { size } = await store.head(modelJsonKey);
    if (size > MAX_MODEL_JSON_BYTES) throw invalid(`model.json is ${size} bytes; not a model manifest.`);
    text = new TextDecoder("utf-8", { fatal: true }).decode(await store.get(modelJsonKey));
  } catch (e) {
    if (e instanceof ObjectNotFoundError)
      throw invalid("DEEPSC_MODEL_URI names an object that does not exist.", e);
    if (e instanceof TypeError) throw invalid("model.json is not UTF-8.", e);
    throw e;
  }
  let manifest: ModelManifest;
  try {
    manifest = ModelManifestSchema.parse(JSON.parse(text));
  } catch (e) {
    throw invalid("model.json is not a valid DeepSC-COVID model manifest.", e);
  }

  const folder = path.posix.dirname(modelJsonKey);
  const seen = new Set<string>();
  for (const { file, sha256 } of weightFiles(manifest)) {
    if (seen.has(file)) continue;
    seen.add(file);
    const problem = relativeKeyProblem(file);
    if (problem !== undefined || file.includes("/"))
      throw invalid(`model.json names weight file "${file}", which is not a plain file name beside it.`);
    let got: { sha256: string };
    try {
      got = await downloadToFile(store, folder === "." ? file : `${folder}/${file}`, path.join(dir, file));
    } catch (e) {
      if (e instanceof ObjectNotFoundError)
        throw invalid(`model weight file ${file} does not exist beside model.json.`, e);
      throw e;
    }
    if (got.sha256 !== sha256)
      throw new JobFailure(
        "CONFIGURATION",
        "MODEL_CHECKSUM_MISMATCH",
        `model weight file ${file} has sha256 ${got.sha256}; model.json declares ${sha256}.`,
      );
  }
  const manifestPath = path.join(dir, "model.json");
  // The exact bytes that were checked, so the pipeline reads the same manifest.
  await writeFile(manifestPath, text, { mode: 0o600 });
  return { manifestPath, manifest };
}
