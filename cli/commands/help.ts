/**
 * Usage text of every command, kept apart from the commands' code so `deepsc --help` and a usage error load
 * nothing heavy.
 */
export const HELP = {
  validate: `deepsc validate <input> [--json] [--header-only] [--purpose analysis|convert]
  Check a DICOM folder, zip, single DICOM file or NIfTI volume. Exit 0 accepted, 2 rejected, 1 error.
  --json          print only the ValidationReport (JSON) on stdout
  --header-only   read headers only (as the ingest Lambda does); pixels are not decoded
  --purpose       analysis (default: the pipeline's rules) or convert (geometry only)`,
  convert: `deepsc convert <input> <out.nii|out.nii.gz> [--quiet]
  Write the input's CT volume as NIfTI (int16 HU where exact, RAS affine from the DICOM geometry).
  --quiet    no progress and no summary on stderr
  Exit 0 written, 2 rejected (the reasons are printed), 1 error.`,
  analyze: `deepsc analyze <input> --out <dir> [--model <model.json>] [--device auto|cpu|cuda] [--threads <n>] [--json] [--quiet]
  The whole job locally: validate, segment the lungs, run DeepSC-COVID, compute the findings and write
  diagnosis.json, lesions.nii.gz, lungs.nii.gz, evidence.nii.gz (on the input's grid), report.pdf,
  report.html, images/*.png (key images), lesions.seg.dcm (DICOM inputs) and manifest.json (last).
  --model    model.json of another DeepSC-COVID export (default: the bundled light model, synthetic)
  --device   auto (CUDA when installed, else CPU; the default), cpu, or cuda (fail if unavailable)
  --threads  CPU threads for the model (onnxruntime's intra-op threads; default: one per physical core)
  --json     print only diagnosis.json on stdout
  --quiet    no progress on stderr
  Exit 0 done, 2 rejected (the reasons are printed), 1 error; 130/143 when interrupted (nothing half-written
  is left, and no manifest.json vouches for the run).`,
  phantom: `deepsc phantom --out <dir> [--class covid|cap|normal] [--seed <n>] [options]
  Synthetic chest CT with ground truth (truth/ beside the CT: truth.json, lesions.nii.gz, lungs.nii.gz).
  --class                    covid (default), cap or normal
  --seed <n>                 0..4294967295 (default 1); the same seed and options give the same voxels
  --format dicom|zip|nifti   (default dicom: a folder of IM*.dcm; zip: series.zip; nifti: ct.nii.gz)
  --size <px>                rows = columns (default 512)
  --slices <n>               (default 120)
  --thickness <mm>           slice thickness (default 2.5); --spacing <mm> centre-to-centre if different
  --pixel-spacing <mm>       in-plane pixel size (default: 360 mm field of view); pixels over 1.5 mm are area
                             averages of a finer rendering, as a detector integrates them
  --z ascending|descending   slice order in instance order (default ascending): up the body for axial slices,
                             front to back for coronal, left to right for sagittal; descending the reverse
  --plane axial|coronal|sagittal   slice plane (default axial); coronal and sagittal images have the head at
                             the top, and their --size covers the body's height
  --oblique <rx>,<ry>        rotate the axial sampling grid about x then y, in degrees (-60..60)
  --off-centre <x>,<y>       field of view centred this far (mm, LPS) from the chest's axis
  --roll <deg>               patient rolled this far about the long axis (left towards posterior; --roll=-10
                             for the other way), under an axial header
  --circle                   round reconstruction: pixels outside the inscribed disc are padding (-1024 HU)
  --table                    a CT table under the patient: carbon-fibre skins round a -920 HU foam core,
                             440 mm wide (seen whole from a 450 mm field of view on)
  --metal                    a pacemaker under the left clavicle, with the streaks metal draws across its
                             slices (dark ones below the air threshold through the chest wall)
  --emphysema <share>        this share of the lungs (0..0.6) destroyed into air spaces at -985 HU: small
                             centrilobular ones, upper-zone predominant, and a few subpleural bullae
  --habitus <w>,<d>,<h>      the whole body scaled left-right, front-back and head-feet (each 0.6..1.4;
                             default 1,1,1): a smaller, wider, deeper or taller chest than the one body drawn
  --effusion <right>,<left>  pleural fluid per side, mL (0..2000 each; default none): water-density fluid
                             lying posterior, its surface level with the table, in place of the lung under it
  --syntax explicit-le|implicit-le|explicit-be|deflate|rle|jpeg-lossless
  --rescale unsigned|signed|none   stored = HU+1024 with intercept -1024 (default), stored = HU, or no rescale tags
  --noise <HU>               noise standard deviation (default 15)
  --quiet                    no progress and no summary on stderr`,
  serve: `deepsc serve [--port <n>] [--s3-port <n>] [--host <address>] [--data <dir>]
  The AWS pipeline on this machine, for integrators: the status API (the same routes and answers as on AWS;
  an API key instead of IAM) on --port (default 8080), an S3 server (s3rver) for the presigned uploads and
  downloads on --s3-port (default port + 1), a DynamoDB server (dynalite) for the studies, and the analysis
  job run on the CPU for each upload. Everything is kept in --data (default ./deepsc-data), with an API key
  for tenant 'local' written on first start (more tenants: add keys to api-keys.json). Binds 127.0.0.1 unless
  --host says otherwise. Runs until Ctrl-C.`,
  submit: `deepsc submit <input> --api <url> [--key <key>] [--wait] [--out <dir>] [--timeout <minutes>]
  The client of the status API, here (deepsc serve) or on AWS: uploads <input> (a DICOM folder or file, zipped
  on the way; a .zip; a .nii or .nii.gz) through a presigned PUT, prints the study id, and with --wait polls
  until the study ends; --out (which implies --wait) downloads its results, each checked against its sha256.
  --key      the local stack's API key; without it requests are signed with AWS SigV4 (the default
             credential chain: AWS_PROFILE, environment, SSO, instance role) for an API Gateway URL
  --timeout  give up waiting after this many minutes (default 60)
  Exit 0 submitted (or, with --wait, succeeded), 2 rejected or failed (the reasons are printed), 1 error.`,
  sample: `deepsc sample [--dir <dir>]
  What \`npm start\` runs: generates the sample chest CT (synthetic, seed 7; 512x512x64 at 5 mm) under samples/ if it is
  missing, then analyses it as \`deepsc analyze\` does, into samples/covid-seed7/results/`,
} as const;
