// Baseline for `scripts/bench schedule`: the least a Durable Object can do to fire every second.
// Each object arms its alarm at the next whole second (absolute), and on each alarm records
// `Date.now() - scheduled` in its own SQLite storage and re-arms for the next whole second.
//   GET /start?n=N   starts objects t0…t(N-1)      GET /stop?n=N   clears their alarms
//   GET /results?n=N → {"t0": [[scheduled_ms, fired_ms], …], …}
// What a fire stores is `createTable`/`record`/`results`: the floor (bench/schedule-floor/)
// overrides those three and reuses the rest.
import { DurableObject } from "cloudflare:workers";

const nextSecond = (ms) => (Math.floor(ms / 1000) + 1) * 1000;

export class Ticker extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.createTable();
  }

  createTable() {
    this.ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS fires (scheduled INTEGER NOT NULL, fired INTEGER NOT NULL)",
    );
  }

  /** Stores one fire. */
  record(scheduled, fired) {
    this.ctx.storage.sql.exec("INSERT INTO fires (scheduled, fired) VALUES (?, ?)", scheduled, fired);
  }

  /** Every fire stored: [[scheduled_ms, fired_ms], …]. */
  results() {
    const rows = this.ctx.storage.sql.exec("SELECT scheduled, fired FROM fires ORDER BY scheduled").toArray();
    return rows.map((r) => [r.scheduled, r.fired]);
  }

  async fetch(request) {
    const path = new URL(request.url).pathname;
    if (path === "/start") {
      const at = nextSecond(Date.now());
      await this.ctx.storage.put("next", at);
      await this.ctx.storage.setAlarm(at);
      return new Response("started");
    }
    if (path === "/stop") {
      await this.ctx.storage.deleteAlarm();
      await this.ctx.storage.delete("next");
      return new Response("stopped");
    }
    if (path === "/results") {
      return Response.json(this.results());
    }
    return new Response("not found", { status: 404 });
  }

  async alarm() {
    const fired = Date.now();
    const scheduled = await this.ctx.storage.get("next");
    if (scheduled === undefined) return;
    this.record(scheduled, fired);
    const at = nextSecond(fired);
    await this.ctx.storage.put("next", at);
    await this.ctx.storage.setAlarm(at);
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const n = Number(url.searchParams.get("n") ?? "1");
    const action = url.pathname;
    if (action === "/healthz") return new Response("ok");
    if (!["/start", "/stop", "/results"].includes(action)) return new Response("not found", { status: 404 });
    const out = {};
    await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const name = `t${i}`;
        const stub = env.TICKER.get(env.TICKER.idFromName(name));
        const resp = await stub.fetch(`https://ticker${action}`);
        out[name] = action === "/results" ? await resp.json() : await resp.text();
      }),
    );
    return Response.json(out);
  },
};
