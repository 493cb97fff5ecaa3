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
