// What an import request may ask for, shared by the upload form, the CLI and the import job.
import { z } from "zod";
import type { ImportWarning, WarningKind } from "~/domain/datasets/import-lines.ts";

export const IMPORT_FORMATS = {
  oasst: { label: "Open-Assistant trees or messages (trees, bare-root or flat message JSONL)" },
  hh: { label: 'Anthropic HH preferences ({"chosen", "rejected"} transcripts)' },
  trl_preference: { label: "TRL preferences ({prompt?, chosen, rejected, margin?})" },
  prompts: { label: 'Prompt list (one prompt per line: text, a JSON string or {"prompt"})' },
} as const;
export type ImportFormat = keyof typeof IMPORT_FORMATS;
export const IMPORT_FORMAT_KEYS = Object.keys(IMPORT_FORMATS) as [ImportFormat, ...ImportFormat[]];

export const IMPORT_MODES = {
  skip_bad_lines: "Skip bad lines, import the rest",
  reject_file: "Reject the whole file if any line is bad (nothing is written)",
} as const;
export type ImportMode = keyof typeof IMPORT_MODES;
export const IMPORT_MODE_KEYS = Object.keys(IMPORT_MODES) as [ImportMode, ...ImportMode[]];

export const ImportRequestSchema = z
  .object({
    format: z.enum(IMPORT_FORMAT_KEYS),
    mode: z.enum(IMPORT_MODE_KEYS).default("reject_file"),
  })
  .strict();
export type ImportRequest = z.infer<typeof ImportRequestSchema>;

/** A file's name as its user knows it (uploads are stored as "<uuid>-<name>"). */
export function uploadedName(sourcePath: string): string {
  const name = sourcePath.split(/[\\/]/).pop() ?? sourcePath;
  return name.replace(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-/, "");
}

/** Largest accepted upload; files are streamed to disk, never held in memory. */
export const MAX_UPLOAD_BYTES = 4 * 1024 ** 3;

/** How many bad lines the report lists (all are counted). */
export const REPORTED_ERRORS = 500;

/** How many warnings the report lists (all are counted, by kind). */
export const REPORTED_WARNINGS = 2_000;

export interface ImportReport {
  phase: "validating" | "writing" | "done" | "rejected";
  file: { name: string; bytes: number; sha256: string | null };
  lines: number;
  blank: number;
  /** Items (trees, pairs, prompts) the file holds that are imported, some of them with a warning. */
  items: number;
  /** Readable lines left out by a rule of imports (an empty reply, a text over the import limit…). */
  skipped: number;
  /** Lines with at least one warning (skipped or imported). */
  warnedLines: number;
  /** Lines with a warning, by kind (skipped or imported). */
  warningCounts: Partial<Record<WarningKind, number>>;
  warnings: ImportWarning[];
  warningsTruncated: boolean;
  /** Lines refused: they cannot be read as the chosen format. */
  badLines: number;
  errors: { line: number; reason: string }[];
  errorsTruncated: boolean;
  created: { trees: number; messages: number; pairs: number; prompts: number };
  /** Items already in the project (an earlier import of the same data). */
  alreadyPresent: number;
  /** The same file (by sha256) imported before into this project. */
  sameFileAs: string | null;
}

/** What each warning kind means, for the report. */
export const WARNING_LABELS: Record<WarningKind, string> = {
  text_over_limit: "a text is longer than the import limit (skipped)",
  empty_text: "a text is empty (skipped)",
  identical_replies: "chosen and rejected are identical (skipped)",
  no_shared_prompt: "chosen and rejected share no prompt or no pair of replies (skipped)",
  diverges_at_user_turn: "chosen and rejected part at a user turn (skipped)",
  lang_not_in_project: "a language the project does not collect (skipped)",
  turns_merged: "consecutive turns of one speaker merged (imported)",
  diverges_early: "chosen and rejected part before their last turn (imported where they part)",
  starts_with_assistant: "a conversation starts with an assistant turn (skipped)",
  system_message: "a system message, which a conversation here has no place for (skipped)",
};

/**
 * The group of a refused line's reason: the reason with its ids, numbers and quoted values
 * blanked, so "message 1b…: parent 9c… not found" lines fall in one group.
 */
export function reasonGroup(reason: string): string {
  return reason
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, "…")
    .replace(/"(?:[^"\\]|\\.)*"/g, "\"…\"")
    .replace(/\d+/g, "N");
}
