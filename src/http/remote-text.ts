/**
 * Text a remote peer chose (registry error messages and codes, header values) made safe to print or log
 * (issue 13.18): terminal escape sequences (CSI, OSC, and other ESC sequences) are removed, line breaks and
 * tabs become spaces, and other C0/C1 control characters, zero-width characters and bidi overrides are
 * dropped, so a registry cannot move the cursor, set the window title, hide text or forge a log line.
 * The result is capped in length. Pure.
 */

/* eslint-disable no-control-regex -- matching control characters is the point */
const escapeSequences = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b[P^_][^\u001b]*(?:\u001b\\)?|\u001b[@-Z\\-_]?|\u009b[0-?]*[ -/]*[@-~]/g;
const whitespace = /[\t\n\r\v\f\u0085\u2028\u2029]+/g;
const invisible = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;
/* eslint-enable no-control-regex */

/** `text` without escape sequences or control characters, at most `maxLength` characters (then `…`). */
export function sanitizeRemoteText(text: string, maxLength = 300): string {
  const clean = text.replace(escapeSequences, '').replace(whitespace, ' ').replace(invisible, '').trim();
  return clean.length > maxLength ? `${clean.slice(0, maxLength)}…` : clean;
}
