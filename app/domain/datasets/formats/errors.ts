/** A record cannot be written in the requested format (wrong shape or missing data). */
export class DatasetFormatError extends Error {
  override name = "DatasetFormatError";
}
