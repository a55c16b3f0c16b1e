// Verifying Tidepool webhook signatures (Node.js 18 or later).
//
// Every webhook request carries a `Tidepool-Signature` header of the form
// `t=<unix seconds>,v1=<hex>`, where v1 is the HMAC-SHA256 of
// `<t>.<raw body>` keyed with the webhook's signing secret. Reject requests
// whose timestamp is more than 300 seconds (5 minutes) away from now: that
// stops an attacker from replaying an old request.

import { createHmac, timingSafeEqual } from "node:crypto";

export const TOLERANCE_SECONDS = 300;

export function parseSignatureHeader(header) {
  const parts = Object.fromEntries(
    header.split(",").map((part) => part.trim().split("=", 2)),
  );
  if (!parts.t || !parts.v1) {
    throw new Error("malformed Tidepool-Signature header");
  }
  return { timestamp: Number(parts.t), signature: parts.v1 };
}

export function verifyWebhook(rawBody, header, secret, now = Date.now() / 1000) {
  const { timestamp, signature } = parseSignatureHeader(header);
  if (Math.abs(now - timestamp) > TOLERANCE_SECONDS) {
    return false;
  }
  const expected = createHmac("sha256", secret)
    .update(`${timestamp}.${rawBody}`)
    .digest("hex");
  const a = Buffer.from(expected, "hex");
  const b = Buffer.from(signature, "hex");
  // Compare in constant time so the check leaks nothing about the secret.
  return a.length === b.length && timingSafeEqual(a, b);
}

export const webhookHandler = async (request, response, secret) => {
  const body = await readBody(request);
  if (!verifyWebhook(body, request.headers["tidepool-signature"] ?? "", secret)) {
    response.statusCode = 400;
    response.end("bad signature");
    return;
  }
  response.statusCode = 204;
  response.end();
};

async function readBody(request) {
  const chunks = [];
  for await (const chunk of request) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}
