// The snapshot gate: a `kopia snapshot create` started before the unit's containers stop, which
// opens the repository, finds its previous snapshot and loads its policy, then waits, before it
// reads anything, until kopi-docka lets it go. Kopia's own start (a process, the key derived from
// the password, the indexes read: 0.3 s or more) then runs while the containers still run.
//
// How: Kopia runs a policy's before-snapshot-root action before it reads the root, and its
// after-snapshot-root action once it has read everything. kopi-docka keeps both on the global
// policy (see applyGlobalPolicy). They do nothing unless KOPI_DOCKA_GATE names a FIFO, which only
// kopi-docka sets, and only for the kopia it starts with actions enabled (`--force-enable-actions`;
// Kopia runs no action otherwise). With it, the before action says it waits (a line on kopia's
// stderr), reads one line from the FIFO and lets kopia go on only if that line is "go"; if
// kopi-docka ends, the FIFO's only writer is gone and the action, and so the snapshot, fails.
// The after action says on stderr that the reading has ended: the containers can start while
// Kopia writes the manifest.

/** Environment variable naming the FIFO a gated kopia waits on. */
export const GATE_ENV = "KOPI_DOCKA_GATE";

/** The lines the actions write to kopia's stderr. */
export const GATE_WAITING = "kopi-docka-gate: waiting";
export const GATE_READ = "kopi-docka-gate: read";

/** What kopi-docka writes into the FIFO. */
export const GATE_GO = "go\n";
export const GATE_STOP = "stop\n";

const SHELL = "/bin/sh";

// POSIX sh (dash). Printing KOPIA_SNAPSHOT_PATH makes Kopia take the root afresh (its own
// mode, owner and time read after the stop, not when kopia started).
const BEFORE_SCRIPT = [
  `[ -n "$${GATE_ENV}" ] || exit 0`,
  `exec 3<"$${GATE_ENV}" || exit 1`,
  `echo '${GATE_WAITING}' >&2`,
  `read -r gate <&3 && [ "$gate" = go ] || exit 1`,
  `echo "KOPIA_SNAPSHOT_PATH=$KOPIA_SOURCE_PATH"`,
].join("; ");
const AFTER_SCRIPT = `[ -z "$${GATE_ENV}" ] || echo '${GATE_READ}' >&2`;

/** How long Kopia lets an action run: a gated kopia may wait for a long stop, or a long snapshot before it. */
export const GATE_TIMEOUT_SECONDS = 24 * 60 * 60;

/** An action as Kopia stores it in a policy (`kopia policy list --json`). */
export interface ActionCommand {
  path?: string | undefined;
  args?: string[] | undefined;
  script?: string | undefined;
  timeout?: number | undefined;
  mode?: string | undefined;
}

export interface GateActions {
  beforeSnapshotRoot: ActionCommand;
  afterSnapshotRoot: ActionCommand;
}

/** The two actions of the gate, as Kopia stores them. */
export const GATE_ACTIONS: GateActions = {
  beforeSnapshotRoot: {
    path: SHELL,
    args: ["-c", BEFORE_SCRIPT],
    timeout: GATE_TIMEOUT_SECONDS,
    mode: "essential",
  },
  afterSnapshotRoot: {
    path: SHELL,
    args: ["-c", AFTER_SCRIPT],
    timeout: GATE_TIMEOUT_SECONDS,
    mode: "essential",
  },
};

function sameAction(a: ActionCommand | undefined, b: ActionCommand): boolean {
  return (
    a !== undefined &&
    a.path === b.path &&
    a.script === b.script &&
    (a.mode ?? "essential") === b.mode &&
    a.timeout === b.timeout &&
    JSON.stringify(a.args ?? []) === JSON.stringify(b.args ?? [])
  );
}

/** Whether a policy's actions are exactly the gate's (the global policy, as applyGlobalPolicy sets it). */
export function isGate(actions: Partial<Record<keyof GateActions, ActionCommand>> | undefined): boolean {
  return (
    sameAction(actions?.beforeSnapshotRoot, GATE_ACTIONS.beforeSnapshotRoot) &&
    sameAction(actions?.afterSnapshotRoot, GATE_ACTIONS.afterSnapshotRoot)
  );
}

/**
 * One action as `kopia policy set --…-action=VALUE` takes it: Kopia splits VALUE as one CSV record
 * whose separator is a space; a field holding a space or a quote is quoted, quotes doubled.
 */
export function actionFlagValue(action: ActionCommand): string {
  const fields = [action.path ?? "", ...(action.args ?? [])];
  return fields.map((f) => (/[\s"]/.test(f) || f === "" ? `"${f.replaceAll('"', '""')}"` : f)).join(" ");
}

/** Whether a policy defines any action of its own. */
export function definesActions(
  actions: Partial<Record<"beforeFolder" | "afterFolder" | keyof GateActions, unknown>> | undefined,
): boolean {
  return (
    actions?.beforeFolder !== undefined ||
    actions?.afterFolder !== undefined ||
    actions?.beforeSnapshotRoot !== undefined ||
    actions?.afterSnapshotRoot !== undefined
  );
}
