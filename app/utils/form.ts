// Reading typed values out of submitted forms; Zod schemas then validate them.

/** A number field: undefined when absent or blank (so the schema's default applies), else Number(). */
export function formNumber(form: FormData, name: string): number | undefined {
  const v = form.get(name);
  return v === null || v === "" ? undefined : Number(v);
}

/** The sampling-parameter fields shared by the playground and the project sampling settings. */
export function samplingParamsFromForm(form: FormData) {
  return {
    temperature: formNumber(form, "temperature"),
    topK: formNumber(form, "topK"),
    topP: formNumber(form, "topP"),
    repetitionPenalty: formNumber(form, "repetitionPenalty"),
    maxNewTokens: formNumber(form, "maxNewTokens"),
    stop: form.has("stop") ? String(form.get("stop")).split("|").filter(Boolean) : undefined,
  };
}
