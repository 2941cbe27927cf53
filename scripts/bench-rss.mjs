// Loaded by the benchmark into the kopi-docka process under test (`node --import`): on exit it
// writes that process's own peak resident set size (KiB, VmHWM from /proc/self/status; its
// children not counted) and the peaks of its heap and buffers, sampled every 50 ms. VmHWM, not
// getrusage's ru_maxrss: that survives execve, so it would report the benchmark's own peak.
import { readFileSync, writeFileSync } from "node:fs";

const out = process.env.KOPI_DOCKA_BENCH_RSS_FILE;
if (out) {
  const peak = { heapUsed: 0, external: 0, arrayBuffers: 0 };
  const sample = () => {
    const m = process.memoryUsage();
    for (const k of Object.keys(peak)) peak[k] = Math.max(peak[k], m[k]);
  };
  setInterval(sample, 50).unref();
  process.on("exit", () => {
    sample();
    try {
      const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
      writeFileSync(out, JSON.stringify({ maxRssKiB: Number(hwm?.[1]), ...peak }));
    } catch {
      // The measurement is lost; the run under test is not disturbed.
    }
  });
}
