// Re-rooting a tar stream: the Engine API's archive of a container path holds "data/…" (the
// path's base name first); the TAR format holds "./…" as `tar -C <volume> .` writes it. Entries
// are renamed on the fly (data is streamed, never buffered whole), and excluded ones dropped.
import { PassThrough, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import ignore from "ignore";
import { type Header, extract as tarExtract, pack as tarPack } from "tar-stream";

export interface RebaseOptions {
  /** Gitignore-style patterns, relative to the archive's root. */
  excludes?: readonly string[];
  /**
   * How the input names its root: "base-name" ("data/…", the Engine API's archive of /data) or
   * "dot" ("./…", `tar -C <dir> .`). Default "base-name".
   */
  from?: "base-name" | "dot";
  /** Prefix of the output names (default "./"); for example ".kopi-docka-new/". */
  to?: string;
}

/** The path below the archive's root: "data/x/y" → "x/y" (base-name), "./x/y" → "x/y" (dot); "" for the root. */
function relativeName(name: string, from: "base-name" | "dot"): string {
  const clean = name.replace(/^(\.\/)+/, "").replace(/\/+$/, "");
  if (from === "dot") return clean === "." ? "" : clean;
  const slash = clean.indexOf("/");
  return slash < 0 ? "" : clean.slice(slash + 1);
}

/** The root entry's owner and mode, as the archive records them. */
export interface ArchiveRoot {
  mode: number;
  uid: number;
  gid: number;
}

export interface RebasedArchive {
  stream: Readable;
  /** Set once the root entry has gone by. */
  root: () => ArchiveRoot | undefined;
  /** Resolves when the whole input was read and re-packed; rejects on any error of either side. */
  done: Promise<void>;
}

export function rebaseArchive(input: Readable, options: RebaseOptions = {}): RebasedArchive {
  const matcher = ignore().add([...(options.excludes ?? [])]);
  const extract = tarExtract();
  const pack = tarPack();
  const out = new PassThrough();
  const excludedDirs: string[] = [];
  const from = options.from ?? "base-name";
  const to = options.to ?? "./";
  let root: ArchiveRoot | undefined;
  extract.on("entry", (header, data, next) => {
    const rel = relativeName(header.name, from);
    if (rel === "" && header.type === "directory")
      root = { mode: header.mode, uid: header.uid, gid: header.gid };
    const isDir = header.type === "directory";
    const skipped =
      rel !== "" &&
      (excludedDirs.some((d) => rel.startsWith(`${d}/`)) || matcher.ignores(isDir ? `${rel}/` : rel));
    if (skipped) {
      if (isDir) excludedDirs.push(rel);
      data.on("end", next);
      data.resume();
      return;
    }
    const original = (header as { pax?: Record<string, string> }).pax;
    const pax: Record<string, string> | undefined = original ? { ...original } : undefined;
    if (pax) {
      delete pax.path;
      delete pax.linkpath;
    }
    const renamed: Header = {
      ...header,
      name: rel === "" ? to : `${to}${rel}${isDir ? "/" : ""}`,
      ...(header.type === "link" && header.linkname
        ? { linkname: `${to}${relativeName(header.linkname, from)}` }
        : {}),
      ...(pax && Object.keys(pax).length > 0 ? { pax } : { pax: undefined }),
    };
    const entry = pack.entry(renamed, (error) => {
      if (error) extract.destroy(error);
      else next();
    });
    data.pipe(entry);
  });
  extract.on("finish", () => pack.finalize());
  const done = Promise.all([pipeline(input, extract), pipeline(pack, out)]).then(() => undefined);
  done.catch((error: unknown) => out.destroy(error instanceof Error ? error : new Error(String(error))));
  return { stream: out, done, root: () => root };
}
