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
}

/** "data/x/y" → "x/y"; "data" or "data/" → "" (the root). */
function stripFirst(name: string): string {
  const clean = name.replace(/^\.\//, "");
  const slash = clean.indexOf("/");
  return slash < 0 ? "" : clean.slice(slash + 1).replace(/\/+$/, "");
}

export interface RebasedArchive {
  stream: Readable;
  /** Resolves when the whole input was read and re-packed; rejects on any error of either side. */
  done: Promise<void>;
}

export function rebaseArchive(input: Readable, options: RebaseOptions = {}): RebasedArchive {
  const matcher = ignore().add([...(options.excludes ?? [])]);
  const extract = tarExtract();
  const pack = tarPack();
  const out = new PassThrough();
  const excludedDirs: string[] = [];
  extract.on("entry", (header, data, next) => {
    const rel = stripFirst(header.name);
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
      name: rel === "" ? "./" : `./${rel}${isDir ? "/" : ""}`,
      ...(header.type === "link" && header.linkname ? { linkname: `./${stripFirst(header.linkname)}` } : {}),
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
  return { stream: out, done };
}
