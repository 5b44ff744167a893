// Errors of the export stage. Both are user-facing (the CLI prints the
// message without a stack): the network or the weights given cannot be
// exported as asked.

/** The network contains something the exporter cannot write (op, activation, shape). */
export class UnsupportedOpError extends Error {
  readonly status = 422;
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedOpError';
  }
}

/** Weights that do not fit the ArchSpec (missing tensor, wrong shape, bad file). */
export class WeightsMismatchError extends Error {
  readonly status = 400;
  constructor(message: string) {
    super(message);
    this.name = 'WeightsMismatchError';
  }
}
