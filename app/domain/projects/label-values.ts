// Stored label values (0..1) as the review form shows them: Likert scales on 1–5, yes/no questions
// and flags as answers, under the label's title. For moderators reading reviews.
import { labelTitle, LIKERT_POINTS, type LabelDefinition } from "./workflow";

type Definition = Pick<LabelDefinition, "name" | "title" | "kind">;

/** A 0..1 Likert value on the form's 1..5 scale. */
export function likertPoint(value: number): number {
  return 1 + value * (LIKERT_POINTS - 1);
}

const oneDecimal = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));

/** Title of a label; a name the schema no longer has reads as itself, capitalised. */
export function titleOf(def: Definition | undefined, name: string): string {
  return labelTitle(def ?? { name });
}

/** One reviewer's answer: "Quality 4/5", "Spam: no", "PII: yes". Unknown labels keep their 0–1 value. */
export function formatLabelAnswer(def: Definition | undefined, name: string, value: number): string {
  const title = titleOf(def, name);
  switch (def?.kind) {
    case "likert":
      return `${title} ${oneDecimal(likertPoint(value))}/${LIKERT_POINTS}`;
    case "yesno":
    case "flag":
      return `${title}: ${value >= 0.5 ? "yes" : "no"}`;
    default:
      return `${title} ${value.toFixed(2)} (0–1)`;
  }
}

/**
 * Several reviewers' answers from their mean and count: "Quality 3.5/5 (2 reviews)",
 * "Spam: yes 1 of 2", "PII: yes 0 of 2".
 */
export function formatLabelSummary(def: Definition | undefined, name: string, mean: number, count: number): string {
  const title = titleOf(def, name);
  switch (def?.kind) {
    case "likert":
      return `${title} ${oneDecimal(Math.round(likertPoint(mean) * 10) / 10)}/${LIKERT_POINTS}${count === 1 ? "" : ` (${count} reviews)`}`;
    case "yesno":
    case "flag":
      return `${title}: yes ${Math.round(mean * count)} of ${count}`;
    default:
      return `${title} ${mean.toFixed(2)} (0–1)`;
  }
}
