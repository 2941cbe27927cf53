// Run records: one JSON document per unit and run, in the older tool's local metadata layout
// (`<base_path>/metadata/<unit>_<YYYYmmdd_HHMMSS>.json`) with the fields it lacks added.
import { ExternalError, errorMessage } from "./errors.js";

export interface RunErrorDetail {
  /** Where it happened: plan, stop, snapshot, restore, swap, start, metadata. */
  phase: string;
  message: string;
  exit_code?: number | null;
  stderr_tail?: string;
}

export interface RunRecord {
  // The older tool's fields.
  unit_name: string;
  timestamp: string;
  duration_seconds: number;
  backup_id: string;
  success: boolean;
  kopia_snapshot_ids: string[];
  volumes_backed_up: number;
  networks_backed_up: number;
  errors: string[];
  backup_scope?: string;
  backup_format?: string;
  // Ours.
  operation: "backup" | "restore";
  status: string;
  exit_code: number;
  error_details: RunErrorDetail[];
  stopped_containers: string[];
  not_restarted: { container: string; reason: string }[];
  downtime_ms: number;
  writer: string;
}

/** A record read back: any version's fields, the missing ones filled in. */
export interface HistoryEntry {
  file: string;
  unit: string;
  operation: string;
  time: Date | undefined;
  success: boolean;
  status: string;
  backupId: string;
  durationSeconds: number | undefined;
  errors: string[];
  errorDetails: RunErrorDetail[];
  snapshotIds: string[];
}

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

/** Reads any version's record; undefined when it is not one (the caller warns and skips it). */
export function parseRunRecord(file: string, raw: unknown): HistoryEntry | undefined {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return undefined;
  const r = raw as Record<string, unknown>;
  const unit = str(r.unit_name) ?? str(r.unit);
  if (!unit) return undefined;
  const timestamp = str(r.timestamp);
  let time: Date | undefined;
  if (timestamp) {
    const zoned = /(Z|[+-]\d{2}:?\d{2})$/i.test(timestamp.trim());
    const parsed = new Date(zoned ? timestamp.trim() : `${timestamp.trim()}Z`);
    time = Number.isNaN(parsed.getTime()) ? undefined : parsed;
  }
  const success = typeof r.success === "boolean" ? r.success : str(r.status) === "ok";
  const errors = Array.isArray(r.errors)
    ? r.errors.map((e) => (typeof e === "string" ? e : JSON.stringify(e)))
    : [];
  const details = Array.isArray(r.error_details)
    ? r.error_details.filter(
        (d): d is RunErrorDetail =>
          d !== null && typeof d === "object" && typeof (d as RunErrorDetail).message === "string",
      )
    : [];
  return {
    file,
    unit,
    operation: str(r.operation) ?? "backup",
    time,
    success,
    status: str(r.status) ?? (success ? "ok" : "failed"),
    backupId: str(r.backup_id) ?? "",
    durationSeconds: num(r.duration_seconds),
    errors,
    errorDetails: details,
    snapshotIds: Array.isArray(r.kopia_snapshot_ids)
      ? r.kopia_snapshot_ids.filter((s): s is string => typeof s === "string")
      : [],
  };
}

/** `20261125_104400` for a file name. */
export function recordStamp(date: Date): string {
  const iso = date.toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}_${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`;
}

/** The phase, message and (for a failed program) exit code and stderr tail of an error. */
export function errorDetail(phase: string, error: unknown): RunErrorDetail {
  const details = error instanceof ExternalError ? error.details : {};
  return {
    phase,
    message: errorMessage(error),
    ...(details.exitCode !== undefined ? { exit_code: details.exitCode } : {}),
    ...(details.stderrTail ? { stderr_tail: details.stderrTail.slice(-2000) } : {}),
  };
}
