import { describe, expect, it } from "vitest";
import { actionFlagValue, definesActions, GATE_ACTIONS, isGate } from "./gate.js";

describe("the snapshot gate's actions", () => {
  // That Kopia reads the value back as exactly these fields is tested with the real kopia
  // (test/gate.test.ts: after init, the global policy's actions are recognised as the gate).
  it("are written as Kopia reads an action flag: space-separated, quoted, quotes doubled", () => {
    expect(GATE_ACTIONS.beforeSnapshotRoot.path).toBe("/bin/sh");
    expect(actionFlagValue({ path: "/bin/sh", args: ["-c", "exit 0"] })).toBe('/bin/sh -c "exit 0"');
    expect(actionFlagValue({ path: "/bin/echo", args: ["a b", 'say "hi"', "plain"] })).toBe(
      '/bin/echo "a b" "say ""hi""" plain',
    );
  });

  it("are recognised only when both are exactly the gate's", () => {
    expect(isGate(GATE_ACTIONS)).toBe(true);
    expect(isGate({ ...GATE_ACTIONS, afterSnapshotRoot: undefined as never })).toBe(false);
    expect(isGate(undefined)).toBe(false);
    expect(
      isGate({
        ...GATE_ACTIONS,
        beforeSnapshotRoot: { ...GATE_ACTIONS.beforeSnapshotRoot, args: ["-c", "exit 0"] },
      }),
    ).toBe(false);
    expect(
      isGate({
        ...GATE_ACTIONS,
        beforeSnapshotRoot: { ...GATE_ACTIONS.beforeSnapshotRoot, mode: "optional" },
      }),
    ).toBe(false);
  });

  it("a policy defines actions when any of the four is set", () => {
    expect(definesActions(undefined)).toBe(false);
    expect(definesActions({})).toBe(false);
    expect(definesActions({ beforeFolder: { path: "/x" } })).toBe(true);
    expect(definesActions({ afterSnapshotRoot: { path: "/x" } })).toBe(true);
  });
});
