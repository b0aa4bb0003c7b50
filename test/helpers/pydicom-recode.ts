/** Re-encoding DICOM test series with pydicom, which knows every DICOM Specific Character Set. */
import { spawnSync } from "node:child_process";

export const HAVE_PYDICOM =
  spawnSync("/usr/bin/python3", ["-c", "import pydicom"], { stdio: "ignore" }).status === 0;

/**
 * Re-encodes every file of a DICOM folder with pydicom under another Specific Character Set, with the
 * given PatientName and ReferringPhysicianName (pydicom writes the escape sequences), and returns what
 * pydicom reads back from the first file.
 */
export function recodeWithPydicom(
  dir: string,
  charset: string[],
  patientName: string,
  referringPhysicianName: string,
): { patientName: string; referringPhysicianName: string } {
  const script = `
import sys, glob, json, pydicom
d, cs, pn, ref = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
files = sorted(glob.glob(d + "/*"))
for f in files:
    ds = pydicom.dcmread(f)
    ds.SpecificCharacterSet = cs if len(cs) > 1 else cs[0]
    ds.PatientName = pn
    ds.ReferringPhysicianName = ref
    ds.save_as(f)
back = pydicom.dcmread(files[0], stop_before_pixels=True)
print(json.dumps({"patientName": str(back.PatientName), "referringPhysicianName": str(back.ReferringPhysicianName)}))
`;
  const r = spawnSync(
    "/usr/bin/python3",
    ["-c", script, dir, JSON.stringify(charset), patientName, referringPhysicianName],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`pydicom failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}
