#!/usr/bin/env node
// Writes config/resolver.schema.json from the zod schema (run after `npm run build`).
import { writeFileSync } from 'node:fs';
const { configJsonSchema } = await import('../dist/config/schema.js');
writeFileSync(new URL('../config/resolver.schema.json', import.meta.url), `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
