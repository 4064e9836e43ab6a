// Validates Teams Workflows webhook payloads (an envelope around an Adaptive Card) with the
// `adaptivecards` package's own parser. Any parse event or validation event fails the file.
// Usage: node validate-teams.js FILE...
"use strict";
const fs = require("fs");
// The package's ESM entry does not load on Node 20; the UMD bundle does, with no DOM needed.
const AC = require("adaptivecards/dist/adaptivecards.js");

function problems(envelope) {
  const out = [];
  if (envelope.type !== "message") out.push("envelope type is not 'message'");
  const att = envelope.attachments;
  if (!Array.isArray(att) || att.length !== 1) return out.concat("envelope must hold exactly one attachment");
  if (att[0].contentType !== "application/vnd.microsoft.card.adaptive") out.push("attachment contentType is not an Adaptive Card");
  const content = att[0].content;
  if (!content || content.type !== "AdaptiveCard") return out.concat("attachment content is not an AdaptiveCard");
  if (content.version !== "1.4") out.push(`card version is ${content.version}, expected 1.4`);
  const card = new AC.AdaptiveCard();
  const ctx = new AC.SerializationContext(AC.Versions.v1_4);
  card.parse(content, ctx);
  for (let i = 0; i < ctx.eventCount; i++) {
    const e = ctx.getEventAt(i);
    out.push(`parse: ${e.message}`);
  }
  for (const e of card.validateProperties().validationEvents) {
    out.push(`validate: ${e.message}`);
  }
  const size = Buffer.byteLength(JSON.stringify(envelope), "utf8");
  if (size > 28 * 1024) out.push(`payload is ${size} bytes, over Teams' 28 KB`);
  return out;
}

let failed = 0;
const files = process.argv.slice(2);
for (const f of files) {
  let found;
  try {
    found = problems(JSON.parse(fs.readFileSync(f, "utf8")));
  } catch (e) {
    found = [`unreadable: ${e.message}`];
  }
  if (found.length) {
    failed++;
    console.error(`FAIL ${f}`);
    for (const p of found) console.error(`  ${p}`);
  }
}
console.log(`teams: ${files.length - failed}/${files.length} payloads valid`);
process.exit(failed ? 1 : 0);
