import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { describeCommand, lastLines, ProcessStartError, runProcess } from "./runner.js";

describe("describeCommand", () => {
  it("joins plain words with spaces", () => {
    expect(describeCommand(["kopia", "snapshot", "list", "--json", "--config-file=/root/a.config"])).toBe(
      "kopia snapshot list --json --config-file=/root/a.config",
    );
  });

  it("masks the value of --password-like flags", () => {
    expect(describeCommand(["kopia", "--password=hunter2", "repository", "status"])).toBe(
      'kopia "--password=***" repository status',
    );
    expect(describeCommand(["x", "--secret-access-key=AbC", "--session-token=t", "--key-data=PEM"])).toBe(
      'x "--secret-access-key=***" "--session-token=***" "--key-data=***"',
    );
    expect(describeCommand(["x", "--SFTP-PASSWORD=pw", "--client-credentials=c"])).toBe(
      'x "--SFTP-PASSWORD=***" "--client-credentials=***"',
    );
  });

  it("does not mask flags that only look similar", () => {
    expect(describeCommand(["kopia", "--keep-latest=10", "--log-level=warning", "--path=/srv"])).toBe(
      "kopia --keep-latest=10 --log-level=warning --path=/srv",
    );
  });

  it("masks listed secrets wherever they appear", () => {
    expect(
      describeCommand(["kopia", "sftp", "--key-data", "PRIVATEKEY", "--note=xPRIVATEKEYx"], ["PRIVATEKEY"]),
    ).toBe('kopia sftp --key-data "***" "--note=x***x"');
  });

  it("masks several secrets and ignores empty ones", () => {
    expect(describeCommand(["a", "one", "two", "three"], ["", "one", "three"])).toBe('a "***" two "***"');
  });

  it("quotes words with spaces or special characters", () => {
    expect(describeCommand(["sh", "-c", "echo out; exit 3", "", 'say "hi"'])).toBe(
      'sh -c "echo out; exit 3" "" "say \\"hi\\""',
    );
  });

  it("never shows a secret in the output", () => {
    const out = describeCommand(["kopia", "--password=topsecret", "--key", "topsecret2"], ["topsecret2"]);
    expect(out).not.toContain("topsecret");
  });
});

describe("lastLines", () => {
  it("keeps the last two non-empty trimmed lines joined by ' | ' by default", () => {
    expect(lastLines("a\n\n b \nc\n\n d \n")).toBe("c | d");
    expect(lastLines("only")).toBe("only");
    expect(lastLines("\n \n")).toBe("");
    expect(lastLines("")).toBe("");
  });

  it("takes a line count", () => {
    expect(lastLines("a\n\n b \nc\nd\n", 3)).toBe("b | c | d");
    expect(lastLines("a\nb\nc", 1)).toBe("c");
  });

  it("cuts long lines", () => {
    expect(lastLines(`${"x".repeat(301)}\nshort`)).toBe(`${"x".repeat(300)}… | short`);
    expect(lastLines("abcdef", 1, 3)).toBe("abc…");
    expect(lastLines("abc", 1, 3)).toBe("abc");
  });
});

describe("runProcess", () => {
  it("returns exit code, stdout and the stderr tail", async () => {
    const result = await runProcess({ argv: ["sh", "-c", "echo out; echo err >&2; exit 3"] });
    expect(result).toMatchObject({
      exitCode: 3,
      signal: null,
      stdout: "out\n",
      aborted: false,
      timedOut: false,
    });
    expect(result.stderrTail).toContain("err");
    expect(result.stderrTail).toBe("err\n");
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
  });

  it("returns exit code 0 on success", async () => {
    const result = await runProcess({ argv: ["sh", "-c", "printf 'a\\nb'"] });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe("a\nb");
    expect(result.stderrTail).toBe("");
  });

  it("passes the environment explicitly", async () => {
    const result = await runProcess({
      argv: ["sh", "-c", 'echo "$KD_TEST_VALUE|$KD_NOT_SET"'],
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", KD_TEST_VALUE: "hello world" },
    });
    expect(result.stdout).toBe("hello world|\n");
  });

  it("runs in the given working directory", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "kd-runner-"));
    try {
      const result = await runProcess({ argv: ["pwd", "-P"], cwd: dir });
      expect(result.stdout.trim()).toBe(await fs.realpath(dir));
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it("rejects with ProcessStartError when the program does not exist", async () => {
    const run = runProcess({ argv: ["/nonexistent/kd-no-such-binary", "--password=x"] });
    await expect(run).rejects.toBeInstanceOf(ProcessStartError);
    const error = (await run.catch((e: unknown) => e)) as ProcessStartError;
    expect(error.code).toBe("ENOENT");
    expect(error.message).toBe("/nonexistent/kd-no-such-binary: command not found");
    expect(error.command).toBe('/nonexistent/kd-no-such-binary "--password=***"');
  });

  it("rejects an empty argv", async () => {
    await expect(runProcess({ argv: [] })).rejects.toThrow("empty argv");
  });

  it("stops a running child quickly when aborted", async () => {
    const controller = new AbortController();
    const started = Date.now();
    const run = runProcess({ argv: ["sleep", "30"], signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    const result = await run;
    expect(result.aborted).toBe(true);
    expect(result.timedOut).toBe(false);
    expect(result.exitCode).toBeNull();
    expect(result.signal).toBe("SIGINT");
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("stops the child at once when the signal is already aborted", async () => {
    const controller = new AbortController();
    controller.abort();
    const started = Date.now();
    const result = await runProcess({ argv: ["sleep", "30"], signal: controller.signal });
    expect(result.aborted).toBe(true);
    expect(result.signal).toBe("SIGINT");
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("stops a child at the timeout", async () => {
    const result = await runProcess({ argv: ["sleep", "30"], timeoutMs: 100 });
    expect(result.timedOut).toBe(true);
    expect(result.aborted).toBe(false);
    expect(result.signal).toBe("SIGINT");
    expect(result.durationMs).toBeLessThan(5000);
  });

  it("kills a child that ignores SIGINT after the grace period", async () => {
    const result = await runProcess({
      argv: ["sh", "-c", "trap '' INT; while :; do :; done"],
      timeoutMs: 100,
      killGraceMs: 200,
    });
    expect(result.timedOut).toBe(true);
    expect(result.signal).toBe("SIGKILL");
    expect(result.durationMs).toBeGreaterThanOrEqual(250);
    expect(result.durationMs).toBeLessThan(5000);
  });

  it("pipes stdin into the child", async () => {
    const result = await runProcess({ argv: ["cat"], stdin: Readable.from(["hello\n", "world"]) });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe("hello\nworld");
  });

  it("pipes binary stdin unchanged", async () => {
    const data = Buffer.from(Array.from({ length: 200_000 }, (_, i) => i % 251));
    const result = await runProcess({ argv: ["sh", "-c", "wc -c"], stdin: Readable.from([data]) });
    expect(result.stdout.trim()).toBe("200000");
  });

  it("hands one child's stdin pipe to another as its stdout: every byte arrives, none through here", async () => {
    // 64 MiB: the consumer checksums what arrives (cksum prints the CRC and the byte count).
    const size = 64 * 1024 * 1024;
    let producer: Promise<{ exitCode: number | null }> | undefined;
    const consumer = await runProcess({
      argv: ["cksum"],
      stdin: (pipe) => {
        producer = runProcess({ argv: ["head", "-c", String(size), "/dev/zero"], stdoutTo: pipe });
      },
    });
    expect(consumer.exitCode).toBe(0);
    expect((await producer)?.exitCode).toBe(0);
    const expected = await runProcess({ argv: ["sh", "-c", `head -c ${size} /dev/zero | cksum`] });
    expect(consumer.stdout).toBe(expected.stdout);
    expect(consumer.stdout.trim().split(" ")[1]).toBe(String(size));
  });

  it("the consumer sees the end of the data when a handed-over producer fails half-way", async () => {
    let producer: Promise<{ exitCode: number | null }> | undefined;
    const consumer = await runProcess({
      argv: ["wc", "-c"],
      stdin: (pipe) => {
        producer = runProcess({ argv: ["sh", "-c", "head -c 1000 /dev/zero; exit 3"], stdoutTo: pipe });
      },
      timeoutMs: 10_000,
    });
    expect(consumer.timedOut).toBe(false);
    expect(consumer.stdout.trim()).toBe("1000");
    expect((await producer)?.exitCode).toBe(3);
  });

  it("gives the child no stdin when none is passed, so it cannot wait for input", async () => {
    const result = await runProcess({ argv: ["cat"], timeoutMs: 5000 });
    expect(result.timedOut).toBe(false);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe("");
  });

  it("reports stderr chunks as they arrive", async () => {
    const chunks: string[] = [];
    await runProcess({ argv: ["sh", "-c", "echo one >&2; echo two >&2"], onStderr: (c) => chunks.push(c) });
    expect(chunks.join("")).toBe("one\ntwo\n");
  });

  it("keeps only the last 8192 bytes of stderr", async () => {
    const result = await runProcess({
      argv: ["sh", "-c", "head -c 20000 /dev/zero | tr '\\000' a >&2; printf END >&2"],
    });
    expect(result.stderrTail).toHaveLength(8192);
    expect(result.stderrTail.endsWith("aaaEND")).toBe(true);
  });

  it("fails a run whose stdout exceeds maxStdoutBytes", async () => {
    const result = await runProcess({
      argv: ["sh", "-c", "head -c 1000000 /dev/zero"],
      maxStdoutBytes: 1000,
    });
    expect(result.exitCode).toBeNull();
    expect(result.stdout.length).toBeLessThanOrEqual(1000);
    expect(result.stderrTail).toContain("(output larger than 1000 bytes)");
  });

  it("keeps stdout within maxStdoutBytes as is", async () => {
    const result = await runProcess({ argv: ["sh", "-c", "printf 12345"], maxStdoutBytes: 5 });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe("12345");
  });
});
