// The error of the dataset services: a message for the user and an HTTP status.
export class DatasetError extends Error {
  override name = "DatasetError";
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** A failure a retry cannot fix (bad stored request, a row its consumer would refuse): the export job gives up at once. */
export class PermanentExportError extends Error {
  override name = "PermanentExportError";
}
