import { describe, expect, it } from "vitest";
import { UsageError } from "../../domain/errors.js";
import { parseStorageParams, splitWords } from "./storage-params.js";

describe("splitWords", () => {
  it.each<[string, string[]]>([
    ["", []],
    ["   \t\n ", []],
    ["filesystem --path /backup/kopia-repository", ["filesystem", "--path", "/backup/kopia-repository"]],
    ["  a   b\tc\nd  ", ["a", "b", "c", "d"]],
    ['--path "/mnt/my backups"', ["--path", "/mnt/my backups"]],
    ["--path '/mnt/my backups'", ["--path", "/mnt/my backups"]],
    ['--path="/a b"/c', ["--path=/a b/c"]],
    ["'a b'c\"d e\"", ["a bcd e"]],
    ['"say \\"hi\\""', ['say "hi"']],
    ["'no \\escape'", ["no \\escape"]],
    ['"it\'s"', ["it's"]],
    ["'say \"hi\"'", ['say "hi"']],
    ["a\\ b c", ["a b", "c"]],
    ["\\'quoted\\'", ["'quoted'"]],
    ['x "" y', ["x", "", "y"]],
    ["''", [""]],
    ["trailing\\", ["trailing\\"]],
  ])("splitWords(%j)", (text, words) => {
    expect(splitWords(text)).toEqual(words);
  });

  it.each(['--path "/unclosed', "--path '/unclosed", "a 'b\" c"])(
    "rejects an unclosed quote in %j",
    (text) => {
      expect(() => splitWords(text)).toThrow(UsageError);
    },
  );

  it("names the unclosed quote", () => {
    expect(() => splitWords('"abc')).toThrow('kopia.kopia_params has an unclosed " quote');
    expect(() => splitWords("'abc")).toThrow("kopia.kopia_params has an unclosed ' quote");
  });

  it("raises a UsageError with the usage exit code", () => {
    try {
      splitWords("'x");
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(UsageError);
      expect((error as UsageError).exitCode).toBe(2);
    }
  });
});

describe("parseStorageParams", () => {
  it("parses a filesystem repository and its local path", () => {
    expect(parseStorageParams("filesystem --path /backup/kopia-repository")).toStrictEqual({
      kind: "filesystem",
      argv: ["filesystem", "--path", "/backup/kopia-repository"],
      env: {},
      secrets: [],
      localPath: "/backup/kopia-repository",
    });
  });

  it("reads --path=VALUE and quoted paths", () => {
    expect(parseStorageParams("filesystem --path=/srv/repo").localPath).toBe("/srv/repo");
    const quoted = parseStorageParams("filesystem --path '/mnt/my repo'");
    expect(quoted.localPath).toBe("/mnt/my repo");
    expect(quoted.argv).toEqual(["filesystem", "--path", "/mnt/my repo"]);
  });

  it("has no local path for a remote kind, even with --path", () => {
    expect(parseStorageParams("sftp --path /repo --host h --username u").localPath).toBeUndefined();
    expect(parseStorageParams("filesystem").localPath).toBeUndefined();
  });

  it("moves s3 secrets into the environment (flag=value form)", () => {
    const params = parseStorageParams(
      "s3 --bucket my-bucket --endpoint s3.example.com --access-key AKIAEXAMPLE --secret-access-key=wJalrXUtnFEMI/K7MDENG",
    );
    expect(params).toStrictEqual({
      kind: "s3",
      argv: ["s3", "--bucket", "my-bucket", "--endpoint", "s3.example.com"],
      env: { AWS_ACCESS_KEY_ID: "AKIAEXAMPLE", AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG" },
      secrets: ["wJalrXUtnFEMI/K7MDENG"],
      localPath: undefined,
    });
  });

  it("moves s3 secrets into the environment (flag value form)", () => {
    const params = parseStorageParams(
      "s3 --bucket b --secret-access-key wJalrXUtnFEMI --session-token tok123 --prefix kopia/",
    );
    expect(params.argv).toEqual(["s3", "--bucket", "b", "--prefix", "kopia/"]);
    expect(params.env).toStrictEqual({ AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI", AWS_SESSION_TOKEN: "tok123" });
    expect(params.secrets).toEqual(["wJalrXUtnFEMI", "tok123"]);
    expect(params.argv.join(" ")).not.toContain("wJalrXUtnFEMI");
    expect(params.argv.join(" ")).not.toContain("tok123");
  });

  it("keeps '=' inside a secret value", () => {
    const params = parseStorageParams("s3 --bucket b --secret-access-key=abc=def==");
    expect(params.env).toStrictEqual({ AWS_SECRET_ACCESS_KEY: "abc=def==" });
    expect(params.argv).toEqual(["s3", "--bucket", "b"]);
  });

  it("moves the b2 key into B2_KEY but keeps --key-id", () => {
    const params = parseStorageParams("b2 --bucket b --key-id 0012ab --key K005secret");
    expect(params).toStrictEqual({
      kind: "b2",
      argv: ["b2", "--bucket", "b", "--key-id", "0012ab"],
      env: { B2_KEY: "K005secret" },
      secrets: ["K005secret"],
      localPath: undefined,
    });
  });

  it("moves azure and webdav secrets into their variables", () => {
    expect(parseStorageParams("azure --container c --storage-account a --storage-key SK").env).toStrictEqual({
      AZURE_STORAGE_KEY: "SK",
    });
    expect(
      parseStorageParams("webdav --url https://x --webdav-username u --webdav-password WP"),
    ).toStrictEqual({
      kind: "webdav",
      argv: ["webdav", "--url", "https://x", "--webdav-username", "u"],
      env: { KOPIA_WEBDAV_PASSWORD: "WP" },
      secrets: ["WP"],
      localPath: undefined,
    });
  });

  it("keeps argv-only sftp secrets in argv but lists them as secrets", () => {
    const params = parseStorageParams(
      "sftp --path /repo --host backup.example.com --username u --key-data b3BlbnNzaC1rZXk --known-hosts-data=KH",
    );
    expect(params).toStrictEqual({
      kind: "sftp",
      argv: [
        "sftp",
        "--path",
        "/repo",
        "--host",
        "backup.example.com",
        "--username",
        "u",
        "--key-data",
        "b3BlbnNzaC1rZXk",
        "--known-hosts-data=KH",
      ],
      env: {},
      secrets: ["b3BlbnNzaC1rZXk", "KH"],
      localPath: undefined,
    });
  });

  it("lists PEM key data given as --key-data=VALUE as a secret", () => {
    const pem = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbg==\n-----END OPENSSH PRIVATE KEY-----";
    const params = parseStorageParams(`sftp --host h --key-data="${pem}"`);
    expect(params.argv).toEqual(["sftp", "--host", "h", `--key-data=${pem}`]);
    expect(params.secrets).toEqual([pem]);
  });

  it("lists an sftp password as a secret", () => {
    const params = parseStorageParams("sftp --host h --sftp-password=pw1 --username u");
    expect(params.argv).toEqual(["sftp", "--host", "h", "--sftp-password=pw1", "--username", "u"]);
    expect(params.secrets).toEqual(["pw1"]);
  });

  it("leaves a secret flag without a value in argv", () => {
    const params = parseStorageParams("s3 --bucket b --secret-access-key");
    expect(params.argv).toEqual(["s3", "--bucket", "b", "--secret-access-key"]);
    expect(params.env).toStrictEqual({});
    expect(params.secrets).toEqual([]);
    const followed = parseStorageParams("s3 --secret-access-key --bucket b");
    expect(followed.argv).toEqual(["s3", "--secret-access-key", "--bucket", "b"]);
    expect(followed.env).toStrictEqual({});
  });

  it.each(["", "   ", "\n"])("rejects empty params %j", (text) => {
    expect(() => parseStorageParams(text)).toThrow(UsageError);
    expect(() => parseStorageParams(text)).toThrow(/kopia\.kopia_params is empty/);
  });

  it("passes on quoting errors as UsageError", () => {
    expect(() => parseStorageParams('filesystem --path "/x')).toThrow(UsageError);
  });
});

describe("parseStorageParams with values that start with dashes", () => {
  it("treats SSH key data given as a separate word as a secret value", () => {
    const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----";
    const parsed = parseStorageParams(`sftp --host h --username u --key-data '${key}' --path /srv`);
    expect(parsed.secrets).toEqual([key]);
    expect(parsed.argv).toEqual([
      "sftp",
      "--host",
      "h",
      "--username",
      "u",
      "--key-data",
      key,
      "--path",
      "/srv",
    ]);
  });
});
