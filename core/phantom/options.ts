/**
 * Options of `deepsc phantom`, one zod schema with documented defaults. The CLI parses its flags into
 * PhantomOptions; runPhantom parses them again, so library callers get the same defaults and checks.
 */
import * as z from "zod";
import { TransferSyntaxNameSchema } from "../dicom/write-series.js";
import { MAX_EMPHYSEMA_SHARE } from "./emphysema.js";

/** Bumped whenever the same seed would render different voxels; recorded in truth.json. */
export const PHANTOM_GENERATOR_VERSION = "1.1.1";

/** Voxel budget: 512 x 512 x 1000 slices. Larger requests are refused before anything is allocated. */
export const MAX_PHANTOM_VOXELS = 512 * 512 * 1000;

/** Printable ASCII without the DICOM value separator: the values go into DICOM string elements verbatim. */
const dicomString = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[\x20-\x5b\x5d-\x7e]*$/, "printable ASCII without backslash");
const dicomDate = z.string().regex(/^\d{8}$/, "YYYYMMDD");
const dicomTime = z.string().regex(/^\d{6}(\.\d{1,6})?$/, "HHMMSS[.FFFFFF]");

/**
 * Patient and study identification written into the DICOM headers. Test values by default; tests put
 * marker strings here to prove they never leak into results, logs or truth files.
 */
export const PatientIdentitySchema = z.object({
  patientName: dicomString(64).default("PHANTOM^TEST"),
  patientId: dicomString(64).default("PHANTOM-0001"),
  patientBirthDate: dicomDate.default("19700101"),
  patientSex: z.enum(["M", "F", "O"]).default("O"),
  accessionNumber: dicomString(16).default("PHANTOM0001"),
  institutionName: dicomString(64).default("DeepSC Synthetic Hospital"),
  referringPhysicianName: dicomString(64).default("PHANTOM^REFERRER"),
  studyDate: dicomDate.default("20200101"),
  studyTime: dicomTime.default("120000"),
  studyId: dicomString(16).default("1"),
  studyDescription: dicomString(64).default("CT CHEST PHANTOM"),
  seriesDescription: dicomString(64).default("CT CHEST SYNTHETIC"),
});
export type PatientIdentity = z.output<typeof PatientIdentitySchema>;

/** Oblique sampling: the grid is rotated about x, then y (degrees); the anatomy stays where it is. */
export const ObliqueSchema = z.object({
  rotateXDeg: z.number().min(-60).max(60).default(0),
  rotateYDeg: z.number().min(-60).max(60).default(0),
});

/**
 * Body habitus: the whole anatomy (body, lungs, heart, domes, bones, vessels, airways and lesions) scaled
 * about the chest's centre, along the patient's left-right (width), anterior-posterior (depth) and
 * head-feet (height) axes. 1, 1, 1 is the one body every other option draws; a wide flat chest, a
 * barrel chest, short or tall lungs are departures from it that the training phantoms never showed.
 * 0.6 draws a chest 204 mm wide, a child's of about five years; 1.4 one 476 mm wide.
 */
export const HABITUS_RANGE = [0.6, 1.4] as const;
const habitusScale = () => z.number().min(HABITUS_RANGE[0]).max(HABITUS_RANGE[1]).default(1);
export const HabitusSchema = z.object({
  widthScale: habitusScale(),
  depthScale: habitusScale(),
  heightScale: habitusScale(),
});
export type Habitus = z.output<typeof HabitusSchema>;

/** True for the unscaled body (every scale 1). */
export function isDefaultHabitus(h: Habitus): boolean {
  return h.widthScale === 1 && h.depthScale === 1 && h.heightScale === 1;
}

/** The most pleural fluid a side may hold (mL); a side's lung must keep at least a third of itself too. */
export const MAX_EFFUSION_ML = 2000;

export const PhantomOptionsSchema = z
  .object({
    /** Which findings to draw: COVID-19 pneumonia, community-acquired pneumonia, or none. */
    class: z.enum(["covid", "cap", "normal"]).default("covid"),
    /** Same seed, same options: byte-identical voxels. */
    seed: z.number().int().min(0).max(0xffffffff).default(1),
    /** Output directory (created if missing). */
    out: z.string().min(1),
    /** dicom: a folder of files; zip: series.zip; nifti: ct.nii.gz. Truth files go to out/truth/ always. */
    format: z.enum(["dicom", "zip", "nifti"]).default("dicom"),
    /** Rows = columns. */
    size: z.number().int().min(16).max(1024).default(512),
    slices: z.number().int().min(1).max(2000).default(120),
    /** Nominal slice thickness, mm. */
    sliceThickness: z.number().positive().max(20).default(2.5),
    /** Centre-to-centre slice spacing, mm; defaults to the slice thickness. */
    spacing: z.number().positive().max(20).optional(),
    /** In-plane pixel size, mm; defaults to 360 mm / size (a 360 mm field of view). */
    pixelSpacing: z.number().positive().max(5).optional(),
    /** Slice order: descending makes z fall with instance number (and along the volume's k axis). */
    zDirection: z.enum(["ascending", "descending"]).default("ascending"),
    /**
     * The slice plane: axial, coronal or sagittal (laid out as viewers show them; core/phantom/grid.ts
     * PLANES), or an axial grid rotated (oblique).
     */
    orientation: z.union([z.enum(["axial", "coronal", "sagittal"]), ObliqueSchema]).default("axial"),
    /**
     * Where the field of view's centre lies from the chest's axis, LPS x and y in mm: a patient lying off
     * the scanner's isocentre (the anatomy then sits off the image's centre, the other way).
     */
    offCentreMm: z.tuple([z.number().min(-200).max(200), z.number().min(-200).max(200)]).default([0, 0]),
    /**
     * A patient lying partly on one side: the anatomy turned about the chest's long axis by this many degrees
     * (positive: the patient's left towards posterior), under the same axial header. The scanner's axes
     * are the table's, so the images show rolled anatomy; the truth files are on the same voxels.
     */
    patientRollDeg: z.number().min(-45).max(45).default(0),
    /**
     * A round reconstruction: pixels outside the disc inscribed in the square image hold padding (-1024 HU
     * in every slice), as scanners write them. With a field of view narrower than the chest the circle, not
     * the image's border, cuts the body and lungs; the truth masks hold only what lies inside it.
     */
    reconstructionCircle: z.boolean().default(false),
    /**
     * A CT table under the patient (table.ts): carbon-fibre skins round a -920 HU foam core, 440 mm wide,
     * level whatever the roll. Off by default, so every other phantom is what it was.
     */
    table: z.boolean().default(false),
    /**
     * A pacemaker in the left anterior chest wall with the streaks metal draws across its slices (metal.ts).
     * Off by default.
     */
    metal: z.boolean().default(false),
    /**
     * Emphysema: this share of the lung's volume destroyed into air spaces (emphysema.ts), centrilobular
     * and upper-zone predominant, with a few subpleural bullae. 0, the default, draws none.
     */
    emphysema: z.number().min(0).max(MAX_EMPHYSEMA_SHARE).default(0),
    habitus: HabitusSchema.prefault({}),
    /**
     * A pleural effusion per side, mL (0: none): water-density fluid (12 HU) in the dependent pleural space,
     * posterior for a supine patient. Its surface is level, a plane parallel to the table (the scanner's
     * coronal plane) whatever the roll, and the fluid takes the place of the lung below it (effusion.ts).
     */
    effusionMl: z
      .object({
        right: z.number().min(0).max(MAX_EFFUSION_ML).default(0),
        left: z.number().min(0).max(MAX_EFFUSION_ML).default(0),
      })
      .prefault({}),
    transferSyntax: TransferSyntaxNameSchema.default("explicit-le"),
    /**
     * unsigned: stored = HU + 1024, RescaleIntercept -1024 (12 bits stored); signed: stored = HU,
     * intercept 0; none: signed stored values and no rescale attributes at all (readers default 1/0).
     */
    rescale: z.enum(["unsigned", "signed", "none"]).default("unsigned"),
    /** Standard deviation of the image noise, HU. */
    noiseSd: z.number().min(0).max(200).default(15),
    /** Slightly correlate the noise in-plane (a 3-tap blur), as reconstruction kernels do. */
    correlatedNoise: z.boolean().default(true),
    zipCompression: z.enum(["deflate", "stored"]).default("deflate"),
    patient: PatientIdentitySchema.prefault({}),
  })
  .superRefine((o, ctx) => {
    const voxels = o.size * o.size * o.slices;
    if (voxels > MAX_PHANTOM_VOXELS) {
      ctx.addIssue({
        code: "custom",
        path: ["slices"],
        message: `${o.size}x${o.size}x${o.slices} exceeds the phantom limit of ${MAX_PHANTOM_VOXELS} voxels`,
      });
    }
    if (o.format !== "dicom" && o.format !== "zip" && o.transferSyntax !== "explicit-le") {
      ctx.addIssue({
        code: "custom",
        path: ["transferSyntax"],
        message: "a transfer syntax applies to DICOM output only (format dicom or zip)",
      });
    }
  });

/** What callers pass: everything but `out` may be omitted. */
export type PhantomOptions = z.input<typeof PhantomOptionsSchema>;
/** After parsing: every default filled in. */
export type ResolvedPhantomOptions = z.output<typeof PhantomOptionsSchema>;

/** Options that do not parse: the message lists each problem by option name. */
export class PhantomOptionsError extends Error {
  override readonly name = "PhantomOptionsError";
  constructor(
    readonly issues: Array<{ path: string; message: string }>,
    options?: { cause?: unknown },
  ) {
    super(
      `invalid phantom options: ${issues.map((i) => `${i.path || "(options)"}: ${i.message}`).join("; ")}`,
      options,
    );
  }
}

export function resolvePhantomOptions(opts: PhantomOptions): ResolvedPhantomOptions {
  const parsed = PhantomOptionsSchema.safeParse(opts);
  if (!parsed.success) {
    throw new PhantomOptionsError(
      parsed.error.issues.map((i) => ({ path: i.path.map(String).join("."), message: i.message })),
      { cause: parsed.error },
    );
  }
  return parsed.data;
}
