// The member guard for restoring legacy TAR-format backups: a pass-through stream between
// `kopia show` and `tar -x` that reads the archive's headers as they go by, exactly as GNU tar
// will read them, and fails before forwarding the header of any member that would land outside
// the target directory. Bytes are forwarded unchanged; data is never copied, only sliced.
//
// The parser follows GNU tar (list.c read_header/decode_header, xheader.c, extract.c), because a
// guard that reads the stream differently from tar could be walked past with data that tar takes
// for a header. Where tar's reading depends on more than the bytes (sparse maps, data after a
// symlink or directory header), the guard refuses instead of guessing.
import { Transform, type TransformCallback } from "node:stream";

const BLOCK = 512;
/** GNU long names and long links: real paths are far below this. */
const MAX_LONG_NAME = 1024 * 1024;
/** PAX extended headers: xattrs and ACLs can make them large, but not this large. */
const MAX_PAX_HEADER = 64 * 1024 * 1024;

export class UnsafeTarMemberError extends Error {
  readonly member: string;
  readonly reason: string;

  constructor(member: string, reason: string) {
    super(`refusing tar member ${JSON.stringify(member)}: ${reason}`);
    this.name = "UnsafeTarMemberError";
    this.member = member;
    this.reason = reason;
  }
}

type PathProblem =
  | { kind: "absolute" }
  | { kind: "dotdot" }
  | { kind: "symlink"; symlink: string }
  | undefined;

/** The path's segments without empty and "." ones: "./a//b/./c/" is a/b/c, "./" is the root. */
function segmentsOf(path: string): string[] {
  return path.split("/").filter((segment) => segment !== "" && segment !== ".");
}

function normalizePath(path: string): string {
  return segmentsOf(path).join("/");
}

function findPathProblem(path: string, symlinks: ReadonlySet<string>): PathProblem {
  if (path.startsWith("/")) return { kind: "absolute" };
  const segments = segmentsOf(path);
  if (segments.includes("..")) return { kind: "dotdot" };
  if (symlinks.size > 0) {
    let prefix = "";
    for (let i = 0; i < segments.length - 1; i++) {
      prefix = i === 0 ? (segments[0] ?? "") : `${prefix}/${segments[i] ?? ""}`;
      if (symlinks.has(prefix)) return { kind: "symlink", symlink: prefix };
    }
  }
  return undefined;
}

function describeProblem(problem: NonNullable<PathProblem>, show: (raw: string) => string): string {
  switch (problem.kind) {
    case "absolute":
      return "it is an absolute path";
    case "dotdot":
      return "it leaves the target directory";
    case "symlink":
      return `it goes through the symlink ${show(problem.symlink)}`;
  }
}

/**
 * Why a member path would be written outside the target directory, or undefined when it stays
 * inside: absolute, a ".." segment anywhere, or a parent directory that is one of `symlinks`
 * (normalized member paths: no "./", no empty segments, no trailing slash). The path itself
 * being a symlink is not a problem here.
 */
export function checkTarMemberPath(path: string, symlinks: ReadonlySet<string>): string | undefined {
  const problem = findPathProblem(path, symlinks);
  return problem ? describeProblem(problem, (raw) => raw) : undefined;
}

/** Names are kept as latin1 strings, one char per byte, so that checks see the exact bytes. */
function show(raw: string): string {
  return Buffer.from(raw, "latin1").toString("utf8");
}

/** A NUL-terminated field, or the whole field when it has no NUL. */
function cString(buf: Buffer, start: number, end: number): string {
  let stop = start;
  while (stop < end && buf[stop] !== 0) stop++;
  return buf.toString("latin1", start, stop);
}

function isSpace(byte: number | undefined): boolean {
  return byte === 0x20 || (byte !== undefined && byte >= 0x09 && byte <= 0x0d);
}

function isDigit(byte: number | undefined): boolean {
  return byte !== undefined && byte >= 0x30 && byte <= 0x39;
}

function isOctal(byte: number | undefined): boolean {
  return byte !== undefined && byte >= 0x30 && byte <= 0x37;
}

/**
 * A numeric header field as GNU tar's from_header reads it: one leading NUL and blanks skipped,
 * octal digits ended by the field, a NUL or a blank; or (unless octalOnly) positive base-256, a
 * 0x80 byte followed by big-endian bytes. Negative base-256 and the 1999 base-64 encoding are
 * undefined (tar fails on the first and no writer in use makes the second), as is anything else.
 */
function parseNumericField(
  block: Buffer,
  offset: number,
  length: number,
  octalOnly: boolean,
): number | undefined {
  const lim = offset + length;
  let p = offset;
  if (block[p] === 0) p++;
  while (p < lim && isSpace(block[p])) p++;
  if (p >= lim) return undefined;
  if (isOctal(block[p])) {
    let value = 0;
    while (p < lim && isOctal(block[p])) value = value * 8 + ((block[p++] ?? 0x30) - 0x30);
    if (p < lim && block[p] !== 0 && !isSpace(block[p])) return undefined;
    return value;
  }
  if (octalOnly || block[p] !== 0x80 || p + 1 >= lim) return undefined;
  let value = 0;
  for (p++; p < lim; p++) {
    value = value * 256 + (block[p] ?? 0);
    if (value > Number.MAX_SAFE_INTEGER) return undefined;
  }
  return value;
}

function padded(size: number): number {
  return Math.ceil(size / BLOCK) * BLOCK;
}

/** The records of a PAX extended header, in order; undefined when tar would find it malformed. */
function parsePaxRecords(data: Buffer): Array<[string, string]> | undefined {
  const records: Array<[string, string]> = [];
  const end = data.length;
  let p = 0;
  while (p < end) {
    const start = p;
    while (p < end && (data[p] === 0x20 || data[p] === 0x09)) p++;
    // tar stops quietly at a NUL (or the end): what follows is never read.
    if (p >= end || data[p] === 0) break;
    if (!isDigit(data[p])) return undefined;
    let length = 0;
    while (p < end && isDigit(data[p])) {
      length = length * 10 + ((data[p] ?? 0x30) - 0x30);
      if (length > end) return undefined;
      p++;
    }
    if (length > end - start) return undefined;
    const next = start + length;
    const lengthEnd = p;
    while (p < end && (data[p] === 0x20 || data[p] === 0x09)) p++;
    if (p === lengthEnd) return undefined;
    let equals = p;
    while (equals < end && data[equals] !== 0x3d && data[equals] !== 0) equals++;
    if (equals >= next || data[equals] !== 0x3d) return undefined;
    if (data[next - 1] !== 0x0a) return undefined;
    // Values are C strings to tar: a NUL ends them.
    records.push([data.toString("latin1", p, equals), cString(data, equals + 1, next - 1)]);
    p = next;
  }
  return records;
}

/** Keywords that change a member's name, link target or data layout. */
function isLayoutKeyword(keyword: string): boolean {
  return (
    keyword === "path" || keyword === "linkpath" || keyword === "size" || keyword.startsWith("GNU.sparse.")
  );
}

const SYMLINK = 0x32; // '2'
const HARDLINK = 0x31; // '1'
const DIRECTORY = 0x35; // '5'
/** Types whose extraction reads no data: any size they claim would desynchronize tar and guard. */
const NO_DATA_TYPES = new Set([HARDLINK, SYMLINK, 0x33, 0x34, DIRECTORY, 0x36]);
/** Regular-file types that GNU tar extracts as a directory (no data read) when the name ends in "/". */
const REGULAR_TYPES = new Set([0x00, 0x30, 0x37]);
const META_TYPES = new Set([0x4c, 0x4b, 0x78, 0x58, 0x67]); // L K x X g

type Phase = "header" | "data" | "meta" | "end";

interface Meta {
  type: number;
  /** Name field of the meta header, for messages. */
  name: string;
  content: Buffer;
  size: number;
  consumed: number;
  total: number;
}

interface PaxOverrides {
  path?: string;
  linkpath?: string;
  size?: number;
  /** GNU.sparse.name: the real name of a sparse member (PAX sparse formats), which tar extracts to. */
  sparseName?: string;
}

/**
 * PAX sparse keys (formats 0.0, 0.1 and 1.0, as `tar --sparse` writes them). Their map lives in
 * the PAX header or at the start of the member's data, which tar reads as `size` bytes like any
 * file's data, so the layout is known; the real name (GNU.sparse.name) is checked like a path.
 */
const SPARSE_KEYS = new Set([
  "GNU.sparse.major",
  "GNU.sparse.minor",
  "GNU.sparse.name",
  "GNU.sparse.realsize",
  "GNU.sparse.size",
  "GNU.sparse.numblocks",
  "GNU.sparse.offset",
  "GNU.sparse.numbytes",
  "GNU.sparse.map",
]);

class TarGuard extends Transform {
  private phase: Phase = "header";
  /** Bytes of member data (with padding) still to forward. */
  private dataLeft = 0;
  private partial: Buffer | undefined;
  private partialLength = 0;
  private meta: Meta | undefined;
  /** Headers (and data) of L/K/x/g members, held until the member they belong to is checked. */
  private pending: Buffer[] = [];
  private longName: string | undefined;
  private longLink: string | undefined;
  private pax: PaxOverrides | undefined;
  private zeroBlocks = 0;
  /** Normalized paths that are symlinks (or hard links to them) once extracted. */
  private readonly symlinks = new Set<string>();

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let pos = 0;
    // chunk[from, pos) has been checked and is not forwarded yet.
    let from = 0;
    try {
      while (pos < chunk.length) {
        if (this.phase === "end") {
          pos = chunk.length;
        } else if (this.phase === "data") {
          const n = Math.min(this.dataLeft, chunk.length - pos);
          pos += n;
          this.dataLeft -= n;
          if (this.dataLeft === 0) this.phase = "header";
        } else if (this.phase === "meta") {
          if (from < pos) this.push(chunk.subarray(from, pos));
          const meta = this.meta as Meta;
          const n = Math.min(meta.total - meta.consumed, chunk.length - pos);
          if (meta.consumed < meta.size)
            chunk.copy(meta.content, meta.consumed, pos, pos + Math.min(n, meta.size - meta.consumed));
          this.pending.push(Buffer.from(chunk.subarray(pos, pos + n)));
          meta.consumed += n;
          pos += n;
          from = pos;
          if (meta.consumed === meta.total) this.finishMeta();
        } else if (this.partial === undefined && chunk.length - pos >= BLOCK) {
          const start = pos;
          const block = chunk.subarray(start, start + BLOCK);
          let verdict: "forward" | "hold";
          try {
            verdict = this.inspect(block);
          } catch (error) {
            if (from < start) this.push(chunk.subarray(from, start));
            throw error;
          }
          pos += BLOCK;
          if (verdict === "hold") {
            if (from < start) this.push(chunk.subarray(from, start));
            this.pending.push(Buffer.from(block));
            from = pos;
          } else if (this.pending.length > 0) {
            if (from < start) this.push(chunk.subarray(from, start));
            this.flushPending();
            from = start;
          }
        } else {
          // A header split across chunks: the only bytes that are copied before forwarding.
          if (from < pos) this.push(chunk.subarray(from, pos));
          if (this.partial === undefined) {
            this.partial = Buffer.allocUnsafe(BLOCK);
            this.partialLength = 0;
          }
          const n = Math.min(BLOCK - this.partialLength, chunk.length - pos);
          chunk.copy(this.partial, this.partialLength, pos, pos + n);
          this.partialLength += n;
          pos += n;
          from = pos;
          if (this.partialLength === BLOCK) {
            const block = this.partial;
            this.partial = undefined;
            if (this.inspect(block) === "hold") {
              this.pending.push(block);
            } else {
              this.flushPending();
              this.push(block);
            }
          }
        }
      }
      if (from < pos) this.push(chunk.subarray(from, pos));
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  /** A truncated archive ends the stream normally; what was not checked is dropped, tar reports it. */
  override _flush(callback: TransformCallback): void {
    this.pending = [];
    this.partial = undefined;
    callback();
  }

  private flushPending(): void {
    for (const buffer of this.pending) this.push(buffer);
    this.pending = [];
  }

  private refuse(member: string, reason: string): never {
    throw new UnsafeTarMemberError(show(member), reason);
  }

  /** Decides about one header block: forward it (with what is pending), or hold it (L/K/x/g). */
  private inspect(block: Buffer): "forward" | "hold" {
    let unsignedSum = 0;
    let signedSum = 0;
    for (let i = 0; i < BLOCK; i++) {
      const byte = block[i] ?? 0;
      unsignedSum += byte;
      signedSum += byte >= 0x80 ? byte - 0x100 : byte;
    }

    if (unsignedSum === 0) {
      if (this.longName !== undefined || this.longLink !== undefined || this.pax !== undefined)
        this.refuse(this.longName ?? this.pax?.path ?? "", "its extended header is not followed by a member");
      this.zeroBlocks++;
      // GNU tar stops at the first zero block; checking on after a lone one is only stricter.
      if (this.zeroBlocks >= 2) this.phase = "end";
      return "forward";
    }
    this.zeroBlocks = 0;

    const rawName = cString(block, 0, 100);
    for (let i = 148; i < 156; i++) {
      const byte = block[i] ?? 0;
      unsignedSum += 0x20 - byte;
      signedSum += 0x20 - (byte >= 0x80 ? byte - 0x100 : byte);
    }
    const recorded = parseNumericField(block, 148, 8, true);
    if (recorded === undefined || (recorded !== unsignedSum && recorded !== signedSum))
      this.refuse(rawName, "its header checksum is wrong (a damaged archive, or not a tar archive)");

    const type = block[156] ?? 0;
    if (META_TYPES.has(type)) {
      const size = this.sizeField(block, rawName);
      const limit = type === 0x4c || type === 0x4b ? MAX_LONG_NAME : MAX_PAX_HEADER;
      if (size > limit) this.refuse(rawName, `its extended header is too large (${size} bytes)`);
      this.meta = {
        type,
        name: rawName,
        content: Buffer.alloc(size),
        size,
        consumed: 0,
        total: padded(size),
      };
      if (size === 0) this.finishMeta();
      else this.phase = "meta";
      return "hold";
    }
    this.inspectMember(block, type);
    return "forward";
  }

  private sizeField(block: Buffer, name: string): number {
    const size = parseNumericField(block, 124, 12, false);
    if (size === undefined) this.refuse(name, "its size field is not a valid number");
    return size;
  }

  private finishMeta(): void {
    const meta = this.meta as Meta;
    this.meta = undefined;
    this.phase = "header";
    const { type, name, content } = meta;
    if (type === 0x4c || type === 0x4b) {
      const value = cString(content, 0, content.length);
      if (type === 0x4c) {
        if (this.longName !== undefined) this.refuse(value, "it has two long-name headers");
        this.longName = value;
      } else {
        if (this.longLink !== undefined) this.refuse(this.longName ?? value, "it has two long-link headers");
        this.longLink = value;
      }
      return;
    }
    const records = parsePaxRecords(content);
    if (records === undefined) this.refuse(name, "its PAX extended header is malformed");
    if (type === 0x67) {
      // Global headers apply to every later member, in GNU tar too: none may move or resize one.
      for (const [keyword] of records)
        if (isLayoutKeyword(keyword)) this.refuse(name, `its global PAX header sets ${show(keyword)}`);
      return;
    }
    const overrides: PaxOverrides = {};
    for (const [keyword, value] of records) {
      if (keyword === "GNU.sparse.name") overrides.sparseName = value;
      else if (keyword.startsWith("GNU.sparse.") && !SPARSE_KEYS.has(keyword))
        this.refuse(name, `its PAX header has the unknown sparse key ${show(keyword)}`);
      if (keyword === "path") overrides.path = value;
      else if (keyword === "linkpath") overrides.linkpath = value;
      else if (keyword === "size") {
        if (!/^[0-9]+$/.test(value) || Number(value) > Number.MAX_SAFE_INTEGER)
          this.refuse(name, `its PAX size ${JSON.stringify(show(value))} is not a valid number`);
        overrides.size = Number(value);
      }
    }
    if (this.pax !== undefined) this.refuse(overrides.path ?? name, "it has two PAX extended headers");
    this.pax = overrides;
  }

  /** A member header (not L/K/x/g): refuses it, or sets up forwarding its data. */
  private inspectMember(block: Buffer, type: number): void {
    let ustarName = cString(block, 0, 100);
    // The ustar prefix counts only with the POSIX magic "ustar\0" (GNU's "ustar  " has atime there).
    if (block[345] !== 0 && block.toString("latin1", 257, 263) === "ustar\0")
      ustarName = `${cString(block, 345, 500)}/${ustarName}`;
    const headerName = this.pax?.path ?? this.longName ?? ustarName;
    // A sparse member is extracted under its real name: that is the one that must be safe
    // (the placeholder name, "GNUSparseFile.N/x", is checked as well).
    const sparseName = this.pax?.sparseName;
    if (sparseName !== undefined) {
      const placeholderProblem = findPathProblem(headerName, this.symlinks);
      if (placeholderProblem) this.refuse(headerName, describeProblem(placeholderProblem, show));
    }
    const name = sparseName ?? headerName;
    const linkTarget = this.pax?.linkpath ?? this.longLink ?? cString(block, 157, 257);
    // GNU tar gives hard links no data unless a PAX size says otherwise; it ignores their size field.
    let size = type === HARDLINK ? 0 : this.sizeField(block, name);
    if (this.pax?.size !== undefined) size = this.pax.size;
    this.longName = undefined;
    this.longLink = undefined;
    this.pax = undefined;

    if (type === 0x53) this.refuse(name, "it is a sparse file, which the guard does not support");
    const problem = findPathProblem(name, this.symlinks);
    if (problem) this.refuse(name, describeProblem(problem, show));
    const path = normalizePath(name);
    if (path === "" && type !== DIRECTORY) this.refuse(name, "it would replace the target directory");
    if (type !== SYMLINK && this.symlinks.has(path))
      this.refuse(name, `it would replace the symlink ${show(path)}`);
    if (size !== 0 && (NO_DATA_TYPES.has(type) || (REGULAR_TYPES.has(type) && name.endsWith("/"))))
      this.refuse(name, `it claims ${size} bytes of data, which GNU tar would not read for its type`);

    if (type === HARDLINK) {
      const targetProblem = findPathProblem(linkTarget, this.symlinks);
      if (targetProblem)
        this.refuse(
          name,
          `it is a hard link to ${JSON.stringify(show(linkTarget))}, and ${describeProblem(targetProblem, show).replace(/^it /, "that ")}`,
        );
      // A hard link to a symlink is another symlink.
      if (this.symlinks.has(normalizePath(linkTarget))) this.symlinks.add(path);
    } else if (type === SYMLINK) {
      this.symlinks.add(path);
    }

    this.dataLeft = padded(size);
    if (this.dataLeft > 0) this.phase = "data";
  }
}

/**
 * A pass-through stream for a tar archive that fails (with UnsafeTarMemberError) before it
 * forwards the header of a member that would be written outside the extraction directory:
 * absolute, "..", through a symlink of the archive, replacing one of its symlinks, or a hard
 * link to such a place. Also refused: what GNU tar might read differently (bad checksums,
 * sparse files, data on symlinks or directories, two extended headers for one member).
 */
export function createTarGuard(): Transform {
  return new TarGuard();
}
