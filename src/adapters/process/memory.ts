// Keeping the process's memory flat while bytes stream through it. Each chunk read from a pipe is
// a fresh buffer; V8 frees them only at its next collection, which its heuristics put off until
// tens of MB of them are waiting. A young-generation collection (about a millisecond) every
// interval frees them early: the peak no longer grows with the throughput.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

type Collect = (options?: { type?: "major" | "minor" }) => void;

let collect: Collect | undefined;

function collector(): Collect | undefined {
  if (!collect) {
    try {
      setFlagsFromString("--expose-gc");
      collect = runInNewContext("gc") as Collect;
    } catch {
      return undefined;
    }
  }
  return collect;
}

/** Runs a young-generation collection every `intervalMs` until the returned function is called. */
export function collectGarbageWhileStreaming(intervalMs = 20): () => void {
  const gc = collector();
  if (!gc) return () => {};
  const timer = setInterval(() => gc({ type: "minor" }), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
