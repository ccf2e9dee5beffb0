/**
 * Body and header templates for ntfy/Gotify-style services: `{{field}}` inserts the field as text,
 * `{{json field}}` as a JSON value (a quoted, escaped string; a number; null when absent). Nothing else —
 * no logic, no loops — so a template can be checked when the config is loaded. Pure.
 */

/** The fields a template may name (the notification body's fields, docs/notifications.md). */
export const templateFields = [
  'event', 'title', 'text', 'image', 'platform', 'host', 'at', 'id', 'oldDigest', 'newDigest', 'indexDigest', 'size',
  'message', 'code', 'failures', 'registry', 'retryAfterSeconds', 'digests',
] as const;
export type TemplateField = (typeof templateFields)[number];

const placeholder = /\{\{\s*(json\s+)?([A-Za-z]+)\s*\}\}/g;

/** Why a template cannot be used (an unknown field), or undefined. */
export function templateProblem(template: string): string | undefined {
  for (const m of template.matchAll(placeholder)) {
    const field = m[2] ?? '';
    if (!(templateFields as readonly string[]).includes(field)) return `unknown template field {{${m[1] ?? ''}${field}}}; use one of ${templateFields.join(', ')}`;
  }
  const rest = template.replace(placeholder, '');
  if (rest.includes('{{')) return 'an unclosed or malformed {{…}} placeholder';
  return undefined;
}

/** Fills a template from `values` (absent fields are empty text, or null in JSON). */
export function renderTemplate(template: string, values: Readonly<Partial<Record<TemplateField, string | number | readonly string[]>>>): string {
  return template.replace(placeholder, (_, json: string | undefined, field: string) => {
    const v = values[field as TemplateField];
    if (json !== undefined) return JSON.stringify(v ?? null);
    if (v === undefined) return '';
    return Array.isArray(v) ? v.join(', ') : String(v);
  });
}

/** A rendered header value: control characters (CR, LF…) become spaces, so a field cannot add a header. */
export function headerSafe(value: string): string {
  let out = '';
  for (const ch of value) {
    const c = ch.charCodeAt(0);
    out += c < 0x20 || c === 0x7f ? ' ' : ch;
  }
  return out;
}
