// A job row's message is either why it failed or a note while it waits (a queued row whose queue
// store is down says so): only the first is shown as an error.
export function noteClass(status: string, base = ""): string {
  return [base, status === "queued" ? "muted" : "error"].filter(Boolean).join(" ");
}
