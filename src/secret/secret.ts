/**
 * A credential that cannot be logged or serialised by accident: `String()`, `JSON.stringify` and
 * `util.inspect` all print `[REDACTED]`. Only `reveal()` gives the value, at the point of use.
 */
import { inspect } from 'node:util';

export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** The plain value. Call only where it is sent. */
  reveal(): string {
    return this.#value;
  }

  /** True when the value is empty. */
  isEmpty(): boolean {
    return this.#value === '';
  }

  toString(): string {
    return '[REDACTED]';
  }

  toJSON(): string {
    return '[REDACTED]';
  }

  [inspect.custom](): string {
    return 'Secret([REDACTED])';
  }
}
