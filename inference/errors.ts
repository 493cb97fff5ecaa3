// Errors the inference package throws on bad input, each naming what is wrong.

/** A model directory that cannot be used (missing files, corrupt graph, mismatched dims, ...). */
export class ModelValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModelValidationError";
  }
}

/** An impossible generation or sampling parameter; `param` names it. */
export class GenerationParamError extends Error {
  constructor(
    readonly param: string,
    detail: string,
  ) {
    super(`${param}: ${detail}`);
    this.name = "GenerationParamError";
  }
}
