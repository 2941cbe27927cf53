// `kopia.kopia_params` (the older tool's words appended to `kopia repository create|connect`)
// turned into an argv array, with secret flag values moved into the environment where kopia
// reads them from there, so that they never appear in a process's argv.
import { UsageError } from "../../domain/errors.js";

/** Secret flags kopia also accepts from an environment variable. */
const SECRET_FLAG_ENV: Readonly<Record<string, string>> = {
  "--secret-access-key": "AWS_SECRET_ACCESS_KEY",
  "--access-key": "AWS_ACCESS_KEY_ID",
  "--session-token": "AWS_SESSION_TOKEN",
  "--key": "B2_KEY",
  "--storage-key": "AZURE_STORAGE_KEY",
  "--sas-token": "AZURE_STORAGE_SAS_TOKEN",
  "--client-secret": "AZURE_CLIENT_SECRET",
  "--webdav-password": "KOPIA_WEBDAV_PASSWORD",
};
/** Secret flags kopia only takes on its command line: masked wherever a command is shown. */
const SECRET_FLAGS_ARGV_ONLY = new Set(["--key-data", "--known-hosts-data", "--password", "--sftp-password"]);

/** Splits a command-line-like string into words, honouring single and double quotes and backslashes. */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let current = "";
  let inWord = false;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (ch === "\\" && quote === '"' && i + 1 < text.length) current += text[++i];
      else current += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      inWord = true;
    } else if (ch === "\\" && i + 1 < text.length) {
      current += text[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(current);
      current = "";
      inWord = false;
    } else {
      current += ch;
      inWord = true;
    }
  }
  if (quote) throw new UsageError(`kopia.kopia_params has an unclosed ${quote} quote`);
  if (inWord) words.push(current);
  return words;
}

export interface StorageParams {
  /** The storage kind, e.g. "filesystem". */
  kind: string;
  /** Words for `kopia repository create|connect`, starting with the kind. */
  argv: string[];
  /** Environment variables carrying the secrets taken out of argv. */
  env: Record<string, string>;
  /** Secret values, to mask wherever text is shown. */
  secrets: string[];
  /** Local repository directory, for a filesystem repository. */
  localPath: string | undefined;
}

export function parseStorageParams(params: string): StorageParams {
  const words = splitWords(params);
  const kind = words[0];
  if (!kind)
    throw new UsageError(
      'kopia.kopia_params is empty: give a storage kind, e.g. "filesystem --path /backup/kopia-repository"',
    );
  const argv: string[] = [kind];
  const env: Record<string, string> = {};
  const secrets: string[] = [];
  let localPath: string | undefined;
  for (let i = 1; i < words.length; i++) {
    const word = words[i] as string;
    const eq = word.indexOf("=");
    const flag = eq > 0 ? word.slice(0, eq) : word;
    // The next word is this flag's value unless it is a flag itself (key data starting "-----" is a value).
    const takesNext = eq < 0 && i + 1 < words.length && !/^--[a-z][\w-]*(=|$)/i.test(words[i + 1] as string);
    const value = eq > 0 ? word.slice(eq + 1) : takesNext ? (words[i + 1] as string) : undefined;
    const envName = SECRET_FLAG_ENV[flag];
    if (envName && value !== undefined) {
      env[envName] = value;
      if (flag !== "--access-key") secrets.push(value);
      if (eq < 0) i++;
      continue;
    }
    if (SECRET_FLAGS_ARGV_ONLY.has(flag) && value !== undefined) secrets.push(value);
    if (kind === "filesystem" && flag === "--path" && value !== undefined) localPath = value;
    argv.push(word);
  }
  return { kind, argv, env, secrets, localPath };
}
