// Verify a shopevents webhook (Node.js, no dependencies).
//
//   const { verifyWebhook } = require("./verify-webhook.js");
//   // with Express: app.post("/hooks", express.raw({ type: "application/json" }), (req, res) => {
//   //   if (!verifyWebhook(SECRET, req.get("Shopevents-Signature"), req.body)) return res.sendStatus(400);
//   //   const event = JSON.parse(req.body); ... res.sendStatus(204); });
//
// Use the raw request body (a Buffer, byte for byte as received), not re-serialised JSON.
// Run as a script it checks one saved delivery:
//
//   node verify-webhook.js SECRET "t=...,v1=..." body.json [nowSeconds]

"use strict";

const crypto = require("node:crypto");
const fs = require("node:fs");

const TOLERANCE_SECONDS = 300; // refuse signatures older (or newer) than five minutes

function verifyWebhook(secret, header, rawBody, nowSeconds) {
  let timestamp = null;
  const signatures = [];
  for (const part of String(header || "").split(",")) {
    const i = part.indexOf("=");
    if (i < 0) continue;
    const key = part.slice(0, i).trim();
    const value = part.slice(i + 1).trim();
    if (key === "t" && /^\d+$/.test(value)) timestamp = Number(value);
    else if (key === "v1") signatures.push(value);
  }
  if (timestamp === null || signatures.length === 0) return false;
  const now = nowSeconds === undefined ? Date.now() / 1000 : nowSeconds;
  if (Math.abs(now - timestamp) > TOLERANCE_SECONDS) return false;
  const expected = crypto
    .createHmac("sha256", secret)
    .update(`${timestamp}.`)
    .update(Buffer.isBuffer(rawBody) ? rawBody : Buffer.from(rawBody, "utf8"))
    .digest();
  return signatures.some((sig) => {
    const given = Buffer.from(sig, "hex");
    return given.length === expected.length && crypto.timingSafeEqual(given, expected);
  });
}

module.exports = { verifyWebhook, TOLERANCE_SECONDS };

if (require.main === module) {
  const [secret, header, path, now] = process.argv.slice(2);
  const ok = verifyWebhook(secret, header, fs.readFileSync(path), now === undefined ? undefined : Number(now));
  console.log(ok ? "valid" : "invalid");
  process.exit(ok ? 0 : 1);
}
