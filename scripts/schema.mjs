#!/usr/bin/env node
// Writes config/resolver.schema.json from the zod schema (run after `npm run build`).
import { writeFileSync } from 'node:fs';
const { configJsonSchema } = await import('../dist/config/schema.js');
writeFileSync(new URL('../config/resolver.schema.json', import.meta.url), `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
// The webhook body's schema (docs/notifications.md).
const { notificationJsonSchema } = await import('../dist/notify/notification.js');
writeFileSync(new URL('../config/notification.schema.json', import.meta.url), `${JSON.stringify(notificationJsonSchema(), null, 2)}\n`);
