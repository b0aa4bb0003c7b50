/** The findings stage: computeFindings (numbers) and impression (words). */
export { computeFindings, type FindingsInput, voxelVolumeMl } from "./compute-findings.js";
export { FindingsInputError } from "./errors.js";
export { type ClassProbabilities, impression } from "./impression.js";
export { DEFAULT_FINDINGS_OPTIONS, type FindingsOptions, resolveFindingsOptions } from "./options.js";
