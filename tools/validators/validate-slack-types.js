// Type-checks Slack incoming-webhook payloads against @slack/types with the TypeScript compiler:
// each payload becomes a literal typed { text: string; blocks: KnownBlock[] }, so unknown block
// types, unknown keys, wrong text objects and bad enum values are compile errors.
// Usage: node validate-slack-types.js FILE...
"use strict";
const fs = require("fs");
const path = require("path");
const { execFileSync } = require("child_process");

const files = process.argv.slice(2);
const dir = path.join(__dirname, "generated");
fs.rmSync(dir, { recursive: true, force: true });
fs.mkdirSync(dir, { recursive: true });
const lines = [
  'import type { KnownBlock } from "@slack/types";',
  "type WebhookPayload = { text: string; blocks: KnownBlock[] };",
];
files.forEach((f, i) => {
  const json = fs.readFileSync(f, "utf8");
  lines.push(`// ${f}`);
  lines.push(`export const payload${i}: WebhookPayload = ${json};`);
});
fs.writeFileSync(path.join(dir, "payloads.ts"), lines.join("\n") + "\n");
try {
  execFileSync(
    process.execPath,
    [require.resolve("typescript/bin/tsc"), "--noEmit", "--strict", "--skipLibCheck", "--target", "es2020", "--moduleResolution", "node", path.join(dir, "payloads.ts")],
    { stdio: "inherit", cwd: __dirname },
  );
} catch (e) {
  console.error("slack types: the TypeScript check failed (errors above name the payload by line)");
  process.exit(1);
}
console.log(`slack types: ${files.length}/${files.length} payloads type-check`);
