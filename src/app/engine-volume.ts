// Restoring into a volume whose data has no readable host path, through the Engine API: the new
// content is written into `.kopi-docka-new/` inside the volume (PUT archive into a helper
// container), and a small shell script in that helper swaps it in, keeping the old content in
// `.kopi-docka-old/` until every item of the unit is in place. The helper runs the image of a
// container that mounts the volume (no image is pulled); that image needs `sh`, `mv`, `rm`.
import type { Readable } from "node:stream";
import type { ArchiveRoot } from "../adapters/tar/rebase.js";
import { ExternalError } from "../domain/errors.js";
import type { Container } from "../domain/model.js";
import type { Context } from "./context.js";

export const HELPER_LABEL = "kopi-docka.helper";
export const STAGING_DIR = ".kopi-docka-new";
export const SAFETY_DIR = ".kopi-docka-old";
const MOUNT = "/kopi-docka-volume";

/** The image of a container (any state) that mounts the volume, for the helper. */
export function helperImageFor(containers: readonly Container[], volume: string): string | undefined {
  return containers.find((c) => c.mounts.some((m) => m.kind === "volume" && m.name === volume))?.image;
}

// Every entry of a directory, dot files included, as the shell globs see them.
const each = (dir: string) => `${dir}* ${dir}.[!.]* ${dir}..?*`;
const exists = `[ -e "$f" ] || [ -L "$f" ] || continue`;
const skipOurs = `case "$f" in ${STAGING_DIR}|${SAFETY_DIR}) continue ;; esac`;

export function prepareScript(): string {
  return [
    `cd ${MOUNT} || exit 10`,
    `if [ -e ${SAFETY_DIR} ]; then echo "${SAFETY_DIR} exists: an earlier restore was interrupted during its swap; the old data is in it. Move it back or remove it, then run the restore again." >&2; exit 11; fi`,
    `rm -rf ${STAGING_DIR} || exit 12`,
  ].join("\n");
}

export function swapScript(root: ArchiveRoot | undefined): string {
  const mode = root ? (root.mode & 0o7777).toString(8).padStart(4, "0") : undefined;
  return [
    `cd ${MOUNT} || exit 10`,
    `[ -d ${STAGING_DIR} ] || { echo "no staged data" >&2; exit 11; }`,
    `mkdir ${SAFETY_DIR} || exit 12`,
    // Phase 1: the old content into the safety dir; on failure, back.
    `undo_old() { for f in ${each(`${SAFETY_DIR}/`)}; do ${exists}; mv -- "$f" . ; done; rmdir ${SAFETY_DIR}; }`,
    `for f in ${each("")}; do ${skipOurs}; ${exists}; mv -- "$f" ${SAFETY_DIR}/ || { undo_old; exit 13; }; done`,
    // Phase 2: the new content up; on failure, the new back into staging and the old back.
    `undo_new() { for f in ${each("")}; do ${skipOurs}; ${exists}; mv -- "$f" ${STAGING_DIR}/ ; done; undo_old; }`,
    `for f in ${each(`${STAGING_DIR}/`)}; do ${exists}; mv -- "$f" . || { undo_new; exit 14; }; done`,
    `rmdir ${STAGING_DIR} || { undo_new; exit 15; }`,
    ...(root ? [`chown ${root.uid}:${root.gid} . && chmod ${mode} . || exit 16`] : []),
  ].join("\n");
}

/** Undoes a completed swap (another item of the unit failed): the new content out, the old back. */
export function swapBackScript(): string {
  return [
    `cd ${MOUNT} || exit 10`,
    `[ -d ${SAFETY_DIR} ] || exit 0`,
    `rm -rf ${STAGING_DIR} && mkdir ${STAGING_DIR} || exit 11`,
    `for f in ${each("")}; do ${skipOurs}; ${exists}; mv -- "$f" ${STAGING_DIR}/ || exit 12; done`,
    `for f in ${each(`${SAFETY_DIR}/`)}; do ${exists}; mv -- "$f" . || exit 13; done`,
    `rmdir ${SAFETY_DIR} && rm -rf ${STAGING_DIR}`,
  ].join("\n");
}

export function dropSafetyScript(): string {
  return `cd ${MOUNT} && rm -rf ${SAFETY_DIR}`;
}

export function discardStagingScript(): string {
  return `cd ${MOUNT} && rm -rf ${STAGING_DIR}`;
}

/** Runs one script in a throwaway helper container with the volume mounted. */
export async function runInVolume(
  ctx: Pick<Context, "docker">,
  volume: string,
  image: string,
  script: string,
  what: string,
): Promise<void> {
  const id = await ctx.docker.createHelper({
    image,
    volume,
    mountPath: MOUNT,
    script,
    labels: { [HELPER_LABEL]: "1" },
  });
  try {
    const result = await ctx.docker.runHelper(id);
    if (result.exitCode !== 0)
      throw new ExternalError(
        `${what} in volume ${volume} failed (helper from ${image}, exit ${result.exitCode}): ${result.output.trim().split("\n").slice(-2).join(" | ") || "no output"}`,
      );
  } finally {
    await ctx.docker.removeContainer(id);
  }
}

/** Writes an archive whose entries start with `.kopi-docka-new/` into the volume. */
export async function stageIntoVolume(
  ctx: Pick<Context, "docker">,
  volume: string,
  image: string,
  archive: Readable,
): Promise<void> {
  const id = await ctx.docker.createHelper({
    image,
    volume,
    mountPath: MOUNT,
    script: "true",
    labels: { [HELPER_LABEL]: "1" },
  });
  try {
    await ctx.docker.putArchive(id, MOUNT, archive);
  } finally {
    await ctx.docker.removeContainer(id);
  }
}
