// Model output as Postgres can keep it: text and JSON columns refuse U+0000, which a model may
// emit (a byte-level tokenizer has a token for it). It is stored, scored and shown as U+FFFD.
export function storableText(text: string): string {
  return text.replaceAll("\u0000", "\uFFFD");
}
