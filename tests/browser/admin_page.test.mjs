// The embedded admin page in headless Chromium: the app and the Shopify stand-in run as the
// built binaries, Shopify's CDN scripts are stubbed (a stub App Bridge hands out session
// tokens this test mints with the app secret), and an admin creates and revokes a SCIM token.
//
// Run after `cargo build`: `npm test` in this folder. SCREENSHOT=path saves the page.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHmac, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

const ROOT = resolve(import.meta.dirname, "../..");
const TARGET = process.env.CARGO_TARGET_DIR || join(ROOT, "target");
const API_KEY = "browser-test-key";
const API_SECRET = "browser-test-secret";
const SHOP = "demo.myshopify.com";
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

const children = [];
let dataDir;
let app;
let standin;
let browser;

function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.on("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

function start(binary, args, env) {
  const child = spawn(join(TARGET, "debug", binary), args, {
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "inherit"],
  });
  children.push(child);
  return child;
}

async function answering(url) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url);
      if (response.status < 500) return;
    } catch (_) {
      // not listening yet
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`${url} did not answer within 30 s`);
}

function base64url(data) {
  return Buffer.from(data).toString("base64url");
}

// An App Bridge session token for the shop's owner, as Shopify admin mints it.
function sessionToken() {
  const now = Math.floor(Date.now() / 1000);
  const header = base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const payload = base64url(
    JSON.stringify({
      iss: `https://${SHOP}/admin`,
      dest: `https://${SHOP}`,
      aud: API_KEY,
      sub: "74857346",
      exp: now + 60,
      nbf: now,
      iat: now,
      jti: randomUUID(),
      sid: randomUUID(),
    }),
  );
  const signature = createHmac("sha256", API_SECRET).update(`${header}.${payload}`).digest();
  return `${header}.${payload}.${base64url(signature)}`;
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "shopify-scim-browser-"));
  const [appPort, standinPort] = [await freePort(), await freePort()];
  app = `http://127.0.0.1:${appPort}`;
  standin = `http://127.0.0.1:${standinPort}`;

  start("shopify-standin", ["--listen", `127.0.0.1:${standinPort}`, "--app-url", app], {
    SHOPIFY_STANDIN_API_KEY: API_KEY,
    SHOPIFY_STANDIN_API_SECRET: API_SECRET,
  });
  start("shopify-scim", ["serve"], {
    DATABASE_URL: `sqlite://${join(dataDir, "app.db")}`,
    SHOPIFY_SCIM_SERVER__LISTEN: `127.0.0.1:${appPort}`,
    SHOPIFY_SCIM_SERVER__PUBLIC_URL: app,
    SHOPIFY_SCIM_SHOPIFY__API_KEY: API_KEY,
    SHOPIFY_SCIM_SHOPIFY__API_SECRET: API_SECRET,
    SHOPIFY_SCIM_SHOPIFY__ADMIN_BASE_URL: `${standin}/shops/{shop}`,
    SHOPIFY_SCIM_SECURITY__TOKEN_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString("base64"),
    SHOPIFY_SCIM_LOG__FILTER: "warn",
  });
  await answering(`${standin}/_standin/shops`);
  await answering(`${app}/healthz`);

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: CHROMIUM_ARGS,
  });
});

after(async () => {
  await browser?.close();
  for (const child of children) child.kill("SIGTERM");
  rmSync(dataDir, { recursive: true, force: true });
});

async function scimStatus(token) {
  const response = await fetch(`${app}/scim/v2/demo/ServiceProviderConfig`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  return response.status;
}

test("an admin creates a SCIM token, copies it once, and revokes it", async () => {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  await context.exposeFunction("mintSessionToken", sessionToken);
  const cdnRequests = [];
  await context.route("https://cdn.shopify.com/**", (route) => {
    const url = route.request().url();
    cdnRequests.push(url);
    const body = url.endsWith("/app-bridge.js")
      ? "window.shopify = { idToken: () => window.mintSessionToken() };"
      : "/* Polaris web components are not loaded in this test */";
    return route.fulfill({ status: 200, contentType: "text/javascript", body });
  });
  const page = await context.newPage();
  const host = Buffer.from("admin.shopify.com/store/demo").toString("base64url");

  const response = await page.goto(
    `${app}/app?embedded=1&shop=${SHOP}&host=${host}&id_token=${sessionToken()}`,
  );

  assert.equal(response.status(), 200);
  assert.equal(
    response.headers()["content-security-policy"],
    `frame-ancestors https://${SHOP} https://admin.shopify.com;`,
  );
  assert.match(await page.textContent("h1"), /SCIM provisioning for demo\.myshopify\.com/);
  assert.equal((await page.textContent("#install-state")).trim(), "Installed");
  assert.equal(await page.textContent("#scim-base-url"), `${app}/scim/v2/demo`);
  assert.ok(cdnRequests.some((url) => url.endsWith("/app-bridge.js")), "App Bridge was loaded");

  await page.fill('input[name="label"]', "Okta production");
  await page.click("#create-token-button");
  await page.waitForSelector("#new-token:not([hidden])");
  const token = (await page.textContent("#new-token-value")).trim();
  assert.match(token, /^shopscim_[0-9a-f]{16}_/);
  const row = page.locator("#tokens tr", { hasText: "Okta production" });
  assert.equal((await row.locator(".status").textContent()).trim(), "active");
  assert.equal(await scimStatus(token), 200);
  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });

  await row.locator("button.revoke").click();
  await page.waitForFunction(
    () => document.querySelector("#tokens tr .status")?.textContent.trim() === "revoked",
  );
  assert.equal(await scimStatus(token), 401);

  await page.reload();
  assert.equal(
    (await page.locator("#tokens tr", { hasText: "Okta production" }).locator(".status").textContent()).trim(),
    "revoked",
    "the revocation is stored, not only shown",
  );
  assert.equal(await page.locator("#tokens").textContent().then((text) => text.includes(token)), false);
  await context.close();
});
