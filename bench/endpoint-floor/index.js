// The endpoint benchmark's floor (BENCH_FLOOR=1): the least a Worker can do with runs kept in a
// Durable Object, as Tripline keeps them. The Worker parses the JSON and makes one call to the
// workflow's object, which inserts one row into its SQLite and answers; then 202. With
// `?upstream=URL` the object also makes the run's one outbound call after answering (a JSON
// POST, like an `http` step) and stores its answer in the row. No validation, no schema, no
// run engine, no deduplication, no lease.
import { DurableObject } from "cloudflare:workers";
import { readJson } from "../endpoint-baseline/index.js";

export class Runs extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY, input TEXT NOT NULL, output TEXT, created_at TEXT NOT NULL)",
    );
  }

  async fetch(request) {
    const input = await request.text();
    const id = crypto.randomUUID();
    this.ctx.storage.sql.exec(
      "INSERT INTO runs (id, input, created_at) VALUES (?, ?, ?)",
      id,
      input,
      new Date().toISOString(),
    );
    const upstream = new URL(request.url).searchParams.get("upstream");
    if (upstream) {
      const body = JSON.parse(input);
      // Not awaited: the object stays alive while the call is in flight.
      fetch(`${upstream}/lead`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: body.email, amount: body.amount }),
      })
        .then((r) => r.text())
        .then((output) => this.ctx.storage.sql.exec("UPDATE runs SET output = ? WHERE id = ?", output, id))
        .catch((e) => console.error(`run ${id}: ${e}`));
    }
    return new Response(JSON.stringify({ id }), { headers: { "content-type": "application/json" } });
  }
}

export default {
  async fetch(request, env) {
    const { body, refusal } = await readJson(request);
    if (refusal) return refusal;
    const upstream = new URL(request.url).searchParams.get("upstream");
    const answer = await env.RUNS.getByName("workflow").fetch(
      `https://runs/create${upstream ? `?upstream=${encodeURIComponent(upstream)}` : ""}`,
      { method: "POST", body: JSON.stringify(body) },
    );
    const { id } = await answer.json();
    return new Response(JSON.stringify({ run_id: id }), {
      status: 202,
      headers: { "content-type": "application/json", location: `/runs/${id}` },
    });
  },
};
