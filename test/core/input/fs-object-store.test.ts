import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CountingObjectStore } from "../../../core/input/counting-store.js";
import { FsObjectStore } from "../../../core/input/fs-object-store.js";
import { ObjectNotFoundError } from "../../../core/ports/object-store.js";
import { bytesOf } from "../../helpers/input-fixtures.js";

let base: string;
let store: FsObjectStore;
const text = (b: Uint8Array) => new TextDecoder().decode(b);

beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), "fs-store-"));
  store = new FsObjectStore(path.join(base, "bucket"));
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

describe("FsObjectStore", () => {
  it("puts, gets, heads and range-reads objects", async () => {
    await store.put("incoming/t1/u1/a.dcm", bytesOf("0123456789"));
    await store.put("results/t1/s/diagnosis.json", '{"ok":true}', "application/json");
    expect(await store.head("incoming/t1/u1/a.dcm")).toEqual({ key: "incoming/t1/u1/a.dcm", size: 10 });
    expect(text(await store.get("results/t1/s/diagnosis.json"))).toBe('{"ok":true}');
    expect(text(await store.getRange("incoming/t1/u1/a.dcm", 3, 6))).toBe("345");
    expect(text(await store.getRange("incoming/t1/u1/a.dcm", 8, 100))).toBe("89");
    expect((await store.getRange("incoming/t1/u1/a.dcm", 10, 20)).length).toBe(0);
    expect((await store.getRange("incoming/t1/u1/a.dcm", 5, 5)).length).toBe(0);
    // Overwrite replaces the object; the staging area leaves nothing behind.
    await store.put("incoming/t1/u1/a.dcm", "x");
    expect(text(await store.get("incoming/t1/u1/a.dcm"))).toBe("x");
    expect(await readdir(path.join(base, "bucket", ".fs-object-store-staging"))).toEqual([]);
  });

  it("lists by string prefix in key order, like S3", async () => {
    for (const k of ["u/b.dcm", "u/a.dcm", "u/sub/c.dcm", "ux/d.dcm", "v/e.dcm"]) await store.put(k, k);
    expect((await store.list("u/")).map((o) => o.key)).toEqual(["u/a.dcm", "u/b.dcm", "u/sub/c.dcm"]);
    expect((await store.list("u")).map((o) => o.key)).toEqual([
      "u/a.dcm",
      "u/b.dcm",
      "u/sub/c.dcm",
      "ux/d.dcm",
    ]);
    expect((await store.list("u/sub/c")).map((o) => [o.key, o.size])).toEqual([["u/sub/c.dcm", 11]]);
    expect((await store.list("")).length).toBe(5);
    expect(await store.list("nothing/here/")).toEqual([]);
  });

  it("missing objects are ObjectNotFoundError", async () => {
    await expect(store.head("nope")).rejects.toBeInstanceOf(ObjectNotFoundError);
    await expect(store.get("a/nope")).rejects.toBeInstanceOf(ObjectNotFoundError);
    await expect(store.getRange("nope", 0, 1)).rejects.toBeInstanceOf(ObjectNotFoundError);
    await store.put("dir/x", "x");
    await expect(store.head("dir")).rejects.toBeInstanceOf(ObjectNotFoundError);
  });

  it.each(["../escape", "/abs/key", "a/../../b", "a\\b", "a//b", "./a", "", ".fs-object-store-staging/x"])(
    "refuses the key %j",
    async (key) => {
      await expect(store.put(key, "x")).rejects.toThrow(/Invalid object key/);
      await expect(store.get(key)).rejects.toThrow(/Invalid object key/);
    },
  );
});

describe("CountingObjectStore", () => {
  it("counts bytes fetched by get and getRange only", async () => {
    await store.put("k", "0123456789");
    const counting = new CountingObjectStore(store);
    await counting.head("k");
    await counting.list("");
    expect(counting.bytesRead()).toBe(0);
    await counting.getRange("k", 2, 6);
    await counting.get("k");
    await counting.getRange("k", 9, 100);
    expect(counting.bytesRead()).toBe(4 + 10 + 1);
    await counting.put("k2", "abc");
    expect(counting.bytesRead()).toBe(15);
  });
});
