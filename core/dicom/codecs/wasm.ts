/**
 * Lazy, cached loading of the Emscripten codec builds (@cornerstonejs/codec-*), and the glue that runs one of
 * their decoder classes. Each module is instantiated once per process, on first use, with its stdout/stderr
 * hooks replaced: the OpenJPEG build prints "[INFO]" lines on stdout, which would corrupt `--json` output.
 */
import { CodecError, type DecodedFrame } from "./frame.js";

/** The Embind decoder classes of these builds share this shape. */
interface WasmDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  getDecodedBuffer(): Uint8Array;
  decode(): void;
  getFrameInfo(): {
    width: number;
    height: number;
    bitsPerSample: number;
    componentCount: number;
    isSigned?: boolean;
  };
  delete(): void;
}

type ModuleFactory = (overrides: {
  print: (line: string) => void;
  printErr: (line: string) => void;
}) => Promise<Record<string, unknown>>;

export type WasmModuleLoader = () => Promise<Record<string, unknown>>;

/** A loader that instantiates the module once and then reuses it; a failed load is retried on next use. */
export function lazyWasmModule(specifier: string): WasmModuleLoader {
  let instance: Promise<Record<string, unknown>> | undefined;
  return () => {
    instance ??= (async () => {
      // A non-literal specifier keeps the untyped CommonJS build out of the type checker.
      const imported = (await import(specifier)) as { default: ModuleFactory };
      const silent = () => {};
      return imported.default({ print: silent, printErr: silent });
    })().catch((e: unknown) => {
      instance = undefined;
      throw e;
    });
    return instance;
  };
}

/**
 * Decode one codestream with the module's decoder class. The output is copied out of the wasm heap before
 * the decoder is deleted; C++ exceptions (thrown as numbers) become CodecError.
 */
export async function decodeWithWasm(
  load: WasmModuleLoader,
  className: string,
  codestream: Uint8Array,
  label: string,
): Promise<DecodedFrame> {
  const module = await load();
  const Decoder = module[className] as (new () => WasmDecoder) | undefined;
  if (!Decoder) throw new Error(`internal: the ${label} module has no ${className}`);
  const decoder = new Decoder();
  let info: ReturnType<WasmDecoder["getFrameInfo"]>;
  let bytes: Uint8Array;
  try {
    decoder.getEncodedBuffer(codestream.length).set(codestream);
    decoder.decode();
    info = decoder.getFrameInfo();
    const view = decoder.getDecodedBuffer();
    bytes = new Uint8Array(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));
  } catch (e) {
    throw new CodecError(`The ${label} codestream cannot be decoded.`, false, { cause: e });
  } finally {
    decoder.delete();
  }
  const samples = info.width * info.height * info.componentCount;
  const deep = info.bitsPerSample > 8;
  if (samples <= 0 || bytes.length < samples * (deep ? 2 : 1))
    throw new CodecError(`The ${label} decoder returned fewer samples than its frame holds.`);
  const frame: DecodedFrame = {
    samples: deep ? new Uint16Array(bytes.buffer, 0, samples) : bytes.subarray(0, samples),
    width: info.width,
    height: info.height,
    components: info.componentCount,
    precision: info.bitsPerSample,
  };
  if (info.isSigned !== undefined) frame.signed = info.isSigned;
  return frame;
}
